"""mlqa's gates vs deepchecks' three tabular suites, same data, same run.

    python bench/gate_vs_deepchecks.py [--skip-deepchecks]

Targets: mlqa's data + performance suites (the credit example's data/performance checks)
at most 5% of deepchecks' time (issue 2); the whole model gate with the `tabular-classifier`
preset (data, performance, robustness, fairness, privacy at their defaults,
bench/adult-preset.yaml) at most 10% (issue 3) — and still within 10% of deepchecks' three
default suites on the same data once issue 13's data checks join the preset (issue 13). The
ratio is mlqa's import + load + checks over deepchecks' suites. deepchecks runs in its own pinned
environment (.venv-deepchecks, created on first use as `make deepchecks-env` does) because 0.19.1 cannot import on
numpy 2 / scikit-learn >= 1.6. Prints figures; asserts nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
CONFIG = ROOT / "examples" / "credit" / "mlqa.yaml"
DATA = ROOT / "examples" / "credit" / "data"
#: run -> (highest share of deepchecks' three default suites' time, the issue that set it)
TARGETS = {"data + performance": (0.05, "issue 2"),
           "tabular-classifier preset": (0.10, ("issues 3 and 13: the whole preset gate within 10% of "
                                                "deepchecks' three default suites on the same data"))}


def time_mlqa(config: Path, only: list[str] | None = None) -> dict:
    """Fresh interpreter: import, config, loading the models and data, the checks."""
    code = (
        "import time, json; t0 = time.perf_counter()\n"
        "from mlqa import Session\n"
        f"s = Session({str(config)!r}, 'production'); s.run_all({only!r}); o = s.finish()\n"
        "total = time.perf_counter() - t0\n"
        "print(json.dumps({'total': total, 'checks': sum(r.duration_s for r in o.results),\n"
        "  'n': len(o.results), 'decision': o.decision.decision,\n"
        "  'per_check': {r.id: r.duration_s for r in o.results}}))\n")
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - t
    return result


def time_deepchecks() -> dict:
    from _envs import deepchecks_python
    python = deepchecks_python()
    t = time.perf_counter()
    out = subprocess.run([str(python), str(HERE / "_deepchecks_run.py"), str(DATA / "train.csv.gz"),
                          str(DATA / "test.csv.gz")], capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode != 0:
        raise SystemExit(f"deepchecks run failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - t
    return result


def main() -> None:
    print(f"machine: {os.cpu_count()} cores; data: UCI Adult (32,561 train / 16,281 test rows)")
    runs = {"data + performance": time_mlqa(CONFIG, ["data.*", "performance.*"]),
            "tabular-classifier preset": time_mlqa(HERE / "adult-preset.yaml")}
    print("targets: " + "; ".join(f"{name} <= {limit:.0%} of deepchecks' suites ({why})"
                                  for name, (limit, why) in TARGETS.items()))
    for name, mlqa in runs.items():
        print(f"mlqa  {name} ({mlqa['n']} checks):")
        print(f"      checks {mlqa['checks']:.2f} s; import + load + checks {mlqa['total']:.2f} s; "
              f"whole process {mlqa['process']:.2f} s")
        for cid, secs in sorted(mlqa["per_check"].items(), key=lambda kv: -kv[1])[:5]:
            print(f"        {cid:32s} {secs:.2f} s")
    if "--skip-deepchecks" in sys.argv:
        print("deepchecks skipped (--skip-deepchecks): no ratio")
        return
    dc = time_deepchecks()
    suites = sum(v for k, v in dc["timings"].items())
    print(f"deepchecks data_integrity + train_test_validation + model_evaluation "
          f"({sum(dc['checks'].values())} checks):")
    for name, secs in dc["timings"].items():
        print(f"      {name:24s} {secs:.2f} s")
    print(f"      suites total {suites:.2f} s; whole process (incl. model training) {dc['process']:.2f} s")
    for name, mlqa in runs.items():
        limit, why = TARGETS[name]
        ratio = mlqa["total"] / suites
        print(f"ratio mlqa {name} / deepchecks suites (import + load + checks vs suites): "
              f"{ratio:.1%} (target <= {limit:.0%}, {why}: {'met' if ratio <= limit else 'MISSED'})")


if __name__ == "__main__":
    main()
