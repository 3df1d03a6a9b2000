"""`mlqa serve MODEL`: load a model (scanned, as everywhere), derive its schema, serve it."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from ..errors import MlqaError


def parse_rate(text: str) -> float:
    """`100/s`, `6000/min` or a bare number per second."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*", text)
    if not m:
        raise MlqaError(f"rate limit {text!r} is not like `100/s` or `6000/min`")
    value = float(m.group(1))
    return value / 60 if (m.group(2) or "s").startswith("m") else value


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*(b|kb|mb|kib|mib)?\s*", text.lower())
    if not m:
        raise MlqaError(f"size {text!r} is not like `1MB` or `512KB`")
    return int(m.group(1)) * {"b": 1, None: 1, "kb": 1000, "mb": 1_000_000, "kib": 1024, "mib": 1 << 20}[m.group(2)]


def main(args) -> int:  # noqa: ANN001 - argparse namespace
    from ..subjects import Model, read_frame
    from ._app import ServeConfig, build_app
    from ._schema import Schema
    from . import serve
    schema = None
    if args.config:
        from ..config import load_config
        from ..subjects import build_context
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
        from .._model_loading import load_model_file
        model = Model(load_model_file(Path(args.model), args.format, tuple(args.trusted or ())))
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
    app = build_app(model, schema, ServeConfig(name=args.name, token=token, allow_no_auth=args.insecure_no_auth,
                                               rate_per_s=parse_rate(args.rate_limit),
                                               max_body_bytes=parse_size(args.max_body)))
    print(f"mlqa serve: {args.name} on http://{args.host}:{args.port} (Open Inference Protocol v2; "
          f"{'bearer token from ' + args.token_env if token else 'NO AUTH'})", file=sys.stderr, flush=True)
    serve(app, host=args.host, port=args.port)
    return 0
