"""`mlqa serve`: the reference model server (the serving replica of the reference stack)."""
from ._app import ServeConfig, build_app, json_error, json_error_handlers, serve
from ._cli import add_parser
from ._limits import (BodyTimeout, Gatekeeper, Limit, RateLimiter, ServerLimits, body_deadline, parse_limit,
                      parse_seconds, run_server, server_config)
from ._schema import InputColumn, RequestError, Schema, parse_json

__all__ = ["BodyTimeout", "Gatekeeper", "InputColumn", "Limit", "RateLimiter", "RequestError", "Schema",
           "ServeConfig", "ServerLimits", "add_parser", "body_deadline", "build_app", "json_error",
           "json_error_handlers", "parse_json", "parse_limit",
           "parse_seconds", "run_server", "serve", "server_config"]
