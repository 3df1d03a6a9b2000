"""Every shipped chaos experiment (chaos/experiments/*.yaml) against one reference stack on
the default topology, one after another, as `mlqa chaos run --attach` would run them.

    python bench/chaos_experiments.py [FILE ...]

Prints each experiment's status, wall time and figures (availability, p99 steady/fault,
time to detect / recover, training steps lost), the active faults left after each (must be
none) and the total wall time (target: all within 6 minutes on 2 cores). Asserts nothing.
"""
from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOWN = ("availability", "p99_steady", "p99_fault", "p99_ratio", "requests_lost", "time_to_detect",
         "time_to_recover", "training_completed", "training_steps_lost", "training_steps_lost_max", "world_size_min", "checkpoint_failures")


def main(files: list[str]) -> None:
    from mlqa.chaos import load_experiment, run_experiment
    from mlqa.stack import down, up
    paths = [Path(f) for f in files] or sorted((ROOT / "chaos" / "experiments").glob("*.yaml"))
    with tempfile.TemporaryDirectory(prefix="mlqa-bench-chaos-") as tmp:
        os.environ["MLQA_STATE_DIR"] = str(Path(tmp) / "state")
        t_all = time.perf_counter()
        stack = up(None, Path(tmp) / "stack", owner_pid=os.getpid())
        print(f"stack up in {time.perf_counter() - t_all:.1f}s")
        try:
            for path in paths:
                exp = load_experiment(path)
                t = time.perf_counter()
                result = run_experiment(exp, attach=stack.state_dir, out=Path(tmp) / "out")
                took = time.perf_counter() - t
                figs = ", ".join(f"{k}={_show(result.metrics[k])}" for k in SHOWN if k in result.metrics)
                print(f"{exp.name:<24} {result.status:<7} {took:6.1f}s  {figs}")
                if result.status != "passed":
                    print(f"{'':<24} {result.message}")
                left = stack.state().get("faults", [])
                print(f"{'':<24} active faults after: {left or 'none'}")
        finally:
            down(stack.state_dir)
        total = time.perf_counter() - t_all
        print(f"total {total:.1f}s for {len(paths)} experiments (target: <= 360 s on 2 cores)")


def _show(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.4g}"


if __name__ == "__main__":
    main(sys.argv[1:])
