"""`mlqa serve`'s command line: the parser `mlqa.cli` mounts, and its handler."""
from __future__ import annotations

import argparse


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add `serve` to the `mlqa` command line."""
    s = subparsers.add_parser("serve", help="serve a model over the Open Inference Protocol v2 (reference server)")
    s.add_argument("model", nargs="?", help="model file (.skops, .joblib, .pkl)")
    s.add_argument("--config", help="take the model and its schema from an mlqa.yaml instead")
    s.add_argument("--data", help="training data whose columns define the input schema")
    s.add_argument("--label", help="label column of --data (not an input)")
    s.add_argument("--format", choices=("skops", "joblib", "pickle"))
    s.add_argument("--trusted", action="append", metavar="TYPE", help="type a skops file may load (repeatable)")
    s.add_argument("--name", default="model", help="model name in /v2/models/{name} (default model)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", default="8080", help="TCP port, 1-65535 (default 8080)")
    s.add_argument("--token-env", metavar="VAR", help="environment variable holding the bearer token")
    s.add_argument("--insecure-no-auth", action="store_true", help="serve without auth (tests only)")
    s.add_argument("--rate-limit", default="100/s",
                   help="limit per authenticated principal (per client address without auth): N/s, N/min or "
                        "N/h, a burst of N (default 100/s)")
    s.add_argument("--auth-failure-limit", default="30/min",
                   help="failed authentications per client address before it is answered 429 without its "
                        "token being looked at (default 30/min: a burst of 30, then one every 2 s)")
    s.add_argument("--header-timeout", default="10s",
                   help="a connection whose request headers are not complete within this is closed (default 10s)")
    s.add_argument("--body-timeout", default="30s",
                   help="a request whose body is not complete within this is answered 408 (default 30s)")
    s.add_argument("--keep-alive", default="5s", help="an idle keep-alive connection is closed after this (default 5s)")
    s.add_argument("--max-connections", default="1000",
                   help="connections served at once; past it a request is answered 503 (default 1000)")
    s.add_argument("--unlimited-token-env", metavar="VAR",
                   help="environment variable holding a second bearer token that is not rate-limited "
                        "(the load generator's, so latency.capacity measures the model, not the quota)")
    s.add_argument("--max-body", default="1MB", help="largest request body (default 1MB)")
    s.add_argument("--latency-buckets", metavar="S,S,...",
                   help="upper bounds in seconds of the /metrics latency histogram's buckets "
                        "(default 0.001,0.0025,...,5: Prometheus' usual ladder)")
    s.set_defaults(handler=_handle)
    return s


def _handle(args: argparse.Namespace) -> int:
    from ._main import main
    return main(args)
