"""`mlqa` command line: a thin client of `mlqa.Session` (run, gate) and of the packages
that bring their own sub-commands (serve, stack, chaos). Exit codes: 0 promote / all passed,
1 blocked / not all passed, 2 usage or config error, 3 internal error."""
from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

EXIT_OK, EXIT_BLOCK, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141          # 128 + SIGPIPE


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 itself; keep the message short
        self.print_usage(sys.stderr)
        print(f"mlqa: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The `mlqa` command line: the core commands here, `serve` and `stack` from their
    packages (each adds its own sub-parser)."""
    from .chaos import add_parser as add_chaos
    from .serve import add_parser as add_serve
    from .stack import add_parser as add_stack
    p = _Parser(prog="mlqa", description="Testing and quality gates for production ML.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    r = sub.add_parser("run", help="run the checks of a config (no gate)")
    r.add_argument("config")
    r.add_argument("--only", action="append", metavar="GLOB", help="run only checks matching GLOB (repeatable)")
    r.add_argument("--out", default="mlqa-out", help="report folder (default mlqa-out/)")
    r.set_defaults(handler=lambda args: _run(args, None))
    g = sub.add_parser("gate", help="run every check and apply a stage's policy: promote or block")
    g.add_argument("config")
    g.add_argument("--stage", required=True)
    g.add_argument("--out", default="mlqa-out", help="report folder (default mlqa-out/)")
    g.set_defaults(handler=lambda args: _run(args, args.stage))
    c = sub.add_parser("checks", help="the catalogue of checks, their parameters and defaults")
    c.add_argument("--format", choices=("text", "md", "json"), default="text")
    c.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="also list checks of MODULE")
    c.set_defaults(handler=_checks)
    v = sub.add_parser("validate", help="check a config without running anything (exit 0 valid, 2 invalid)")
    v.add_argument("config")
    v.set_defaults(handler=_validate)
    sch = sub.add_parser("schema", help="the JSON Schema of mlqa.yaml (for editors), with the checks installed here")
    sch.add_argument("--plugin", action="append", default=[], metavar="MODULE", help="also its checks")
    sch.add_argument("--path", action="store_true", help="print the path of the schema shipped with mlqa")
    sch.set_defaults(handler=_schema)
    rep = sub.add_parser("report", help="render a results.json or decision.json")
    rep.add_argument("results")
    rep.add_argument("--format", choices=("md", "html", "junit", "json", "sarif"), default="md")
    rep.add_argument("--out", help="write to this file instead of standard output")
    rep.set_defaults(handler=_report)
    add_serve(sub)
    add_stack(sub)
    add_chaos(sub)
    i = sub.add_parser("init", help="write a starter mlqa.yaml from a data file and a model path")
    i.add_argument("--data", required=True, help="training data (CSV or Parquet; a headerless or other "
                                                 "delimited text file, as UCI's .data, is converted to CSV)")
    i.add_argument("--test", help="test data (default: a test file beside the training data: X.test beside "
                                  "X.data, test.csv beside train.csv, X_test.csv beside X.csv)")
    i.add_argument("--model", required=True, help="model file (.skops, .joblib, .pkl)")
    i.add_argument("--label", help="label column (default: guessed)")
    i.add_argument("--out", default="mlqa.yaml")
    i.add_argument("--force", action="store_true", help="overwrite an existing file")
    i.set_defaults(handler=_init)
    return p


def _run(args: argparse.Namespace, stage: str | None) -> int:
    """`mlqa run` / `mlqa gate`: a session over the config, a progress bar, the reports."""
    from .console import print_table, progress
    from .reports import document
    from .session import Session
    session = Session(args.config, stage)
    only = getattr(args, "only", None)
    selected = session.select(only)
    if not selected:
        if not session.config.checks:
            raise session.config.no_checks_error()
        print(f"mlqa: error: no check matches {only}; see `checks:` in {session.config.path}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with _terminated_cancels(), progress(len(selected)) as shown:  # on stderr: stdout stays clean
            session.run_all(only, on_start=lambda inst: shown.start(inst.key),
                            on_result=lambda inst, res: shown.done(inst.key, res.status, res.duration_s))
    except SystemExit as exc:  # user code (a model factory, a plugin) called exit(): nothing is decided
        print(f"mlqa: error: something called exit({exc.code!r}) during the run; no decision was made "
              f"(exit 3, never a promotion)", file=sys.stderr)
        return EXIT_INTERNAL
    outcome = session.finish(Path(args.out))
    print_table(document(outcome), title=f"mlqa gate (stage {stage})" if stage else "mlqa run")
    print("reports: " + ", ".join(str(p) for p in outcome.files.values()), file=sys.stderr)
    return EXIT_OK if outcome.verdict.promoted else EXIT_BLOCK


class Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled, `timeout`): handled like Ctrl-C — the running check is
    asked to stop and rolls back — then mlqa exits 143."""


@contextlib.contextmanager
def _terminated_cancels() -> Iterator[None]:
    def handler(signum: int, frame: object) -> None:
        raise Terminated()
    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (mlqa.cli.main called from a thread): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _checks(args: argparse.Namespace) -> int:
    from .catalogue import render_catalogue
    from .registry import Registry
    sys.path.insert(0, str(Path.cwd()))
    print(render_catalogue(Registry.discover(args.plugin), args.format), end="")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from .config import load_config, summary
    print(f"mlqa: {summary(load_config(args.config))}", file=sys.stderr)  # invalid: raises, exit 2
    return EXIT_OK


def _schema(args: argparse.Namespace) -> int:
    from .registry import Registry
    from .schema import config_schema, render, shipped_path
    if args.path:
        print(shipped_path())
        return EXIT_OK
    sys.path.insert(0, str(Path.cwd()))
    sys.stdout.write(render(config_schema(Registry.discover(args.plugin))))
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
    starter = write_starter(Path(args.data), Path(args.model), label=args.label, out=Path(args.out),
                            test=Path(args.test) if args.test else None, force=args.force)
    for note in starter.notes:
        print(f"mlqa: {note}", file=sys.stderr)
    print(f"wrote {starter.path}; try: mlqa gate {starter.path} --stage staging", file=sys.stderr)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()          # a reader gone away shows here, not as a traceback at exit
        return code
    except BrokenPipeError:
        return _broken_pipe()


def _broken_pipe() -> int:
    """stdout's reader went away (`mlqa stack status | head -5`): end quietly, as a shell
    tool killed by SIGPIPE does (141, never 0: a gate's block must not read as a promote).
    stdout is pointed at /dev/null, so the interpreter's last flush does not fail again."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return EXIT_BROKEN_PIPE


def _main(argv: list[str] | None) -> int:
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
        with _terminated_cancels():  # SIGTERM: like Ctrl-C, what runs rolls back first
            return args.handler(args)
    except MlqaError as exc:
        print(f"mlqa: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        print("mlqa: terminated" if isinstance(exc, Terminated) else "mlqa: interrupted", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except BrokenPipeError:
        raise                       # see main: not an internal error
    except Exception:  # noqa: BLE001 - an internal error of mlqa itself
        traceback.print_exc()
        print("mlqa: internal error (exit 3): this is a bug in mlqa; please report it with the "
              "traceback above", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
