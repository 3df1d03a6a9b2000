"""Cost of running models out of process: the credit example's production gate
(`tabular-classifier` preset plus its own checks) with both models in worker processes
(the default) and with `isolation: in-process`, alternating, in the same run.

    python bench/model_isolation.py [--runs 5]

Prints each run's wall time, the medians and the ratio (target: at most 1.10), and the
per-check durations of the last run of each mode. Prints; asserts nothing.
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "credit"


def make_config(dest: Path, isolation: str) -> Path:
    """The credit example's mlqa.yaml next to its files, with `isolation:` on both models."""
    text = (EXAMPLE / "mlqa.yaml").read_text()
    text = re.sub(r"(\n  path: (model|champion)\.skops[^\n]*\n)", rf"\1  isolation: {isolation}\n", text)
    assert text.count(f"isolation: {isolation}") == 2, "the credit example's model sections moved"
    path = dest / f"mlqa-{isolation}.yaml"
    path.write_text(text)
    return path


def gate(config: Path, out: Path) -> float:
    t = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).with_name("mlqa")), "gate", str(config), "--stage", "production",
                           "--out", str(out)], capture_output=True, text=True)
    took = time.perf_counter() - t
    if proc.returncode not in (0, 1):
        raise SystemExit(f"gate failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return took


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 5
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "credit"
        shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("deploy"))
        configs = {mode: make_config(work, mode) for mode in ("in-process", "process")}
        times: dict[str, list[float]] = {mode: [] for mode in configs}
        gate(configs["process"], Path(tmp) / "warm")  # file cache and bytecode
        for i in range(runs):
            for mode in (("in-process", "process") if i % 2 == 0 else ("process", "in-process")):
                times[mode].append(gate(configs[mode], Path(tmp) / mode))
                print(f"run {i + 1} {mode:10} {times[mode][-1]:6.2f} s", flush=True)
        med = {mode: statistics.median(t) for mode, t in times.items()}
        print(f"\nmedian in-process {med['in-process']:.2f} s, out of process {med['process']:.2f} s, "
              f"ratio {med['process'] / med['in-process']:.3f} (target <= 1.10)")
        rows = {mode: {r["id"]: r["duration_s"] for r in json.loads((Path(tmp) / mode / "results.json")
                                                                     .read_text())["checks"]}
                for mode in configs}
        print(f"\n{'check (last run)':34} {'in-process':>10} {'process':>10}")
        for cid in rows["in-process"]:
            print(f"{cid:34} {rows['in-process'][cid]:10.3f} {rows['process'].get(cid, float('nan')):10.3f}")


if __name__ == "__main__":
    main()
