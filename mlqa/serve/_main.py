"""`mlqa serve MODEL`: check the flags, load a model (scanned, as everywhere), derive its
schema, serve it."""
from __future__ import annotations

import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import MlqaError
from ..units import parse_size
from ._limits import Limit, ServerLimits, parse_limit, parse_seconds

#: the largest request body `--max-body` may allow
MAX_BODY_LIMIT = 1 << 30
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class _Flags:
    """The startup flags that are numbers and limits, checked before anything is loaded."""

    port: int
    rate: Limit
    auth_failures: Limit
    max_body: int
    limits: ServerLimits
    latency_buckets: tuple[float, ...] | None


def check_flags(args) -> _Flags:  # noqa: ANN001 - argparse namespace
    """Every flag of `mlqa serve` that has a range, checked at once: a MlqaError (exit 2)
    naming the flag, what it got and what it takes — never a server that 500s every request."""
    port = _whole(args.port, "--port", 1, 65535)
    if not _NAME.fullmatch(args.name or ""):
        raise MlqaError(f"--name {args.name!r}: the model's name in /v2/models/NAME is 1-128 letters, digits, "
                        "'.', '_' or '-' (starting with a letter or digit)")
    if not (args.host or "").strip():
        raise MlqaError("--host is empty: give an address to listen on, e.g. 127.0.0.1")
    try:
        max_body = parse_size(args.max_body)
    except MlqaError as exc:
        raise MlqaError(f"--max-body: {exc}") from None
    if not 1 <= max_body <= MAX_BODY_LIMIT:
        raise MlqaError(f"--max-body {args.max_body!r} must be from 1 byte to 1GiB")
    limits = ServerLimits(header_timeout_s=parse_seconds(args.header_timeout, "--header-timeout"),
                          body_timeout_s=parse_seconds(args.body_timeout, "--body-timeout"),
                          keep_alive_s=parse_seconds(args.keep_alive, "--keep-alive"),
                          max_connections=_whole(args.max_connections, "--max-connections", 1, 1_000_000))
    return _Flags(port=port, rate=parse_limit(args.rate_limit, "--rate-limit"),
                  auth_failures=parse_limit(args.auth_failure_limit, "--auth-failure-limit"),
                  max_body=max_body, limits=limits,
                  latency_buckets=_buckets(args.latency_buckets) if args.latency_buckets else None)


def _whole(text, flag: str, low: int, high: int) -> int:  # noqa: ANN001
    value = str(text).strip()
    if not value.isascii() or not value.isdigit() or len(value) > 9 or not low <= int(value) <= high:
        raise MlqaError(f"{flag} {str(text)[:40]!r} must be a whole number from {low} to {high}")
    return int(value)


def main(args) -> int:  # noqa: ANN001 - argparse namespace
    flags = check_flags(args)
    from ..subjects import load_model
    from ..tables import read_frame
    from ._app import ServeConfig, build_app, serve
    from ._schema import Schema
    schema = None
    if args.config:
        from ..config import load_config
        from ..context import build_context
        config = load_config(args.config)
        ctx = build_context(config)
        if ctx.model is None:
            raise MlqaError(f"{args.config}: no loadable model: {ctx.subject_errors.get('model', 'declare `model:`')}")
        model, data = ctx.model, ctx.train or ctx.test
        if data is not None:
            schema = Schema.from_frame(data.X)
    else:
        if not args.model:
            raise MlqaError("pass a model file (mlqa serve model.skops) or --config mlqa.yaml")
        model = load_model(Path(args.model), args.format, tuple(args.trusted or ()))
        if args.data:
            frame = read_frame(Path(args.data))
            if args.label and args.label not in frame.columns:
                raise MlqaError(f"--label {args.label} is not a column of {args.data}")
            schema = Schema.from_frame(frame, args.label)
    schema = schema or Schema.from_model(model.obj)
    if schema is None:
        raise MlqaError("cannot tell the model's inputs: pass --data TRAIN.csv --label COL")
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            raise MlqaError(f"environment variable {args.token_env} is empty or unset")
    elif not args.insecure_no_auth:
        raise MlqaError("refusing to serve without auth: pass --token-env VAR (the variable holding the "
                        "bearer token) or, for tests only, --insecure-no-auth")
    extra = {"latency_buckets": flags.latency_buckets} if flags.latency_buckets else {}
    if args.unlimited_token_env:
        unlimited = os.environ.get(args.unlimited_token_env)
        if not unlimited or not token:
            raise MlqaError(f"--unlimited-token-env {args.unlimited_token_env}: the variable must be set, "
                            "and --token-env given too")
        extra["unlimited_token"] = unlimited
    for secret in (token, extra.get("unlimited_token")):
        if secret is not None and (secret != secret.strip() or any(c.isspace() for c in secret)):
            raise MlqaError("a bearer token cannot hold whitespace: check the variable's value")
    app = build_app(model, schema, ServeConfig(name=args.name, token=token, allow_no_auth=args.insecure_no_auth,
                                               rate_per_s=flags.rate.rate, rate_burst=flags.rate.burst,
                                               failed_auth_per_s=flags.auth_failures.rate,
                                               failed_auth_burst=flags.auth_failures.burst,
                                               max_body_bytes=flags.max_body, limits=flags.limits, **extra))
    print(f"mlqa serve: {args.name} on http://{args.host}:{flags.port} (Open Inference Protocol v2; "
          f"{'bearer token from ' + args.token_env if token else 'NO AUTH'})", file=sys.stderr, flush=True)
    serve(app, host=args.host, port=flags.port, limits=flags.limits)
    return 0


def _buckets(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise MlqaError(f"--latency-buckets {text[:40]!r}: give seconds separated by commas, "
                        "e.g. 0.005,0.01,0.05") from None
    if (not values or not all(math.isfinite(v) for v in values) or values[0] <= 0
            or any(b <= a for a, b in zip(values, values[1:]))):
        raise MlqaError("--latency-buckets must be finite, positive and increasing")
    return values
