"""`mlqa` command line: a thin layer over mlqa.api. Exit codes: 0 promote / all passed,
1 blocked / not all passed, 2 usage or config error, 3 internal error."""
from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

EXIT_OK, EXIT_BLOCK, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 itself; keep the message short
        self.print_usage(sys.stderr)
        print(f"mlqa: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mlqa", description="Testing and quality gates for production ML.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="run the checks of a config (no gate)")
    r.add_argument("config")
    r.add_argument("--only", action="append", metavar="GLOB", help="run only checks matching GLOB (repeatable)")
    r.add_argument("--out", default="mlqa-out", help="report folder (default mlqa-out/)")
    g = sub.add_parser("gate", help="run every check and apply a stage's policy: promote or block")
    g.add_argument("config")
    g.add_argument("--stage", required=True)
    g.add_argument("--out", default="mlqa-out", help="report folder (default mlqa-out/)")
    c = sub.add_parser("checks", help="the catalogue of checks, their parameters and defaults")
    c.add_argument("--format", choices=("text", "md", "json"), default="text")
    c.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="also list checks of MODULE")
    rep = sub.add_parser("report", help="render a results.json or decision.json")
    rep.add_argument("results")
    rep.add_argument("--format", choices=("md", "html", "junit", "json", "sarif"), default="md")
    rep.add_argument("--out", help="write to this file instead of standard output")
    s = sub.add_parser("serve", help="serve a model over the Open Inference Protocol v2 (reference server)")
    s.add_argument("model", nargs="?", help="model file (.skops, .joblib, .pkl)")
    s.add_argument("--config", help="take the model and its schema from an mlqa.yaml instead")
    s.add_argument("--data", help="training data whose columns define the input schema")
    s.add_argument("--label", help="label column of --data (not an input)")
    s.add_argument("--format", choices=("skops", "joblib", "pickle"))
    s.add_argument("--trusted", action="append", metavar="TYPE", help="type a skops file may load (repeatable)")
    s.add_argument("--name", default="model", help="model name in /v2/models/{name} (default model)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--token-env", metavar="VAR", help="environment variable holding the bearer token")
    s.add_argument("--insecure-no-auth", action="store_true", help="serve without auth (tests only)")
    s.add_argument("--rate-limit", default="100/s", help="per-client limit, e.g. 100/s (default)")
    s.add_argument("--unlimited-token-env", metavar="VAR",
                   help="environment variable holding a second bearer token that is not rate-limited "
                        "(the load generator's, so latency.capacity measures the model, not the quota)")
    s.add_argument("--max-body", default="1MB", help="largest request body (default 1MB)")
    s.add_argument("--latency-buckets", metavar="S,S,...",
                   help="upper bounds in seconds of the /metrics latency histogram's buckets "
                        "(default 0.001,0.0025,...,5: Prometheus' usual ladder)")
    st = sub.add_parser("stack", help="the reference training and serving stack (zones, nodes, GPUs)")
    st_sub = st.add_subparsers(dest="stack_command", parser_class=_Parser, required=True)
    for name, text in (("up", "start it and wait until every replica is healthy"),
                       ("status", "zones, nodes, processes, GPUs and their health"),
                       ("down", "stop it; nothing is left running")):
        sp = st_sub.add_parser(name, help=text)
        sp.add_argument("--state-dir", default=".mlqa-stack", help="where its state, logs and stores live")
        if name == "up":
            sp.add_argument("--topology", help="topology YAML (default: 3 zones x 2 nodes, 2 GPUs per node)")
            sp.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
        if name == "status":
            sp.add_argument("--json", action="store_true", help="machine-readable state")
    i = sub.add_parser("init", help="write a starter mlqa.yaml from a data file and a model path")
    i.add_argument("--data", required=True, help="training data (CSV or Parquet)")
    i.add_argument("--test", help="test data (default: the same folder's test file if any)")
    i.add_argument("--model", required=True, help="model file (.skops, .joblib, .pkl)")
    i.add_argument("--label", help="label column (default: guessed)")
    i.add_argument("--out", default="mlqa.yaml")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    return p


def _run(args: argparse.Namespace, stage: str | None) -> int:
    from . import api
    from ._console import print_table, progress
    from .reports import document, write_all
    from .runner import Runner
    config = api.load_config(args.config)
    if stage:
        config.stage(stage)
    only = getattr(args, "only", None)
    selected = Runner(config).select(only)
    if not selected:
        print(f"mlqa: error: no check matches {only}; see `checks:` in {config.path}", file=sys.stderr)
        return EXIT_USAGE
    with progress(len(selected)) as advance:
        outcome = api.execute(config, stage=stage, only=only,
                              on_result=lambda inst, res: advance(f"{inst.key}: {res.status}"))
    files = write_all(Path(args.out), outcome)
    doc = document(outcome)
    print_table(doc)
    print("reports: " + ", ".join(str(p) for p in files.values()), file=sys.stderr)
    if outcome.decision is not None:
        return EXIT_OK if outcome.decision.promoted else EXIT_BLOCK
    return EXIT_OK if not doc["reasons"] else EXIT_BLOCK


def _checks(args: argparse.Namespace) -> int:
    from .catalogue import render_catalogue
    from .registry import Registry
    sys.path.insert(0, str(Path.cwd()))
    print(render_catalogue(Registry.discover(args.plugin), args.format), end="")
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from .reports import load_document, render
    text = render(load_document(Path(args.results)), args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from .scaffold import write_starter
    path = write_starter(Path(args.data), Path(args.model), label=args.label, out=Path(args.out),
                         test=Path(args.test) if args.test else None, force=args.force)
    print(f"wrote {path}; try: mlqa gate {path} --stage staging", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"mlqa {__version__}")
        return EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    from .errors import MlqaError
    try:
        if args.command == "run":
            return _run(args, None)
        if args.command == "gate":
            return _run(args, args.stage)
        if args.command == "checks":
            return _checks(args)
        if args.command == "report":
            return _report(args)
        if args.command == "serve":
            from .serve._main import main as serve_main
            return serve_main(args)
        if args.command == "stack":
            from .stack._cli import main as stack_main
            return stack_main(args)
        return _init(args)
    except MlqaError as exc:
        print(f"mlqa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mlqa: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - an internal error of mlqa itself
        traceback.print_exc()
        print("mlqa: internal error (exit 3): this is a bug in mlqa; please report it with the "
              "traceback above", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
