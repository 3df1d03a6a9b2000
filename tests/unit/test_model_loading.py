"""Pickle-based model files are scanned against an allowlist and refused before loading."""
import pickle

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlqa import SubjectError, UnsafeModelError
from mlqa._model_loading import load_model_file, load_python_ref
from mlqa._pickle_scan import scan_bytes


class _Payload:
    """Unpickling this runs `func(*args)`: the classic pickle exploit."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _touch_command(marker):
    return f"touch {marker}"


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).normal(size=(60, 3))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_os_system_is_refused_and_never_runs(tmp_path, protocol):
    import os
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(_Payload(os.system, _touch_command(marker)), protocol=protocol))
    with pytest.raises(UnsafeModelError) as err:
        load_model_file(path)
    assert "system" in str(err.value) and "skops" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_a_fitted_scikit_learn_model_is_safe(tmp_path, fitted, protocol):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted, protocol=protocol))
    assert scan_bytes(path.read_bytes()) == []
    loaded = load_model_file(path)
    assert (loaded.predict(np.ones((2, 3))) == fitted.predict(np.ones((2, 3)))).all()


def test_blocklist_bypasses_are_caught_by_the_allowlist():
    import builtins
    import importlib
    for func, arg in ((importlib.import_module, "os"), (builtins.getattr, (object, "x")),
                      (builtins.eval, "1"), (builtins.exec, "pass")):
        data = pickle.dumps(_Payload(func, *(arg if isinstance(arg, tuple) else (arg,))), protocol=4)
        findings = scan_bytes(data)
        assert findings and findings[0]["opcode"] == "STACK_GLOBAL" and findings[0]["position"] >= 0


def test_joblib_unsafe_file_is_refused(tmp_path):
    import os
    marker = tmp_path / "pwned"
    path = tmp_path / "model.joblib"
    joblib.dump({"w": np.arange(3), "x": _Payload(os.system, _touch_command(marker))}, path)
    with pytest.raises(UnsafeModelError):
        load_model_file(path)
    assert not marker.exists()


def test_joblib_safe_model_loads(tmp_path, fitted):
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    assert load_model_file(path).coef_.shape == fitted.coef_.shape


def test_unparseable_pickle_is_refused(tmp_path):
    path = tmp_path / "model.pkl"
    path.write_bytes(b"\x80\x05not a pickle at all")
    with pytest.raises(SubjectError, match="refusing"):
        load_model_file(path)


def test_the_content_decides_not_the_suffix(tmp_path, fitted):
    """Suffixes never decide: a joblib file named .bin loads, an empty file is refused."""
    path = tmp_path / "model.bin"
    joblib.dump(fitted, path)
    assert load_model_file(path).coef_.shape == fitted.coef_.shape
    path.write_bytes(b"")
    with pytest.raises(SubjectError, match="empty"):
        load_model_file(path)


def test_skops_untrusted_types_must_be_listed(tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from skops import io as sio
    X = np.random.default_rng(0).normal(size=(80, 2))
    path = tmp_path / "m.skops"
    sio.dump(HistGradientBoostingClassifier(max_iter=3).fit(X, X[:, 0] > 0), path)
    with pytest.raises(SubjectError, match="trusted:"):
        load_model_file(path)
    untrusted = tuple(sio.get_untrusted_types(file=path))
    assert load_model_file(path, trusted=untrusted).predict(X[:2]).shape == (2,)


def test_python_reference_object_or_factory(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        "class M:\n    def predict(self, X):\n        return [0] * len(X)\n"
        "instance = M()\n"
        "def factory():\n    return M()\n")
    assert load_python_ref("my_models:instance", tmp_path).predict([1, 2]) == [0, 0]
    assert load_python_ref("my_models:factory", tmp_path).predict([1]) == [0]
    with pytest.raises(SubjectError, match="no attribute `nope`"):
        load_python_ref("my_models:nope", tmp_path)
