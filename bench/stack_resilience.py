"""The reference stack's resilience figures, on this machine.

    python bench/stack_resilience.py

1. `up` of the default topology (3 zones x 2 nodes, 2 GPUs per node): seconds to ready;
   `down`: processes left (walking every process for the stack's tag).
2. Zone loss under open-loop load: 100 requests/s through the gateway, zone-a killed;
   success rate (target >= 99.9%), p99 during the fault over steady p99 (target <= 2x),
   seconds until the zone was out of rotation (target <= 1 s). The same on a one-zone
   topology, where there is nowhere to retry.
3. Training (3 zones x 1 node x 2 GPUs, 300 steps, checkpoint every 25): a fault-free run,
   a node killed at step 60, a GPU faulted (XID 79) at step 60; status, world sizes, work
   lost (target <= one checkpoint interval), final loss against the fault-free run.

Prints figures; asserts nothing.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from mlqa.procs import tagged
from mlqa.yamldoc import load_yaml
from mlqa.stack import down, up
from mlqa.stack._experiments import train, zone_loss_under_load
from mlqa.stack._topology import parse_topology


def topo(text: str):
    return parse_topology(load_yaml(text, "bench-topology.yaml"))


def zone_figures(label: str, r) -> None:  # noqa: ANN001
    out = f"{r.out_of_rotation_s:.3f}s" if r.out_of_rotation_s is not None else "never"
    print(f"  {label}: success {100 * r.success_rate:.3f}% of {r.scheduled:.0f} scheduled "
          f"({r.statuses}), p99 steady {r.steady_p99_ms:.1f} ms -> fault {r.fault_p99_ms:.1f} ms "
          f"(x{r.p99_ratio:.2f}), out of rotation after {out}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "default"
        t = time.monotonic()
        stack = up(None, d, owner_pid=os.getpid())
        print(f"up (default topology, {os.cpu_count()} cores): ready in {time.monotonic() - t:.1f}s (target 20 s)")
        try:
            print("zone loss under 100 requests/s through the gateway:")
            zone_figures("3 zones x 2 nodes, zone-a killed", zone_loss_under_load(stack, "zone-a"))
        finally:
            down(d)
        print(f"down: {len(tagged(MLQA_STACK_ID=stack.stack_id))} processes left")
        d1 = Path(tmp) / "one-zone"
        single = up(topo("zones: [only]\nnodes_per_zone: 2\ngpus_per_node: 0\n"), d1, owner_pid=os.getpid())
        try:
            zone_figures("1 zone x 2 nodes, the zone killed", zone_loss_under_load(single, "only", restart=False))
        finally:
            down(d1)
        d2 = Path(tmp) / "training"
        trainer = up(topo("zones: [zone-a, zone-b, zone-c]\nnodes_per_zone: 1\ngpus_per_node: 2\n"
                          "training: {steps: 300, checkpoint_every: 25, batch_size: 256, step_time_s: 0.02}\n"),
                     d2, owner_pid=os.getpid())
        try:
            base = train(trainer)
            print(f"training, fault-free: {base.status} in {base.seconds:.1f}s, world {base.world_sizes}, "
                  f"final loss {base.final_loss:.6f}")
            for label, fault, node in (
                    ("node zone-b-node-1 killed at step 60", lambda s, p: s.kill_node("zone-b-node-1"), "zone-b-node-1"),
                    ("GPU 1 of zone-a-node-1 faulted (XID 79) at step 60",
                     lambda s, p: s.fault_gpu("zone-a-node-1", 1, 79), None)):
                run = train(trainer, fault=fault)
                delta = abs(run.final_loss - base.final_loss) / base.final_loss if run.final_loss else float("nan")
                print(f"training, {label}: {run.status} in {run.seconds:.1f}s, world {run.world_sizes}, "
                      f"work lost {list(run.work_lost_steps)} steps (interval {run.checkpoint_every}), final loss "
                      f"{run.final_loss:.6f} ({100 * delta:.4f}% from fault-free)")
                if node:
                    trainer.restart_node(node)
                else:
                    trainer.heal_gpu("zone-a-node-1", 1)
        finally:
            down(d2)


if __name__ == "__main__":
    main()
