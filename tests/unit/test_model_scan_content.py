"""What a model file is comes from its bytes, never its name; a file that is more than one
thing is refused; a declared `format:` must agree with the content."""
from __future__ import annotations

import bz2
import gzip
import io
import pickle
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest

from mlqa import SubjectError
from mlqa._model_loading import load_model_file
from mlqa.model_scan import detect_format, scan_model_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model_corpus import ORDERED_DICT, _skops_bytes, _state_dict, _torch_bytes, fitted


def _joblib_bytes(obj, compress=0) -> bytes:
    buf = io.BytesIO()
    joblib.dump(obj, buf, compress=compress)
    return buf.getvalue()


@pytest.mark.parametrize("name", ["model.pkl", "model.joblib", "model.bin", "model"])
def test_format_comes_from_content_whatever_the_name(tmp_path, name):
    cases = {"pickle": pickle.dumps(fitted()), "joblib (none)": _joblib_bytes(fitted()),
             "joblib (zlib)": _joblib_bytes(fitted(), 3)}
    for expected, data in cases.items():
        (tmp_path / name).write_bytes(data)
        assert scan_model_file(tmp_path / name).format == expected
        assert load_model_file(tmp_path / name).coef_.shape == fitted().coef_.shape


def test_detect_format_by_magic():
    assert detect_format(b"PK\x03\x04rest") == "zip"
    assert detect_format(gzip.compress(b"x")) == "gzip"
    assert detect_format(bz2.compress(b"x")) == "bz2"
    assert detect_format(b"\x78\x9c") == "zlib"
    assert detect_format(b"\xfd7zXZ\x00") == "xz"
    assert detect_format(b"\x5d\x00\x00") == "lzma"
    assert detect_format(b"\x04\x22\x4d\x18") == "lz4"
    assert detect_format(pickle.dumps(1)) == "pickle"
    for bad in (b"", b"ZF0x", b"\x00\x01\x02"):
        with pytest.raises(ValueError):
            detect_format(bad)


def _refused(path: Path, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        scan_model_file(path)
    # refused either by the scan or, where the bytes do not even start like a model format
    # (a prefixed zip), as not a model file (exit 2): never loaded
    with pytest.raises(SubjectError, match="refusing to load|is not a model file"):
        load_model_file(path)


def test_pickle_followed_by_a_zip_is_refused_although_zipfile_sees_a_zip(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(ORDERED_DICT + _torch_bytes(_state_dict()))
    assert zipfile.is_zipfile(path)  # what the old scanner trusted
    _refused(path, "follow the end of the pickle")


@pytest.mark.parametrize("tail", [b"\x00", b"garbage", ORDERED_DICT])
def test_bytes_after_the_stop_are_refused(tmp_path, tail):
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(fitted()) + tail)
    _refused(path, "follow the end of the pickle")
    path.write_bytes(_joblib_bytes(fitted()) + tail)
    _refused(path, "follow the end of the pickle")


def test_a_zip_with_a_prefix_a_gap_or_a_tail_is_refused(tmp_path):
    good = _torch_bytes(_state_dict())
    path = tmp_path / "model.pt"
    path.write_bytes(good)
    assert scan_model_file(path).format == "torch"
    for data, match in ((b"#!junk\n" + good, "not a model file"),
                        (good + b"tail", "end-of-directory"),
                        (_with_gap(good), "bytes")):
        path.write_bytes(data)
        _refused(path, match)


def _with_gap(archive: bytes) -> bytes:
    """The same records rewritten by zipfile with junk bytes between two of them."""
    src = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, name in enumerate(src.namelist()):
            zf.writestr(name, src.read(name))
            if n == 0:
                zf.fp.write(b"\x80\x04junk")  # between the first and second record
                zf.start_dir = zf.fp.tell()
    return out.getvalue()


def test_a_compressed_stream_followed_by_more_data_is_refused(tmp_path):
    path = tmp_path / "model.joblib"
    data = _joblib_bytes(fitted(), ("gzip", 3))
    for tail in (b"x", gzip.compress(pickle.dumps(1))):  # junk, or a second gzip member
        path.write_bytes(data + tail)
        _refused(path, "follow the end of the gzip stream")
    path.write_bytes(data[:-10])
    _refused(path, "truncated|corrupt")


def test_a_decompression_bomb_is_refused(tmp_path, monkeypatch):
    from mlqa import model_scan
    monkeypatch.setattr(model_scan, "_MIN_INFLATE_LIMIT", 1 << 20)
    path = tmp_path / "model.joblib"
    path.write_bytes(bz2.compress(pickle.dumps(b"\0" * (8 << 20))))
    _refused(path, "decompression bomb")


def test_unverifiable_joblib_variants_are_refused(tmp_path):
    path = tmp_path / "model.joblib"
    path.write_bytes(b"\x04\x22\x4d\x18" + b"\0" * 20)
    _refused(path, "lz4")
    path.write_bytes(b"ZF0x00" + b"\0" * 20)
    _refused(path, "older than 0.10")


def test_a_skops_name_does_not_skip_the_scan(tmp_path):
    path = tmp_path / "model.skops"
    path.write_bytes(ORDERED_DICT)
    _refused(path, "named .skops but its content is pickle")
    path.write_bytes(_skops_bytes())
    assert scan_model_file(path).format == "skops"
    assert load_model_file(path).predict(np.ones((1, 3))).shape == (1,)


def test_declared_format_must_agree_with_content(tmp_path):
    jl, pk, sk = tmp_path / "a.joblib", tmp_path / "b.pkl", tmp_path / "c.skops"
    jl.write_bytes(_joblib_bytes(fitted()))
    pk.write_bytes(pickle.dumps(fitted()))
    sk.write_bytes(_skops_bytes())
    assert load_model_file(pk, "joblib") is not None     # joblib.load reads plain pickles
    assert load_model_file(jl, "joblib") is not None
    for path, declared in ((jl, "pickle"), (pk, "skops"), (sk, "pickle"), (jl, "skops")):
        with pytest.raises(SubjectError, match=f"declared `format: {declared}`"):
            load_model_file(path, declared)


def test_skops_findings_honour_trusted_types(tmp_path):
    credit = Path(__file__).resolve().parents[2] / "examples" / "credit" / "model.skops"
    report = scan_model_file(credit)
    assert report.format == "skops" and {f["opcode"] for f in report.findings} == {"skops type"}
    trusted = {f["global"] for f in report.findings}
    assert scan_model_file(credit, trusted).safe
    assert load_model_file(credit, trusted=tuple(trusted)).predict_proba is not None
