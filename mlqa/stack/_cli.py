"""`mlqa stack up | status | down`."""
from __future__ import annotations

import json
import sys
import time

from ._control import Stack, StackError, down, up


def main(args) -> int:  # noqa: ANN001 - argparse namespace
    if args.stack_command == "up":
        started = time.monotonic()
        stack = up(args.topology, args.state_dir, timeout=args.timeout)
        print(f"mlqa stack: ready in {time.monotonic() - started:.1f}s — gateway {stack.gateway_url}; "
              f"export MLQA_STACK_TOKEN=$(cat {stack.state_dir / 'token'})", file=sys.stderr)
        print(render(stack.state()))
        return 0
    if args.stack_command == "down":
        killed = down(args.state_dir)
        print(f"mlqa stack: down{f' (killed {len(killed)} leftover processes)' if killed else ''}", file=sys.stderr)
        return 0
    try:
        state = Stack.attach(args.state_dir).state()
    except StackError as exc:
        if args.json:
            print(json.dumps({"running": False, "error": str(exc)}))
        else:
            print(f"mlqa stack: not running ({exc})", file=sys.stderr)
        return 1
    print(json.dumps(state, indent=1, default=str) if args.json else render(state))
    return 0


def render(state: dict) -> str:
    """The status table: zones, nodes, their processes and GPUs, the gateway, training."""
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
                                              if p else "")]
    return "\n".join(lines)
