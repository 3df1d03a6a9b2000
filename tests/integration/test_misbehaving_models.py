"""The production gate over models that misbehave (tests/misbehaving_models.py): every one
blocks, with its reports written and a reason naming what the model did; the clean twin
`good` promotes on the same data and checks."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlqa

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parents[1]


def _names() -> tuple[list[str], list[str]]:
    import importlib.util
    spec = importlib.util.spec_from_file_location("misbehaving_models", TESTS / "misbehaving_models.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return sorted(module.FACTORIES), sorted(module.LOAD_FAILURES)


FACTORIES, LOAD_FAILURES = _names()
#: each check's deadline: a model that hangs costs at most this per check (plus the grace)
TIMEOUT_S = 3
CHECKS = ("performance.metric", "robustness.noise", "fairness.demographic_parity")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("misbehaving")
    rng = np.random.default_rng(0)
    x = rng.random(400)
    frame = pd.DataFrame({"x": x, "group": rng.choice(["a", "b"], 400), "label": (x > 0.5).astype(int)})
    frame.iloc[:300].to_csv(root / "train.csv", index=False)
    frame.iloc[300:].to_csv(root / "test.csv", index=False)
    shutil.copy(TESTS / "misbehaving_models.py", root / "misbehaving_models.py")
    return root


def config(root: Path, name: str) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        model: {{python: "misbehaving_models:{name}", limits: {{processes: 64}}}}
        data: {{train: train.csv, test: test.csv, label: label, positive_label: 1, sensitive: [group]}}
        checks:
          - performance.metric: {{metric: accuracy, min: 0.9, timeout: {TIMEOUT_S}}}
          - robustness.noise: {{timeout: {TIMEOUT_S}}}
          - fairness.demographic_parity: {{max_difference: 0.3, timeout: {TIMEOUT_S}}}
        gates:
          production: {{blocking: ["*"]}}
        """))
    return path


def test_the_clean_twin_promotes(project):
    decision = mlqa.gate(config(project, "good"), "production", out=project / "out-good")
    assert decision.decision == "promote", decision.reasons


BAD = [n for n in FACTORIES if n != "good"] + LOAD_FAILURES


@pytest.mark.parametrize("name", BAD)
def test_every_misbehaving_model_blocks_with_reports(project, name):
    out = project / f"out-{name}"
    decision = mlqa.gate(config(project, name), "production", out=out)
    assert decision.decision == "block"
    results = json.loads((out / "results.json").read_text())["checks"]
    assert [r["id"] for r in results] == list(CHECKS)
    assert all(r["status"] in ("error", "failed") for r in results), results
    assert {"decision.json", "summary.md", "report.html", "junit.xml"} <= {p.name for p in out.iterdir()}
    if name in ("hangs", "holds_gil", "busy_loop", "fork_bomb"):  # each check stopped at its own deadline
        assert all(f"timed out after {TIMEOUT_S}s" in r["message"] for r in results), results


def test_os_exit_in_predict_cannot_end_the_gate(project):
    """The Why: `os._exit(0)` in predict ended `mlqa gate` with exit 0 and no reports."""
    out = project / "out-cli-exits"
    proc = subprocess.run([str(Path(sys.executable).with_name("mlqa")), "gate", str(config(project, "exits")),
                           "--stage", "production", "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (out / "decision.json").exists() and "exited with code 0" in (out / "results.json").read_text()
