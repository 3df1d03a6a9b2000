"""`mlqa stack up | status | down`: the parser `mlqa.cli` mounts, and its handler."""
from __future__ import annotations

import argparse
import json
import sys
import time

from ._control import Stack, StackError, down, up
from ._lifecycle import inspect_stack


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add `stack` and its sub-commands to the `mlqa` command line."""
    st = subparsers.add_parser("stack", help="the reference training and serving stack (zones, nodes, GPUs)")
    st_sub = st.add_subparsers(dest="stack_command", parser_class=type(st), required=True)
    for name, text in (("up", "start it and wait until every replica is healthy"),
                       ("status", "zones, nodes, processes, GPUs, their health and the faults active now"),
                       ("down", "stop it; nothing is left running")):
        sp = st_sub.add_parser(name, help=text)
        sp.add_argument("--state-dir", default=".mlqa-stack", help="where its state, logs and stores live")
        if name == "up":
            sp.add_argument("--topology", help="topology YAML (default: 3 zones x 2 nodes, 2 GPUs per node)")
            sp.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for readiness")
        if name == "status":
            sp.add_argument("--json", action="store_true", help="machine-readable state")
    st.set_defaults(handler=main)
    return st


def main(args: argparse.Namespace) -> int:
    if args.stack_command == "up":
        started = time.monotonic()
        stack = up(args.topology, args.state_dir, timeout=args.timeout)
        print(f"mlqa stack: ready in {time.monotonic() - started:.1f}s — gateway {stack.gateway_url}; "
              f"export MLQA_STACK_TOKEN=$(cat {stack.state_dir / 'token'})", file=sys.stderr)
        print(render(stack.state()))
        return 0
    if args.stack_command == "down":
        before = inspect_stack(args.state_dir)
        killed = down(args.state_dir)
        if before.running:
            said = f"down{f' (killed {len(killed)} leftover processes)' if killed else ''}"
        elif killed:
            said = f"down: its supervisor was already gone; killed {len(killed)} leftover processes"
        else:
            said = "nothing to stop" + (f" (removed a stale pid file: pid {before.stale_pid} is not this stack's "
                                        "supervisor, and was not signalled)" if before.stale_pid else "")
        print(f"mlqa stack: {said}", file=sys.stderr)
        return 0
    status = inspect_stack(args.state_dir)
    try:
        if not status.running:
            raise StackError(status.describe())
        state = Stack.attach(args.state_dir).state()
    except StackError as exc:
        said = str(exc) if not status.running else f"supervisor pid {status.supervisor.pid} runs, but {exc}"
        if args.json:
            print(json.dumps({"running": False, "half_dead": status.half_dead, "leftover_pids": list(status.leftovers),
                              "error": said}))
        else:
            print(f"mlqa stack: {said}", file=sys.stderr)
        return 1
    print(json.dumps(state, indent=1, default=str) if args.json else render(state))
    return 0


def render(state: dict) -> str:
    """The status table: zones, nodes, their processes and GPUs, the gateway, training, and
    the faults active now (`faults: none` when the stack is whole)."""
    gw = state["gateway"]
    lines = [f"gateway  {gw['url']}  pid {gw['pid']}  {'up' if gw['alive'] else 'DOWN'}  healthy replicas: "
             + ", ".join(f"{z} {n}" for z, n in gw["healthy_by_zone"].items()),
             f"token    ${state['token_env']} (file {state['token_file']})", "",
             f"{'zone':<10} {'node':<16} {'status':<8} {'pids':<22} {'replicas':<14} gpus"]
    for n in state["nodes"]:
        reps = " ".join(f":{r['port']}{'+' if r['healthy'] else '-'}" for r in n["replicas"]) or "-"
        gpus = " ".join(f"{g['index']}:{'ok' if g['healthy'] else 'XID' + str(g['xid'])}" for g in n["gpus"]) or "-"
        pids = ",".join(map(str, n["pids"][:4])) + ("…" if len(n["pids"]) > 4 else "")
        lines.append(f"{n['zone']:<10} {n['name']:<16} {n['status']:<8} {pids or '-':<22} {reps:<14} {gpus}")
    t = state["training"]
    p = t.get("progress") or {}
    lines += ["", f"training {t['status']}" + (f"  step {p.get('step')}/{t.get('steps')}  loss {p.get('loss', 0):.4f}  "
                                              f"world {p.get('world_size')}  restarts {p.get('restarts')}"
                                              if p else "")
              + (f"  failed checkpoint writes {p['checkpoint_failures']}" if p.get("checkpoint_failures") else "")]
    return "\n".join(lines + [""] + fault_lines(state.get("faults") or []))


def fault_lines(faults: list[dict]) -> list[str]:
    """`faults: none`, or `faults: N active` and one line per fault: kind, target, since when,
    details."""
    if not faults:
        return ["faults: none"]
    lines = [f"faults: {len(faults)} active"]
    for f in faults:
        since = time.strftime("%H:%M:%S", time.localtime(f["since"])) if f.get("since") else "?"
        detail = "  ".join(f"{k} {_short(k, v)}" for k, v in f.get("detail", {}).items() if v is not None)
        lines.append(f"  {f['kind']:<12} {f['target']:<22} since {since}  {detail}".rstrip())
    return lines


def _short(key: str, value: object) -> str:
    if key.endswith("_at") and isinstance(value, (int, float)):
        return time.strftime("%H:%M:%S", time.localtime(value))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(str, value[:4])) + ("…" if len(value) > 4 else "")
    return str(value)
