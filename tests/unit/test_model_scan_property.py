"""The scanner and the loaders agree, on real model files mutated at random (byte flips,
truncations, insertions, appended zips and pickles):

- a file the scan passes is loaded by mlqa's restricted loader without resolving any global
  outside the allowlist (every resolution is recorded), and the real `joblib.load` /
  `pickle.load` machinery asks for no global outside it either (their `find_class` records
  and refuses);
- a file the scan refuses is refused by `load_model_file` without any loader opening it
  (pickle, joblib, numpy, torch, skops and mlqa's own restricted reader record their calls).
"""
from __future__ import annotations

import contextlib
import io
import pickle
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mlqa import SubjectError, UnsafeModelError, _pickle_model
from mlqa import _pickle_policy as policy
from mlqa._model_loading import load_model_file
from mlqa.model_scan import inspect_bytes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model_corpus import ORDERED_DICT, _state_dict, _torch_bytes, fitted, joblib_unpadded


def _joblib(obj, compress=0) -> bytes:
    buf = io.BytesIO()
    joblib.dump(obj, buf, compress=compress)
    return buf.getvalue()


def _arrays():
    s = np.empty(2, dtype=[("a", "O"), ("b", "<f8")])
    s[0], s[1] = ("x", 1.0), ("y", 2.0)
    return {"f": np.asfortranarray(np.ones((2, 3))), "s": s, "o": np.array(["a", 2], dtype=object),
            "i": np.arange(4, dtype=">i4")}


SEEDS = {
    "pickle-2": pickle.dumps(fitted(), protocol=2),
    "pickle-5": pickle.dumps(fitted(), protocol=5),
    "joblib": _joblib(_arrays()),
    "joblib-unpadded": joblib_unpadded(_arrays()),
    "joblib-zlib": _joblib(fitted(), 3),
    "hand": ORDERED_DICT,
    "torch": _torch_bytes(_state_dict()),
}
ALLOWED = policy.REFERENCED | {policy.JOBLIB_WRAPPER}


@st.composite
def mutated(draw) -> bytes:
    name = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        op = draw(st.sampled_from(["flip", "flip", "flip", "truncate", "insert", "append-zip",
                                   "append-pickle", "splice"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "append-zip":
            data += SEEDS["torch"]
        elif op == "append-pickle":
            data += SEEDS["hand"]
        else:
            other = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
            data[at:at + 16] = other[:16]
    return bytes(data)


@contextlib.contextmanager
def _recording(resolved: list[str], opened: list[str]):
    """Record every global mlqa's loader resolves, and every call of a real loader."""
    import skops.io
    import torch
    real_resolve = policy.resolve

    def resolve(module, name, extra=frozenset()):
        resolved.append(f"{module}.{name}")
        return real_resolve(module, name, extra)

    def forbidden(label):
        def call(*args, **kwargs):
            opened.append(label)
            raise AssertionError(f"{label} opened a file the scan refused")
        return call

    real_load = _pickle_model.load
    targets = [(policy, "resolve", resolve),
               (_pickle_model, "load", lambda *a, **k: (opened.append("restricted"),
                                                        real_load(*a, **k))[1])]
    for owner, attr in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"),
                        (joblib, "load"), (np, "load"), (torch, "load"), (skops.io, "load"),
                        (skops.io, "loads")):
        targets.append((owner, attr, forbidden(f"{owner.__name__}.{attr}")))
    saved = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in targets]
    try:
        for owner, attr, value in targets:
            setattr(owner, attr, value)
        yield
    finally:
        for owner, attr, value in saved:
            setattr(owner, attr, value)


def _real_loaders_ask_for(data: bytes, kind: str) -> set[str]:
    """The globals joblib's / pickle's own unpicklers request for these bytes (refused
    unless allowlisted, so nothing else is imported)."""
    from joblib.numpy_pickle import NumpyUnpickler
    asked: set[str] = set()

    def find_class(self, module, name):
        asked.add(f"{module}.{name}")
        if f"{module}.{name}" not in ALLOWED:
            raise pickle.UnpicklingError("refused")
        return type(self).__mro__[1].find_class(self, module, name)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.bin"
        path.write_bytes(data)
        loaders = []
        if kind in ("pickle", "joblib"):
            loaders.append(lambda fh: type("U", (NumpyUnpickler,), {"find_class": find_class})(
                str(path), fh, ensure_native_byte_order=True).load())
        if kind == "pickle":
            loaders.append(lambda fh: type("P", (pickle.Unpickler,), {"find_class": find_class})(
                fh).load())
        for load in loaders:
            with open(path, "rb") as fh, contextlib.suppress(Exception):
                load(fh)
    return asked


@pytest.mark.slow
@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)
@given(data=mutated())
def test_scanner_and_loaders_agree_on_mutated_model_files(data):
    check_agreement(data)


def check_agreement(data: bytes) -> None:
    """The property, for one byte string."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.bin"
        path.write_bytes(data)
        try:
            report, decoded = inspect_bytes(data, str(path))
            passed = report.safe
        except ValueError:
            passed, decoded = False, None
        event("scan passed" if passed else "scan refused")
        resolved: list[str] = []
        opened: list[str] = []
        with _recording(resolved, opened):
            if passed:
                try:
                    load_model_file(path)
                except UnsafeModelError as exc:  # the loader met what the scan did not see
                    pytest.fail(f"scan passed but the loader refused: {exc}")
                except SubjectError:
                    pass  # e.g. an estimator's own __setstate__ rejecting mutated state
            else:
                with pytest.raises(SubjectError):
                    load_model_file(path)
        assert set(resolved) <= ALLOWED, set(resolved) - ALLOWED
        if not passed:
            assert opened == [], opened
    if passed and decoded.kind in ("pickle", "joblib") and decoded.payload is data:
        assert _real_loaders_ask_for(data, decoded.kind) <= ALLOWED


def test_every_seed_passes_and_loads():
    for name, data in SEEDS.items():
        report, _ = inspect_bytes(data, name)
        assert report.safe, (name, report.findings)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "m").write_bytes(data)
            assert load_model_file(Path(tmp) / "m") is not None
