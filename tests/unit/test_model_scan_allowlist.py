"""The allowlist names exact classes (no naming pattern), verified by identity; user extras
are exact names too; calls that can allocate without bound are refused."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from mlqa import UnsafeModelError
from mlqa import _pickle_policy as policy
from mlqa._model_allowlist import CALLED, REFERENCED
from mlqa._model_loading import load_model_file
from mlqa._pickle_scan import RestrictedUnpickler, is_safe_global, scan_bytes
from mlqa.model_scan import scan_model_file

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from model_corpus import NONE, call, i, p4, s, sg


def test_no_naming_pattern_only_exact_names():
    assert is_safe_global("sklearn.linear_model._logistic", "LogisticRegression")
    for module, name in (("sklearn.datasets._covtype", "GzipFile"),      # re-exported gzip class
                         ("sklearn.utils._testing", "TempMemmap"),       # CamelCase, never pickled
                         ("sklearn.linear_model", "LogisticRegression"),  # a re-export path
                         ("builtins", "range"), ("builtins", "getattr"), ("builtins", "type")):
        assert not is_safe_global(module, name), (module, name)
    assert CALLED <= REFERENCED and "builtins.range" not in REFERENCED


@pytest.mark.parametrize("full", sorted(REFERENCED))
def test_every_entry_is_defined_where_its_name_says(full):
    parts = full.split(".")
    for cut in range(len(parts) - 1, 0, -1):  # the defining module is the longest importable prefix
        module, name = ".".join(parts[:cut]), ".".join(parts[cut:])
        if policy.importable(module):
            try:
                __import__(module)
            except ImportError:
                continue
            policy.resolve(module, name)
            return
    pytest.skip(f"{parts[0]} is not installed here")


def test_a_listed_name_that_resolves_to_a_foreign_object_is_refused(tmp_path, monkeypatch):
    """Even if sklearn.datasets._covtype.GzipFile were listed (or allowed by a user), it is
    gzip.GzipFile: defined outside scikit-learn, so the scan and the loader refuse it."""
    marker = tmp_path / "marker"
    data = p4(call(sg("sklearn.datasets._covtype", "GzipFile"), s(str(marker)), s("wb")))
    path = tmp_path / "m.pkl"
    path.write_bytes(data)
    extra = {"sklearn.datasets._covtype.GzipFile"}
    findings = scan_model_file(path, extra).findings
    assert findings and "defined in gzip" in findings[0]["reason"]
    with pytest.raises(UnsafeModelError, match="GzipFile"):
        load_model_file(path, trusted=tuple(extra))
    monkeypatch.setattr(policy, "REFERENCED", REFERENCED | extra)
    monkeypatch.setattr(policy, "CALLED", CALLED | extra)
    assert "defined in gzip" in scan_bytes(data)[0]["reason"]
    with pytest.raises(UnsafeModelError):
        load_model_file(path)
    assert not marker.exists()


def test_user_extras_are_exact_names_resolved_only_by_the_loader(tmp_path, monkeypatch):
    (tmp_path / "team_models.py").write_text(
        "class Scorer:\n    def predict(self, X):\n        return [1] * len(X)\n")
    monkeypatch.syspath_prepend(tmp_path)
    import team_models
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(team_models.Scorer()))
    assert [f["global"] for f in scan_model_file(path).findings] == ["team_models.Scorer"]
    assert scan_model_file(path, {"team_models.Scorer"}).safe
    assert not scan_model_file(path, {"team_models.Scor", "team_models"}).safe
    assert load_model_file(path, trusted=("team_models.Scorer",)).predict([0, 0]) == [1, 1]


BOUNDED = {
    "bytes(n)": p4(call(sg("builtins", "bytes"), i(4_000_000_000))),
    "bytearray(n)": p4(call(sg("builtins", "bytearray"), i(4_000_000_000))),
    "bytearray(int(...))": p4(call(sg("builtins", "bytearray"), call(sg("builtins", "int"), s("9" * 10)))),
    "list(range(4e8))": p4(call(sg("builtins", "list"), call(sg("builtins", "range"), i(400_000_000)))),
    "numpy huge shape": p4(call(sg("numpy._core.multiarray", "_reconstruct"), sg("numpy", "ndarray"),
                                b"(" + i(10 ** 6) + i(10 ** 6) + b"t", b"C\x01b")),
    "numpy.ma huge shape": p4(call(sg("numpy.ma.core", "_mareconstruct"), sg("numpy.ma", "MaskedArray"),
                                   sg("numpy", "ndarray"), b"(" + i(10 ** 12) + b"t", s("b"))),
    "randomstate calls its 2nd argument": p4(call(sg("numpy.random._pickle", "__randomstate_ctor"),
                                                  s("MT19937"), sg("builtins", "bytearray"))),
    "bit generator of any class": p4(call(sg("numpy.random._pickle", "__bit_generator_ctor"),
                                          sg("collections", "OrderedDict"))),
    "defaultdict factory": p4(call(sg("collections", "defaultdict"), sg("builtins", "bytearray"))),
    "storage type called": p4(call(sg("torch", "FloatStorage"), i(10 ** 10))),
    "sklearn Tree n_outputs": p4(call(sg("sklearn.tree._tree", "Tree"), i(3), NONE, i(10 ** 9))),
    "newObj of a foreign class": p4(call(sg("sklearn.neighbors._kd_tree", "newObj"),
                                         sg("builtins", "bytearray"))),
    "a called value, not a global": p4(call(call(sg("builtins", "set"), b"]"))),
}


@pytest.mark.parametrize("label", list(BOUNDED))
def test_unbounded_constructors_are_refused_before_they_run(tmp_path, label):
    path = tmp_path / "m.pkl"
    path.write_bytes(BOUNDED[label])
    assert scan_model_file(path).findings, label
    with pytest.raises(UnsafeModelError):
        load_model_file(path)
    with pytest.raises(pickle.UnpicklingError):
        RestrictedUnpickler(path.open("rb")).load()


@pytest.mark.slow
def test_the_generated_list_is_what_the_generator_writes():
    """scripts/gen_allowlist.py --check: the committed list matches a fresh observation."""
    proc = subprocess.run([sys.executable, "-W", "ignore", str(ROOT / "scripts" / "gen_allowlist.py"),
                           "--check"], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]

