"""Runtime of issue 13's data and performance checks on UCI Adult, against its 3 s target.

    python bench/data_checks.py [--shared] [--plugin MODULE ...] [check ids ...]

Each check runs at its defaults on the credit example (32,561 train / 16,281 test rows,
examples/credit/model.skops) in a fresh interpreter of its own, through `mlqa.Session`, so
its figure includes the model predictions it needs (no other check warmed the cache); the
figure is the check's own `duration_s` (the session's loading of data and model is shown
apart). `--shared`: all of them in one session instead (later checks reuse predictions).
Checks of the list that are not registered (not built yet, or not exported) are listed
as missing; `--plugin MODULE` loads a module's checks as mlqa.yaml's `plugins:` does (to
time a check built but not yet exported). Prints figures; asserts nothing.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CREDIT = ROOT / "examples" / "credit"
TARGET_S = 3.0
#: the checks issue 13 adds or changes (duplicates / overlap gain near matches)
CHECKS = ("data.single_value", "data.mixed_nulls", "data.mixed_types", "data.special_characters",
          "data.string_mismatch", "data.conflicting_labels", "data.outliers", "data.identifiers",
          "data.duplicates", "data.train_test_overlap", "data.new_categories", "data.label_drift",
          "data.feature_label_correlation_change", "data.multivariate_drift",
          "performance.prediction_drift", "performance.unused_features")

CONFIG = """\
version: 1
seed: 0
plugins: {plugins}
model:
  path: {model}
  trusted: [functools.partial, sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor,
            sklearn.utils.validation.check_array]
data:
  train: {train}
  test: {test}
  label: income
  positive_label: ">50K"
  sensitive: [sex, race]
checks:
{checks}
gates:
  production: {{blocking: ["*"]}}
"""

_CHILD = """\
import json, time
t0 = time.perf_counter()
from mlqa import Session
s = Session({config!r}, 'production')
ctx = s.context
loaded = time.perf_counter() - t0
s.run_all()
o = s.finish()
print(json.dumps({{'load': loaded, 'total': time.perf_counter() - t0,
                  'checks': [[r.id, r.duration_s, r.status, r.message[:110]] for r in o.results]}}))
"""


def write_config(folder: Path, ids: list[str], plugins: list[str]) -> Path:
    path = folder / f"bench-{len(list(folder.iterdir()))}.yaml"
    path.write_text(CONFIG.format(plugins=json.dumps(plugins), model=CREDIT / "model.skops",
                                  train=CREDIT / "data" / "train.csv.gz", test=CREDIT / "data" / "test.csv.gz",
                                  checks="\n".join(f"  - {cid}: {{}}" for cid in ids)), encoding="utf-8")
    return path


def run(config: Path) -> dict:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _CHILD.format(config=str(config))], capture_output=True,
                         text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"mlqa run failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - t
    return result


def main(argv: list[str]) -> None:
    from mlqa.registry import Registry
    plugins = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--plugin"]
    wanted = [a for i, a in enumerate(argv) if not a.startswith("--") and (i == 0 or argv[i - 1] != "--plugin")]
    wanted = wanted or list(CHECKS)
    known = set(Registry.discover(plugins).checks)
    present, missing = [c for c in wanted if c in known], [c for c in wanted if c not in known]
    print(f"machine: {os.cpu_count()} cores; data: UCI Adult (32,561 train / 16,281 test rows); "
          f"target: each check <= {TARGET_S:g} s")
    if missing:
        print(f"not registered (not measured): {', '.join(missing)}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlqa-bench-") as tmp:
        if "--shared" in argv:
            res = run(write_config(Path(tmp), present, plugins))
            print(f"one session: load {res['load']:.2f} s, whole process {res['process']:.2f} s")
            rows = res["checks"]
        else:
            for cid in present:
                res = run(write_config(Path(tmp), [cid], plugins))
                rows += res["checks"]
                print(f"  ran {cid} (load {res['load']:.2f} s, whole process {res['process']:.2f} s)", flush=True)
    print(f"{'check':40s} {'seconds':>8s}  target  status")
    for cid, secs, status, message in rows:
        verdict = "ok" if secs <= TARGET_S else "OVER"
        print(f"{cid:40s} {secs:8.2f}  {verdict:6s}  {status}: {message}")
    if rows:
        over = [r[0] for r in rows if r[1] > TARGET_S]
        print(f"{len(rows) - len(over)} of {len(rows)} within {TARGET_S:g} s" + (f"; over: {', '.join(over)}" if over else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
