"""The shipped example, end to end, as users run it: `mlqa gate` and `pytest --mlqa-config`."""
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "credit" / "mlqa.yaml"
MLQA = [sys.executable, "-m", "mlqa.cli"]


def test_mlqa_gate_on_the_example(tmp_path):
    proc = subprocess.run(MLQA + ["gate", str(CONFIG), "--stage", "production", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    decision = json.loads((tmp_path / "decision.json").read_text())
    assert decision["decision"] == "promote" and len(decision["checks"]) == 12
    waived = [c for c in decision["checks"] if c["waived"]]
    assert [c["id"] for c in waived] == ["performance.slices"]
    assert decision["subject"]["model"]["sha256"] and decision["subject"]["data_test"]["sha256"]
    assert "mlqa: PROMOTE (stage production)" in proc.stderr and proc.stdout == ""


def blocked_copy(tmp_path: Path) -> Path:
    """The example's config with a stricter floor and paths made absolute."""
    data = yaml.safe_load(CONFIG.read_text())
    base = CONFIG.parent
    data["model"]["path"] = str(base / data["model"]["path"])
    data["baseline"]["path"] = str(base / data["baseline"]["path"])
    for split in ("train", "test"):
        data["data"][split] = str(base / data["data"][split])
    data["checks"][6] = {"performance.metric[auc]": {"metric": "roc_auc", "min": 0.95}}
    path = tmp_path / "mlqa.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("blocked", [False, True])
def test_pytest_on_the_example_agrees_with_the_gate(tmp_path, blocked):
    config = blocked_copy(tmp_path) if blocked else CONFIG
    junit = tmp_path / "r.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "--mlqa-config", str(config), "--mlqa-stage",
                           "production", "--junitxml", str(junit), "--mlqa-out", str(tmp_path / "out"),
                           "-p", "no:cacheprovider", "-q"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == (1 if blocked else 0), proc.stdout[-3000:]
    cases = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")]
    assert len(cases) == 12 and "performance.regression" in cases and "data.drift" in cases
    decision = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert decision["decision"] == ("block" if blocked else "promote")
    if blocked:
        assert "performance.metric[auc] failed: roc_auc = 0.9271, below the limit 0.95" in proc.stdout
