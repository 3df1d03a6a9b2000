"""`mlqa chaos run | validate | list | recover`: the parser `mlqa.cli` mounts, and its
handlers. `run` records each experiment's result in one session (no config needed), writes
the usual reports, and exits 0 when every verdict holds, 1 otherwise, 2 for a file or plan
that is wrong (file:line), 130/143 after Ctrl-C/SIGTERM (mlqa.cli turns SIGTERM into an
interrupt) — with every fault rolled back first."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_BLOCK, EXIT_USAGE = 0, 1, 2


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    ch = subparsers.add_parser("chaos", help="chaos experiments: faults on purpose, steady-state probes, verdicts")
    sub = ch.add_subparsers(dest="chaos_command", parser_class=type(ch), required=True)
    r = sub.add_parser("run", help="run experiments and judge them (exit 0: every verdict holds)")
    r.add_argument("files", nargs="+", metavar="FILE")
    r.add_argument("--out", default="mlqa-out", help="report folder (default mlqa-out/)")
    r.add_argument("--dry-run", action="store_true", help="print the plan, resolved against the target; inject nothing")
    r.add_argument("--attach", metavar="STATE_DIR", help="use the stack running in STATE_DIR instead of the target")
    r.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON")
    v = sub.add_parser("validate", help="check experiment files (exit 2 with file:line on the first error)")
    v.add_argument("files", nargs="+", metavar="FILE")
    li = sub.add_parser("list", help="the faults, probes and figures an experiment may name")
    li.add_argument("--format", choices=("text", "json"), default="text")
    rc = sub.add_parser("recover", help="revert whatever a dead runner left active (from the journals)")
    rc.add_argument("--state-dir", help="journals and locks folder (default $MLQA_STATE_DIR or ~/.local/state/mlqa)")
    ch.set_defaults(handler=main)
    return ch


def main(args: argparse.Namespace) -> int:
    return {"run": _run, "validate": _validate, "list": _list, "recover": _recover}[args.chaos_command](args)


def _validate(args: argparse.Namespace) -> int:
    from ._spec import load_experiment
    for f in args.files:
        exp = load_experiment(f)      # a ConfigError is exit 2 with file:line (mlqa.cli)
        print(f"{f}: ok — chaos.experiment[{exp.name}]: {len(exp.method)} fault(s), "
              f"{len(exp.steady_state)} probe(s), {len(exp.verdict)} threshold(s)")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from ._catalogue import FAULTS, FIGURES, LIVE, PROBES
    if args.format == "json":
        print(json.dumps({"faults": {k: {"select": list(f.select), "reverse": f.reverse, "doc": f.doc,
                                         "params": [vars(p) for p in f.params]} for k, f in FAULTS.items()},
                          "probes": {k: {"doc": p.doc, "params": [vars(x) for x in p.params]}
                                     for k, p in PROBES.items()},
                          "figures": {k: {"unit": f.unit, "probe": f.probe, "doc": f.doc} for k, f in FIGURES.items()},
                          "stop_condition_measurements": {k: {"unit": u, "probe": p} for k, (u, p) in LIVE.items()}},
                         indent=1, default=str))
        return EXIT_OK
    print(render_catalogue())
    return EXIT_OK


def render_catalogue() -> str:
    from ._catalogue import FAULTS, FIGURES, LIVE, PROBES
    out = ["FAULTS (method:)"]
    for f in FAULTS.values():
        out.append(f"  {f.name:<18} select: {', '.join(f.select)}")
        out.append(f"  {'':<18} {f.doc}; reverse: {f.reverse}")
        out += _param_lines(f.params, 18)
    out += ["", "PROBES (steady_state:)"]
    for pk in PROBES.values():
        out.append(f"  {pk.name:<12} {pk.doc}")
        out += _param_lines(pk.params, 12)
    out += ["", "FIGURES (verdict:, e.g. `availability >= 99.9%`)"]
    for fig in FIGURES.values():
        out.append(f"  {fig.name:<22} [{fig.unit}{', ' + fig.probe + ' probe' if fig.probe else ''}] {fig.doc}")
    out += ["", "STOP CONDITIONS (stop_conditions:, e.g. `success_rate < 90% for 5s`)",
            "  " + ", ".join(f"{k} [{u}]" for k, (u, _) in LIVE.items())]
    return "\n".join(out)


def _param_lines(params: tuple, indent: int) -> list[str]:
    return [f"  {'':<{indent}} {p.name} ({p.kind}{', required' if p.required else f', default {p.default}'}): {p.doc}"
            for p in params]


def _recover(args: argparse.Namespace) -> int:
    from ._api import recover
    report = recover(args.state_dir)
    if not report:
        print("mlqa chaos: no interrupted run to recover", file=sys.stderr)
        return EXIT_OK
    bad = False
    for item in report:
        line = f"{item['run_id']} ({item.get('experiment')}): "
        line += f"reverted {', '.join(item['reverted'])}" if item["reverted"] else "nothing to revert"
        if item.get("gone"):
            line += f"; gone with its target: {', '.join(item['gone'])}"
        if item.get("note"):
            line += f" — {item['note']}"
        if item["failed"]:
            bad = True
            line += f"; FAILED: {item['failed']}"
        if item.get("active_faults"):
            bad = True
            line += f"; still active: {item['active_faults']}"
        print(line)
    return EXIT_BLOCK if bad else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from ._api import plan_experiment, result_id
    from ._spec import load_experiment
    experiments = [load_experiment(f) for f in args.files]       # every file valid before anything runs
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        from ..errors import MlqaError
        raise MlqaError(f"two experiments are named the same ({', '.join(names)}): give each its own `name:`")
    if args.dry_run:
        plans = [plan_experiment(e, attach=args.attach) for e in experiments]
        print(json.dumps(plans, indent=1, default=str) if args.json else "\n\n".join(map(render_plan, plans)))
        return EXIT_OK
    from ..console import print_table
    from ..reports import document
    from ..session import Session
    session = Session(None)
    config_errors: list[Exception] = []
    for exp in experiments:   # SIGTERM arrives as KeyboardInterrupt (mlqa.cli): rolled back, then 143
        print(f"mlqa chaos: {exp.name} — {exp.claim or exp.title}", file=sys.stderr)
        result = _guarded(exp, args, config_errors)
        print(f"mlqa chaos: {result_id(exp)}: {result.status} — {result.message}", file=sys.stderr)
        session.record(result, recorded_by="mlqa chaos run")
        if config_errors:
            raise config_errors[0]
    outcome = session.finish(Path(args.out))
    print_table(document(outcome))
    print("reports: " + ", ".join(str(p) for p in outcome.files.values()), file=sys.stderr)
    return EXIT_OK if outcome.verdict.promoted else EXIT_BLOCK


def _guarded(exp: Any, args: argparse.Namespace, config_errors: list) -> Any:
    """The experiment under a check's deadline (run_check): Ctrl-C/SIGTERM cancel it and it
    rolls back within the grace period. A ConfigError (a selector that matches nothing in
    the live target) or a ChaosError (the target is held by another runner) is kept to
    exit 2."""
    from ..errors import MlqaError
    from ..registry import CheckSpec
    from ..results import CheckResult
    from ..session import run_check
    from ._api import result_id, run_experiment

    def body(ctx: Any) -> CheckResult:
        try:
            return run_experiment(exp, out=args.out, deadline=ctx.deadline, attach=args.attach)
        except MlqaError as exc:   # a plan that cannot apply, a target another runner holds
            config_errors.append(exc)
            return CheckResult(status="error", message=str(exc))
    spec = CheckSpec(id="chaos.experiment", func=body, params=(), requires=(), summary="", doc="", timeout=1800.0)
    from ..context import CheckContext
    from ._catalogue import ROLLBACK_GRACE_S
    return run_check(spec, CheckContext(), {}, key=result_id(exp), grace_s=ROLLBACK_GRACE_S)


def render_plan(plan: dict) -> str:
    lines = [f"{plan['experiment']} ({plan['file']})", f"  target: {plan['target']}"]
    if plan.get("claim"):
        lines.append(f"  claim: {plan['claim']}")
    lines.append("  steady state: " + ", ".join(f"{p['probe']}" + (f" {p.get('rate')}/s" if p["probe"] == "load" else "")
                                                for p in plan["steady_state"]))
    for f in plan["faults"]:
        extra = ", ".join(f"{k}={v}" for k, v in f.items()
                          if k not in ("fault", "targets", "line", "at", "duration_s", "reverse"))
        lines.append(f"  at {f['at']:>8}  {f['fault']:<18} on {', '.join(f['targets'])} for {f['duration_s']:g}s"
                     + (f" ({extra})" if extra else "") + f"; then {f['reverse']}")
    if plan["stop_conditions"]:
        lines.append("  stop when: " + "; ".join(plan["stop_conditions"]))
    lines.append("  verdict: " + "; ".join(plan["verdict"]))
    lines.append("  (dry run: nothing injected)")
    return "\n".join(lines)
