"""joblib's format as joblib 1.6 reads it: arrays after wrappers (padding, order, dtypes,
nested pickles for object fields), the legacy sidecar wrapper refused — and mlqa's loader
returns exactly what joblib.load returns."""
from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from mlqa import SubjectError, UnsafeModelError
from mlqa._model_loading import load_model_file
from mlqa.model_scan import scan_model_file
from mlqa.suites.security import model_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model_corpus import (
    BUILD,
    EMPTY_DICT,
    EMPTY_TUPLE,
    FALSE,
    MARK,
    NEWOBJ,
    REDUCE,
    SETITEMS,
    TRUE,
    TUPLE,
    Reduce,
    call,
    i,
    joblib_unpadded,
    os_system,
    p4,
    s,
    sg,
)


def _structured(n: int = 3):
    arr = np.empty(n, dtype=[("name", "O"), ("x", "<f8"), ("k", ">i4")])
    for j in range(n):
        arr[j] = (f"r{j}", j / 2, j)
    return arr


ARRAYS = {
    "f8": np.arange(6.0).reshape(2, 3),
    "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    "big-endian": np.arange(5, dtype=">f8"),
    "structured-plain": np.zeros(2, dtype=[("a", "<f4"), ("b", "u1")]),
    "structured-object": _structured(),
    "object": np.array(["a", 1, None, 2.5], dtype=object),
    "empty": np.zeros((0, 3)),
    "zero-d": np.array(7.0),
    "bool": np.array([True, False]),
    "unicode": np.array(["ab", "cde"]),
    "datetime": np.array(["2024-01-02"], dtype="datetime64[D]"),
}


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    same_values = a.tolist() == b.tolist() if a.dtype.hasobject else a.tobytes() == b.tobytes()
    return (type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape and same_values
            and a.flags.f_contiguous == b.flags.f_contiguous)


@pytest.mark.filterwarnings("ignore:The memmapped array")  # joblib, on unpadded files
@pytest.mark.parametrize("layout", ["padded", "unpadded", "zlib", "gzip-protocol-2"])
def test_every_array_layout_loads_exactly_as_joblib_loads_it(tmp_path, layout):
    path = tmp_path / "arrays.joblib"
    if layout == "unpadded":  # joblib <= 1.1, or a stream without tell(): no alignment padding
        path.write_bytes(joblib_unpadded(ARRAYS))
    elif layout == "gzip-protocol-2":
        joblib.dump(ARRAYS, path, compress=("gzip", 3), protocol=2)
    else:
        joblib.dump(ARRAYS, path, compress=3 if layout == "zlib" else 0)
    report = scan_model_file(path)
    assert report.safe, report.findings
    assert _same(load_model_file(path), joblib.load(path))
    if layout in ("padded", "unpadded"):  # joblib memory-maps the same bytes at the same offsets
        plain = {k: v for k, v in ARRAYS.items() if not v.dtype.hasobject}
        joblib.dump(plain, path) if layout == "padded" else path.write_bytes(joblib_unpadded(plain))
        mapped = joblib.load(path, mmap_mode="r")
        ours = load_model_file(path)
        assert all(np.array_equal(np.asarray(mapped[k]), ours[k]) for k in plain)


def _wrapper_by(how: str) -> bytes:
    """A joblib stream with one float64[3] array whose wrapper is built by NEWOBJ + BUILD
    without the alignment key (joblib then reads no padding byte) or by REDUCE (the
    constructor's default alignment, 16: one padding byte is read)."""
    dtype = call(sg("numpy", "dtype"), s("f8"), FALSE, TRUE) + \
        MARK + i(3) + s("<") + b"NNN" + i(-1) + i(-1) + i(0) + TUPLE + BUILD
    wrapper = sg("joblib.numpy_pickle", "NumpyArrayWrapper")
    if how == "newobj":
        head = wrapper + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + MARK + s("subclass") + \
            sg("numpy", "ndarray") + s("shape") + MARK + i(3) + TUPLE + s("order") + s("C") + \
            s("dtype") + dtype + s("allow_mmap") + FALSE + SETITEMS + BUILD
        return b"\x80\x04" + head + np.arange(3.0).tobytes() + b"."
    head = call(wrapper, sg("numpy", "ndarray"), MARK + i(3) + TUPLE, s("C"), dtype) + \
        EMPTY_DICT + BUILD
    return b"\x80\x04" + head + b"\x02\xff\xff" + np.arange(3.0).tobytes() + b"."


@pytest.mark.parametrize("how", ["newobj", "reduce"])
def test_alignment_follows_how_the_wrapper_was_built(tmp_path, how):
    path = tmp_path / "m.joblib"
    path.write_bytes(_wrapper_by(how))
    assert scan_model_file(path).safe
    assert np.array_equal(load_model_file(path), joblib.load(path))
    assert np.array_equal(joblib.load(path), np.arange(3.0))


def test_structured_dtype_with_an_object_field_is_a_nested_pickle(tmp_path):
    """joblib pickles such an array (dtype.hasobject) instead of writing raw bytes: the
    scanner follows that nested pickle where the old one skipped it as data."""
    path = tmp_path / "m.joblib"
    joblib.dump({"s": _structured()}, path)
    report = scan_model_file(path)
    assert report.safe and "numpy._core.multiarray._reconstruct" in report.globals_seen
    joblib.dump({"s": np.array([(Reduce(eval, "1"), 1.0)], dtype=[("a", "O"), ("b", "f8")])}, path)
    assert {f["global"] for f in scan_model_file(path).findings} == {"builtins.eval"}
    with pytest.raises(UnsafeModelError, match="builtins.eval"):
        load_model_file(path)


def _legacy(name: str, sidecar: str) -> bytes:
    return p4(sg("joblib.numpy_pickle_compat", name) + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + MARK +
              s("filename") + s(sidecar) + s("subclass") + sg("numpy", "ndarray") + SETITEMS + BUILD)


@pytest.mark.parametrize("name", ["NDArrayWrapper", "ZNDArrayWrapper"])
@pytest.mark.parametrize("sidecar", ["side.npy", "../outside.npy", "/etc/passwd"])
def test_legacy_wrappers_are_refused_with_their_sidecar_named(tmp_path, make_ctx, name, sidecar):
    (tmp_path / "side.npy").write_bytes(os_system(tmp_path / "marker"))
    path = tmp_path / "m.joblib"
    path.write_bytes(_legacy(name, sidecar))
    ctx = make_ctx(None, None)
    ctx.config = type("C", (), {"dir": tmp_path, "model": None, "baseline": None})()
    result = model_file(ctx, paths=["m.joblib"])
    row = result.evidence["findings"][0]
    assert result.status == "failed" and row["sidecar"] == sidecar
    assert "re-save" in row["reason"] and "numpy.load" in row["reason"]
    with pytest.raises(UnsafeModelError, match=name):
        load_model_file(path)
    assert not (tmp_path / "marker").exists()


def test_wrapper_fields_the_scan_cannot_read_are_refused(tmp_path):
    """A wrapper whose shape or dtype is computed by a call (not literal) cannot be sized:
    the file is unverifiable, never skipped."""
    path = tmp_path / "m.joblib"
    computed_shape = call(sg("builtins", "tuple"), MARK + i(3) + TUPLE)
    body = sg("joblib.numpy_pickle", "NumpyArrayWrapper") + MARK + sg("numpy", "ndarray") + \
        computed_shape + s("C") + call(sg("numpy", "dtype"), s("f8"), FALSE, TRUE) + TUPLE + \
        REDUCE + EMPTY_DICT + BUILD
    path.write_bytes(b"\x80\x04" + body + b"\x00" + b"\0" * 24 + b".")
    try:
        assert not scan_model_file(path).safe
    except ValueError as exc:
        assert "shape is not literal" in str(exc)
    with pytest.raises(SubjectError):
        load_model_file(path)


def test_a_wrapper_cannot_be_smuggled_through_a_helper(tmp_path):
    """copyreg._reconstructor(NumpyArrayWrapper, ...) would make the real loader read array
    bytes where the scan, seeing a helper's result, reads opcodes: refused."""
    path = tmp_path / "m.joblib"
    body = call(sg("copyreg", "_reconstructor"), sg("joblib.numpy_pickle", "NumpyArrayWrapper"),
                sg("builtins", "object"), b"N")
    path.write_bytes(p4(body))
    assert "joblib's array wrapper" in scan_model_file(path).findings[0]["reason"]


def test_native_byte_order_like_joblib(tmp_path):
    path = tmp_path / "m.joblib"
    joblib.dump(np.arange(4, dtype=">i8"), path)
    ours, theirs = load_model_file(path), joblib.load(path)
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_os_and_file_untouched_by_a_scan(tmp_path):
    """The scan reads the file once and never writes next to it."""
    path = tmp_path / "m.joblib"
    joblib.dump(ARRAYS, path, compress=3)
    before = sorted(os.listdir(tmp_path))
    scan_model_file(path)
    assert sorted(os.listdir(tmp_path)) == before


def test_trailing_bytes_inside_the_last_frame_are_refused(tmp_path):
    data = io.BytesIO()
    joblib.dump({"a": 1}, data)
    raw = data.getvalue()
    # protocol 4+: the final frame holds the STOP; extend the frame with junk after it
    import struct
    size = struct.unpack("<Q", raw[3:11])[0]
    patched = raw[:3] + struct.pack("<Q", size + 3) + raw[11:] + b"abc"
    path = tmp_path / "m.joblib"
    path.write_bytes(patched)
    with pytest.raises(ValueError, match="follow the end"):
        scan_model_file(path)
    with pytest.raises(SubjectError):
        load_model_file(path)


DTYPES = [np.dtype("f8"), np.dtype(">i4"), np.dtype("U3"), np.dtype("S5"), np.dtype("V7"),
          np.dtype("M8[D]"), np.dtype("m8[5s]"), np.dtype("O"), np.dtype("?"), np.dtype("c16"),
          np.dtype([("a", "O"), ("b", "<f8")]), np.dtype([("a", "<f4"), ("b", "u1")], align=True),
          np.dtype(("<f8", (2, 3))), np.dtype({"names": ["x"], "formats": ["i4"], "titles": ["T"]}),
          np.dtype([("a", [("b", ">i2")])]),
          np.dtype({"names": ["x"], "formats": ["i4"], "offsets": [4], "itemsize": 12})]


@pytest.mark.parametrize("dtype", DTYPES, ids=[str(d) for d in DTYPES])
def test_every_kind_of_dtype_is_rebuilt_through_numpys_constructors(tmp_path, dtype):
    import pickle
    path = tmp_path / "m.pkl"
    for protocol in (2, 5):
        data = pickle.dumps({"dtype": dtype, "array": np.zeros(2, dtype)}, protocol=protocol)
        path.write_bytes(data)
        assert scan_model_file(path).safe
        loaded, native = load_model_file(path), pickle.loads(data)  # our own bytes
        assert loaded["dtype"] == native["dtype"] == dtype
        assert loaded["array"].dtype == native["array"].dtype
        assert loaded["array"].shape == native["array"].shape


def _dtype_pickle(spec: bytes, state: bytes, copy: bytes = TRUE) -> bytes:
    return p4(call(sg("numpy", "dtype"), spec, FALSE, copy) + state + BUILD)


@pytest.mark.parametrize("label,data", [
    ("field beyond the itemsize", _dtype_pickle(
        s("V8"), MARK + i(3) + s("|") + b"N" + MARK + s("a") + b"\x85" + EMPTY_DICT + MARK + s("a") +
        call(sg("numpy", "dtype"), s("f8"), FALSE, TRUE) + MARK + i(3) + s("<") + b"NNN" + i(-1) +
        i(-1) + i(0) + TUPLE + BUILD + i(10 ** 9) + b"\x86" + SETITEMS + i(8) + i(1) + i(16) + TUPLE)),
    ("itemsize that does not match", _dtype_pickle(
        s("f8"), MARK + i(3) + s("<") + b"NNN" + i(4096) + i(-1) + i(0) + TUPLE)),
    ("copy=False: the shared float64 dtype changed in place", _dtype_pickle(
        s("f8"), MARK + i(3) + s(">") + b"NNN" + i(-1) + i(-1) + i(0) + TUPLE, copy=FALSE)),
    ("metadata object", _dtype_pickle(
        s("f8"), MARK + i(4) + s("<") + b"NNN" + i(-1) + i(-1) + i(0) + EMPTY_DICT + TUPLE)),
    ("a dtype built twice", p4(call(sg("numpy", "dtype"), s("f8"), FALSE, TRUE) + b"2" +
                               MARK + i(3) + s("<") + b"NNN" + i(-1) + i(-1) + i(0) + TUPLE + BUILD +
                               b"0" + MARK + i(3) + s(">") + b"NNN" + i(-1) + i(-1) + i(0) + TUPLE +
                               BUILD)),
])
def test_dtype_states_numpy_would_not_write_are_refused(tmp_path, label, data):
    """numpy's dtype __setstate__ trusts its input (crafted states crash the interpreter): the
    scan and the loader rebuild dtypes through validating constructors and refuse the rest."""
    path = tmp_path / "m.pkl"
    path.write_bytes(data)
    try:
        assert not scan_model_file(path).safe, label
    except ValueError:
        pass
    with pytest.raises(SubjectError):
        load_model_file(path)
    assert np.dtype("f8").byteorder == "="


SHORT_OBJECT_ARRAY = p4(
    call(sg("numpy._core.multiarray", "_reconstruct"), sg("numpy", "ndarray"), MARK + i(0) + TUPLE,
         b"C\x01b") +
    MARK + i(1) + MARK + i(3) + TUPLE + call(sg("numpy", "dtype"), s("O8"), FALSE, TRUE) +
    MARK + i(3) + s("|") + b"NNN" + i(-1) + i(-1) + i(63) + TUPLE + BUILD + FALSE +
    b"]" + MARK + i(1) + b"e" + TUPLE + BUILD)


def test_array_states_numpy_would_not_write_are_refused(tmp_path):
    """An object array whose data list is shorter than its shape makes ndarray.__setstate__
    read past the list (a segfault): refused by the scan, and by the loader before NumPy
    sees it (checked in a subprocess, so a regression cannot take the test run down)."""
    import subprocess
    path = tmp_path / "m.pkl"
    path.write_bytes(SHORT_OBJECT_ARRAY)
    assert "one item per element" in scan_model_file(path).findings[0]["reason"]
    code = ("import sys; from pathlib import Path; from mlqa import SubjectError\n"
            "from mlqa._model_loading import load_model_file\n"
            "try:\n    load_model_file(Path(sys.argv[1]))\nexcept SubjectError as e:\n"
            "    print('refused', e)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("refused"), proc.stderr[-500:]
