"""How long the production gate takes over each misbehaving model of
tests/misbehaving_models.py (3 checks, `timeout: 3` each), against the bound the issue
sets: checks x timeout + 10 s. Also the clean twin.

    python bench/misbehaving_models.py

Prints one line per model (decision, wall time, bound); asserts nothing.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "tests" / "misbehaving_models.py"
CHECKS, TIMEOUT_S = 3, 3


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from integration.test_misbehaving_models import config  # the same project the tests gate
    spec = importlib.util.spec_from_file_location("misbehaving_models", MODELS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = sorted(module.FACTORIES) + sorted(module.LOAD_FAILURES)
    import numpy as np
    import pandas as pd
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        x = rng.random(400)
        frame = pd.DataFrame({"x": x, "group": rng.choice(["a", "b"], 400), "label": (x > 0.5).astype(int)})
        frame.iloc[:300].to_csv(root / "train.csv", index=False)
        frame.iloc[300:].to_csv(root / "test.csv", index=False)
        shutil.copy(MODELS, root / MODELS.name)
        bound = CHECKS * TIMEOUT_S + 10
        worst = 0.0
        for name in names:
            out = root / f"out-{name}"
            t = time.perf_counter()
            proc = subprocess.run([str(Path(sys.executable).with_name("mlqa")), "gate", str(config(root, name)),
                                   "--stage", "production", "--out", str(out)], capture_output=True, text=True)
            took = time.perf_counter() - t
            worst = max(worst, took)
            decision = json.loads((out / "decision.json").read_text())["decision"] if (out / "decision.json").exists() \
                else "NO REPORT"
            print(f"{name:24} exit {proc.returncode}  {decision:8} {took:6.2f} s  (bound {bound} s)", flush=True)
        print(f"\nslowest {worst:.2f} s of a bound of {bound} s")


if __name__ == "__main__":
    main()
