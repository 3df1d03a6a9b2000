"""security.model_file: malicious pickles (and obfuscated variants) are flagged without
being loaded; a joblib-saved scikit-learn pipeline passes."""
import builtins
import importlib
import operator
import os
import pickle

import joblib
import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlqa.model_scan import scan_model_file
from mlqa.suites.security import model_file


class Reduce:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def payloads(marker):
    cmd = f"touch {marker}"
    return {
        "os.system": Reduce(os.system, cmd),
        "builtins.getattr": Reduce(builtins.getattr, Reduce(builtins.__import__, "os"), "system"),
        "importlib": Reduce(importlib.import_module, "os"),
        "operator.attrgetter": Reduce(operator.attrgetter("system"), Reduce(importlib.import_module, "os")),
    }


@pytest.fixture(scope="module")
def pipeline():
    import pandas as pd
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=80), "c": rng.choice(["x", "y"], 80)})
    pre = ColumnTransformer([("c", OneHotEncoder(), ["c"]), ("a", StandardScaler(), ["a"])])
    return make_pipeline(pre, RandomForestClassifier(n_estimators=5, random_state=0)).fit(X, X.a > 0)


@pytest.mark.parametrize("name", ["os.system", "builtins.getattr", "importlib", "operator.attrgetter"])
@pytest.mark.parametrize("fmt", ["pickle", "joblib", "joblib-zlib"])
def test_malicious_files_are_flagged_and_never_run(tmp_path, name, fmt):
    marker = tmp_path / "pwned"
    obj = {"weights": np.arange(10.0), "hook": payloads(marker)[name]}
    path = tmp_path / ("model.pkl" if fmt == "pickle" else "model.joblib")
    if fmt == "pickle":
        path.write_bytes(pickle.dumps(obj, protocol=4))
    else:
        joblib.dump(obj, path, compress=3 if fmt.endswith("zlib") else 0)
    report = scan_model_file(path)
    assert report.findings and not marker.exists()
    flagged = {f["global"] for f in report.findings}
    expected = {"os.system": "posix.system", "builtins.getattr": "builtins.getattr",
                "importlib": "importlib.import_module", "operator.attrgetter": "operator.attrgetter"}[name]
    assert expected in flagged
    assert all(f["position"] >= 0 for f in report.findings)


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3)])
def test_joblib_saved_pipeline_passes(tmp_path, pipeline, compress):
    path = tmp_path / "model.joblib"
    joblib.dump(pipeline, path, compress=compress)
    report = scan_model_file(path)
    assert report.safe, report.findings
    assert any(g.startswith("sklearn.") for g in report.globals_seen)


def test_object_arrays_nested_pickles_are_scanned(tmp_path):
    path = tmp_path / "m.joblib"
    joblib.dump({"objs": np.array([Reduce(eval, "1"), 1], dtype=object)}, path)
    assert {f["global"] for f in scan_model_file(path).findings} == {"builtins.eval"}


def _torch_zip(tmp_path, evil: bool):
    """A real PyTorch checkpoint (torch.save of a state_dict), with an extra entry that runs
    os.system when unpickled if `evil`."""
    torch = pytest.importorskip("torch")
    state = torch.nn.Linear(2, 2).state_dict()
    if evil:
        state["extra"] = Reduce(os.system, "true")
    path = tmp_path / "model.pt"
    torch.save(state, path)
    return path


@pytest.mark.parametrize("evil", [False, True])
def test_pytorch_zip_checkpoints(tmp_path, evil):
    report = scan_model_file(_torch_zip(tmp_path, evil))
    assert report.format == "torch"
    assert [f["global"] for f in report.findings] == (["posix.system"] if evil else [])
    assert all(f["member"].endswith("/data.pkl") for f in report.findings)


def test_the_check_reports_findings_with_positions(make_ctx, tmp_path, pipeline):
    good, bad = tmp_path / "good.joblib", tmp_path / "bad.pkl"
    joblib.dump(pipeline, good)
    bad.write_bytes(pickle.dumps(Reduce(os.system, "true")))
    ctx = make_ctx(None, None)
    ctx.config = type("C", (), {"dir": tmp_path, "model": None, "baseline": None})()
    ok = model_file(ctx, paths=["good.joblib"])
    assert ok.status == "passed" and ok.metrics["files_scanned"] == 1
    r = model_file(ctx, paths=["good.joblib", "bad.pkl"])
    assert r.status == "failed" and r.evidence["findings"][0]["global"] == "posix.system"
    assert r.evidence["findings"][0]["opcode"] in ("STACK_GLOBAL", "GLOBAL")
    assert model_file(ctx, paths=["bad.pkl"], allow=["posix.system"]).status == "passed"


def test_unverifiable_file_fails(make_ctx, tmp_path):
    (tmp_path / "m.joblib").write_bytes(b"ZF0x00" + b"\0" * 20)
    ctx = make_ctx(None, None)
    ctx.config = type("C", (), {"dir": tmp_path, "model": None, "baseline": None})()
    r = model_file(ctx, paths=["m.joblib"])
    assert r.status == "failed" and r.evidence["unverifiable"]
