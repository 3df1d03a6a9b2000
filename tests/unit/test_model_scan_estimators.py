"""No false alarms on real models: every scikit-learn classifier and regressor that fits a
small table, saved with pickle, joblib (plain and compressed) and skops, passes the scan and
loads with the same predictions; so do PyTorch state_dicts."""
from __future__ import annotations

import importlib.util
import io
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.utils import all_estimators

from mlqa._model_loading import load_model_file
from mlqa.model_scan import scan_model_file
from mlqa.suites.security import model_file

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("gen_allowlist", ROOT / "scripts" / "gen_allowlist.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)  # the same fitting the allowlist was generated from

#: classifiers and regressors that cannot be fitted on a small numeric (X, y) table
SKIPPED: dict[str, str] = {}
#: estimators skops cannot save (their pickle and joblib files are still checked)
SKOPS_UNSUPPORTED: dict[str, str] = {}

ESTIMATORS = all_estimators(type_filter=["classifier", "regressor"])
FORMATS = ("pickle-2", "pickle-5", "joblib", "joblib-zlib", "joblib-xz", "skops")


def _save(est, path: Path, fmt: str) -> tuple[str, ...]:
    """Write `est` in `fmt`; return the skops types a reviewer would list under `trusted:`."""
    if fmt.startswith("pickle"):
        path.write_bytes(pickle.dumps(est, protocol=int(fmt[-1])))
    elif fmt == "skops":
        from skops import io as sio
        data = sio.dumps(est)
        path.write_bytes(data)
        return tuple(sio.get_untrusted_types(data=data))
    else:
        joblib.dump(est, path, compress={"joblib": 0, "joblib-zlib": 3,
                                         "joblib-xz": ("xz", 3)}[fmt])
    return ()


def _same_predictions(a, b, X) -> bool:
    pa, pb = np.asarray(a.predict(X)), np.asarray(b.predict(X))
    return pa.shape == pb.shape and (np.array_equal(pa, pb) or np.allclose(pa, pb, equal_nan=True))


def test_the_skip_lists_are_honest():
    names = {n for n, _ in ESTIMATORS}
    assert set(SKIPPED) <= names and set(SKOPS_UNSUPPORTED) <= names
    assert len(ESTIMATORS) - len(SKIPPED) >= 90


@pytest.mark.slow
@pytest.mark.parametrize("name,cls", ESTIMATORS, ids=[n for n, _ in ESTIMATORS])
def test_fitted_estimator_passes_and_loads_in_every_format(tmp_path, name, cls):
    if name in SKIPPED:
        pytest.skip(SKIPPED[name])
    est = gen.fit_one(name, cls)
    X, _, _ = gen._table()
    X = X[:, :1] if name == "IsotonicRegression" else X
    for fmt in FORMATS:
        if fmt == "skops" and name in SKOPS_UNSUPPORTED:
            continue
        path = tmp_path / f"model-{fmt}"
        trusted = _save(est, path, fmt)
        report = scan_model_file(path, set(trusted))
        assert report.safe, (fmt, report.findings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_model_file(path, trusted=trusted)
            assert _same_predictions(est, loaded, X), fmt


def test_tabular_pipelines_pass_and_load(tmp_path):
    """ColumnTransformer + imputer + scaler + one-hot on a DataFrame, HistGradientBoosting
    with categorical features (it pickles functools.partial(check_array)), KNeighbors on
    every tree algorithm."""
    for label, est in gen.pipelines().items():
        for fmt in FORMATS[:-1]:
            path = tmp_path / f"{label}-{fmt}"
            _save(est, path, fmt)
            assert scan_model_file(path).safe, (label, fmt, scan_model_file(path).findings)
            assert type(load_model_file(path)) is type(est)


def test_a_stock_kneighbors_classifier_saved_with_joblib_passes(tmp_path, make_ctx):
    from sklearn.neighbors import KNeighborsClassifier
    X, y, _ = gen._table()
    for algorithm in ("auto", "kd_tree", "ball_tree", "brute"):
        est = KNeighborsClassifier(algorithm=algorithm).fit(X, y)
        joblib.dump(est, tmp_path / "knn.joblib")
        ctx = make_ctx(None, None)
        ctx.config = type("C", (), {"dir": tmp_path, "model": None, "baseline": None})()
        assert model_file(ctx, paths=["knn.joblib"]).status == "passed"
        assert _same_predictions(est, load_model_file(tmp_path / "knn.joblib"), X)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_pytorch_state_dicts_pass_and_load(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2),
                          nn.LayerNorm(2)).to(getattr(torch, dtype))
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    assert scan_model_file(path).safe
    state = load_model_file(path)
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value), key
    clone = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2),
                          nn.LayerNorm(2)).to(getattr(torch, dtype))
    clone.load_state_dict(state)  # what a user does with the loaded weights


def test_pytorch_tensors_of_every_dtype(tmp_path):
    torch = pytest.importorskip("torch")
    tensors = {str(d): torch.arange(6).to(d).reshape(2, 3)
               for d in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
                         torch.bool, torch.float64, torch.complex64)}
    tensors["view"] = tensors["torch.float64"][:, 1]  # a view: offset and stride into a storage
    buf = io.BytesIO()
    torch.save(tensors, buf)
    path = tmp_path / "t.pt"
    path.write_bytes(buf.getvalue())
    loaded = load_model_file(path)
    assert all(torch.equal(loaded[k], v) for k, v in tensors.items())
