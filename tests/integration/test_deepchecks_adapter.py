"""The deepchecks adapter, exercised for real in deepchecks' pinned environment
(`make deepchecks-env`), plus the mapping rules on recorded reports."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa.suites import deepchecks as D
from mlqa.suites.deepchecks._adapter import _map

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test

ROOT = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("MLQA_DEEPCHECKS_PYTHON") or str(ROOT / ".venv-deepchecks" / "bin" / "python")


@pytest.fixture(scope="module")
def dc_python():
    if not Path(PYTHON).exists():
        if os.environ.get("MLQA_ALLOW_NO_DEEPCHECKS") == "1":
            pytest.skip("no deepchecks environment and MLQA_ALLOW_NO_DEEPCHECKS=1")
        pytest.fail(f"{PYTHON} missing: run `make deepchecks-env`", pytrace=False)
    return PYTHON


def clean_frame(seed=0, n=600):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.uniform(0, 10, n),
                          "color": rng.choice(["red", "green", "blue"], n)})
    frame["label"] = ((frame.x1 + frame.x2 / 5 + rng.normal(0, 0.3, n)) > 1).astype(int)
    return frame


def test_without_an_environment_the_checks_are_errors_that_say_how(make_ctx, monkeypatch, tmp_path):
    monkeypatch.delenv("MLQA_DEEPCHECKS_PYTHON", raising=False)
    monkeypatch.chdir(tmp_path)
    r = D.data_integrity(make_ctx(clean_frame(), None, label="label", positive=1))
    assert r.status == "error" and "make deepchecks-env" in r.message and "numpy<2" in r.message


def test_clean_data_passes_data_integrity(make_ctx, dc_python, monkeypatch):
    monkeypatch.setenv("MLQA_DEEPCHECKS_PYTHON", dc_python)
    r = D.data_integrity(make_ctx(clean_frame(), None, label="label", positive=1))
    assert r.status == "passed", r.evidence.get("conditions")
    assert r.evidence["deepchecks"] == "0.19.1" and r.metrics["conditions_passed"] > 3


def test_planted_integrity_defects_fail(make_ctx, dc_python, monkeypatch):
    monkeypatch.setenv("MLQA_DEEPCHECKS_PYTHON", dc_python)
    frame = clean_frame()
    frame = pd.concat([frame, frame.head(150)], ignore_index=True).assign(constant="same")
    r = D.data_integrity(make_ctx(frame, None, label="label", positive=1))
    results = {row["check"]: row["result"] for row in r.evidence["conditions"]}
    assert r.status == "failed" and results["Single Value in Column"] == "FAIL"
    assert results["Data Duplicates"] == "WARN" and r.metrics["conditions_warned"] >= 1
    assert "Single Value in Column" in r.message


def test_model_evaluation_from_predictions(make_ctx, dc_python, monkeypatch):
    from sklearn.linear_model import LogisticRegression
    monkeypatch.setenv("MLQA_DEEPCHECKS_PYTHON", dc_python)
    train, test = clean_frame(0), clean_frame(1)
    model = LogisticRegression().fit(train[["x1", "x2"]], train.label)

    class OnNumbers:
        classes_ = model.classes_
        def predict_proba(self, X):
            return model.predict_proba(X[["x1", "x2"]])
        def predict(self, X):
            return model.predict(X[["x1", "x2"]])
    r = D.model_evaluation(make_ctx(train, test, label="label", positive=1, model=OnNumbers()))
    assert r.status in ("passed", "failed"), r.message
    assert r.metrics["checks_errored"] == 0 and r.evidence["conditions"]
    assert any(row["result"] == "NOT APPLICABLE" for row in r.evidence["not_run"])


def test_a_broken_interpreter_is_an_error(make_ctx, tmp_path, monkeypatch):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named deepchecks' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("MLQA_DEEPCHECKS_PYTHON", str(fake))
    r = D.data_integrity(make_ctx(clean_frame(), None, label="label", positive=1))
    assert r.status == "error" and "No module named deepchecks" in r.message


REPORT = {"deepchecks": "0.19.1", "suite": "x", "checks": [
    {"check": "Mixed Nulls", "conditions": [{"condition": "no nulls", "category": "PASS", "details": ""}]},
    {"check": "String Mismatch", "conditions": [{"condition": "no variants", "category": "WARN", "details": "2"}]},
    {"check": "Index Leakage", "error": "DatasetValidationError: Dataset does not contain an index"},
]}


def test_mapping_rules():
    assert _map(REPORT, [], False).status == "passed"
    assert _map(REPORT, [], True).status == "failed"
    crashed = {**REPORT, "checks": REPORT["checks"] + [{"check": "Outliers", "error": "MemoryError: boom"}]}
    r = _map(crashed, [], False)
    assert r.status == "error" and "Outliers" in r.message
    assert _map(crashed, ["Outliers"], False).status == "passed"
