"""`mlqa serve`: the reference model server (the serving replica of the reference stack)."""
from ._app import RateLimiter, ServeConfig, build_app, serve
from ._cli import add_parser
from ._schema import InputColumn, RequestError, Schema

__all__ = ["InputColumn", "RateLimiter", "RequestError", "Schema", "ServeConfig", "add_parser", "build_app",
           "serve"]

