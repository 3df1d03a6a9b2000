"""`mlqa serve MODEL`: load a model (scanned, as everywhere), derive its schema, serve it."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..units import parse_rate, parse_size
from ..errors import MlqaError


def main(args) -> int:  # noqa: ANN001 - argparse namespace
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
    extra = {"latency_buckets": _buckets(args.latency_buckets)} if args.latency_buckets else {}
    if args.unlimited_token_env:
        unlimited = os.environ.get(args.unlimited_token_env)
        if not unlimited or not token:
            raise MlqaError(f"--unlimited-token-env {args.unlimited_token_env}: the variable must be set, "
                            "and --token-env given too")
        extra["unlimited_token"] = unlimited
    app = build_app(model, schema, ServeConfig(name=args.name, token=token, allow_no_auth=args.insecure_no_auth,
                                               rate_per_s=parse_rate(args.rate_limit),
                                               max_body_bytes=parse_size(args.max_body), **extra))
    print(f"mlqa serve: {args.name} on http://{args.host}:{args.port} (Open Inference Protocol v2; "
          f"{'bearer token from ' + args.token_env if token else 'NO AUTH'})", file=sys.stderr, flush=True)
    serve(app, host=args.host, port=args.port)
    return 0


def _buckets(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise MlqaError(f"--latency-buckets {text[:40]!r}: give seconds separated by commas, "
                        "e.g. 0.005,0.01,0.05") from None
    if not values or any(b <= a for a, b in zip(values, values[1:])) or values[0] <= 0:
        raise MlqaError("--latency-buckets must be positive and increasing")
    return values
