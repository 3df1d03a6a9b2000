"""Run a stack component on a lease: it dies with the process that started it (the
supervisor, or a node's training agent), even when that process is SIGKILLed.

    python -m mlqa.stack._lease MODULE [ARGS...]      # runs MODULE as __main__
    python -m mlqa.stack._lease -c CODE [ARGS...]

The lease is armed before the component's own code runs (`mlqa.procs.die_with_parent`:
Linux's parent-death signal, and a watch on the parent everywhere), so no component of a
stack outlives its supervisor.
"""
from __future__ import annotations

import runpy
import sys

from ..procs import die_with_parent


def main() -> None:
    args = sys.argv[1:]
    if not args:
        raise SystemExit("usage: python -m mlqa.stack._lease MODULE|-c CODE [ARGS...]")
    die_with_parent()        # the parent named in PARENT_ENV; our children get our pid there
    if args[0] == "-c":
        if len(args) < 2:
            raise SystemExit("usage: python -m mlqa.stack._lease -c CODE [ARGS...]")
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - our own command
        return
    sys.argv = [args[0], *args[1:]]
    runpy.run_module(args[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
