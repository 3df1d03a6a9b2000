"""The shipped example, end to end, as users run it: `mlqa gate` and `pytest --mlqa-config`."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "credit" / "mlqa.yaml"
MLQA = [sys.executable, "-m", "mlqa.cli"]


N_CHECKS = 38  # the tabular-classifier preset (33) plus the example's own 5


def gate(stage: str, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run(MLQA + ["gate", str(CONFIG), "--stage", stage, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    return proc, json.loads((out / "decision.json").read_text())


def test_production_blocks_on_demographic_parity_over_sex(tmp_path):
    proc, decision = gate("production", tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert decision["decision"] == "block" and len(decision["checks"]) == N_CHECKS
    assert len(decision["reasons"]) == 1
    assert decision["reasons"][0].startswith("fairness.demographic_parity failed: difference = 0.17")
    rows = {c["id"]: c for c in decision["checks"]}
    groups = {g["group"]: g for g in rows["fairness.demographic_parity"]["evidence"]["groups"]}
    assert groups["Male"]["base_rate"] > 0.29 and groups["Female"]["base_rate"] < 0.13
    assert [c["id"] for c in decision["checks"] if c["waived"]] == ["performance.slices"]
    assert decision["subject"]["model"]["sha256"] and decision["subject"]["data_test"]["sha256"]
    assert "mlqa: BLOCK (stage production)" in proc.stderr and proc.stdout == ""
    html = (tmp_path / "report.html").read_text()
    assert "Selection rate by sex" in html and "Decision: BLOCK" in html


def test_staging_lists_fairness_as_advisory_and_promotes(tmp_path):
    proc, decision = gate("staging", tmp_path)
    assert proc.returncode == 0, proc.stderr
    row = next(c for c in decision["checks"] if c["id"] == "fairness.demographic_parity")
    assert row["status"] == "failed" and row["blocking"] is False
    assert any(n.startswith("fairness.demographic_parity failed (advisory)") for n in decision["notes"])


def blocked_copy(tmp_path: Path) -> Path:
    """The example's config with a stricter floor and paths made absolute."""
    data = yaml.safe_load(CONFIG.read_text())
    base = CONFIG.parent
    data["model"]["path"] = str(base / data["model"]["path"])
    data["baseline"]["path"] = str(base / data["baseline"]["path"])
    for split in ("train", "test"):
        data["data"][split] = str(base / data["data"][split])
    data["checks"][1] = {"performance.metric[auc]": {"metric": "roc_auc", "min": 0.95}}
    path = tmp_path / "mlqa.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("blocked", [False, True])
def test_pytest_on_the_example_agrees_with_the_gate(tmp_path, blocked):
    """Staging promotes (fairness is advisory there); a stricter AUC floor blocks it."""
    config = blocked_copy(tmp_path) if blocked else CONFIG
    junit = tmp_path / "r.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "--mlqa-config", str(config), "--mlqa-stage",
                           "staging", "--junitxml", str(junit), "--mlqa-out", str(tmp_path / "out"),
                           "-p", "no:cacheprovider", "-q"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == (1 if blocked else 0), proc.stdout[-3000:]
    cases = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")]
    assert len(cases) == N_CHECKS and "performance.regression" in cases and "data.drift" in cases
    decision = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert decision["decision"] == ("block" if blocked else "promote")
    if blocked:
        assert "performance.metric[auc] failed: roc_auc = 0.9271, below the limit 0.95" in proc.stdout
