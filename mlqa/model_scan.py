"""Static scan of pickle-based model files — plain pickles, joblib files (compressed or not)
and PyTorch zip checkpoints — without loading them.

Plain pickles and the `data.pkl` of a PyTorch zip are walked opcode by opcode
(`_pickle_scan.scan_bytes`). joblib writes raw array bytes between pickle opcodes, so a
joblib file is walked by a *symbolic* unpickler: every global becomes an inert placeholder
(nothing is imported, nothing runs), and after each `NumpyArrayWrapper` it skips exactly the
array bytes joblib wrote, recursing into object arrays' nested pickles.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from . import _pickle_scan

_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"


@dataclass
class ScanReport:
    path: str
    format: str
    findings: list[dict] = field(default_factory=list)
    globals_seen: set[str] = field(default_factory=set)

    @property
    def safe(self) -> bool:
        return not self.findings


class _Symbol:
    """An inert stand-in for whatever a global would have built."""

    _global = "?"

    def __init__(self, *args, **kwargs):
        self.args, self.state = args, None

    def __setstate__(self, state):
        self.state = state

    def __call__(self, *args, **kwargs):
        return _Symbol(*args)


def _symbol_class(name: str) -> type:
    return type("Symbol", (_Symbol,), {"_global": name})


class _Walker(pickle._Unpickler):  # the pure-Python unpickler, so its dispatch can be extended
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, stream: io.BytesIO, report: ScanReport, extra: frozenset[str]):
        super().__init__(stream)
        self.stream, self.report, self.extra = stream, report, extra

    def find_class(self, module: str, name: str):
        full = f"{module}.{name}"
        self.report.globals_seen.add(full)
        if not _pickle_scan.is_safe_global(module, name, self.extra):
            self.report.findings.append({"global": full, "opcode": "GLOBAL/STACK_GLOBAL",
                                         "position": self.stream.tell()})
        return _symbol_class(full)

    def persistent_load(self, pid):
        return _Symbol(pid)

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, _Symbol):
            inst.__setstate__(state)
            if inst._global == _WRAPPER and isinstance(state, dict):
                self._skip_array(state)
        elif isinstance(inst, dict) and isinstance(state, dict):
            inst.update(state)
    dispatch[pickle.BUILD[0]] = load_build

    def _skip_array(self, state: dict) -> None:
        import numpy as np
        dtype = state.get("dtype")
        code = dtype.args[0] if isinstance(dtype, _Symbol) and dtype.args else None
        shape = state.get("shape") or ()
        count = 1
        for s in shape:
            count *= int(s)
        if code in (None, "O", "|O") or (isinstance(code, str) and "O" in code):
            nested = _Walker(self.stream, self.report, self.extra)
            nested.load()  # the object array's own pickle stream
            return
        itemsize = np.dtype(code).itemsize
        if state.get("numpy_array_alignment_bytes") is not None:
            pad = self.stream.read(1)
            self.stream.read(int.from_bytes(pad, "little"))
        self.stream.read(count * itemsize)


def _decompress(data: bytes) -> tuple[bytes, str]:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data), "gzip"
    if data[:3] == b"BZh":
        return bz2.decompress(data), "bz2"
    if data[:6] == b"\xfd7zXZ\x00" or data[:3] == b"]\x00\x00":
        return lzma.decompress(data), "lzma"
    if data[:1] == b"x" and len(data) > 2 and (data[0] * 256 + data[1]) % 31 == 0:
        return zlib.decompress(data), "zlib"
    if data[:4] == b"\x04\x22\x4d\x18":
        raise ValueError("lz4-compressed joblib files cannot be verified without the lz4 package")
    if data[:2] == b"ZF":
        raise ValueError("joblib files older than 0.10 cannot be verified; re-save the model")
    return data, "none"


def scan_joblib(data: bytes, report: ScanReport, extra: frozenset[str]) -> None:
    raw, compression = _decompress(data)
    report.format = f"joblib ({compression})"
    stream = io.BytesIO(raw)
    while stream.tell() < len(raw):
        _Walker(stream, report, extra).load()


def scan_torch_zip(path: Path, report: ScanReport, extra: frozenset[str]) -> None:
    with zipfile.ZipFile(path) as zf:
        pickles = [n for n in zf.namelist() if n.endswith(".pkl")]
        if not pickles:
            raise ValueError("a zip without a .pkl member is not a PyTorch checkpoint")
        for name in pickles:
            for f in _pickle_scan.scan_bytes(zf.read(name), extra):
                report.findings.append({**f, "member": name})


def detect_format(path: Path, data: bytes) -> str:
    if zipfile.is_zipfile(path):
        return "torch"
    if path.suffix.lower() in (".joblib", ".jbl") or data[:2] in (b"\x1f\x8b", b"BZ", b"ZF") or data[:1] == b"x":
        return "joblib"
    return "pickle"


def scan_model_file(path: str | Path, extra: frozenset[str] | set[str] = frozenset()) -> ScanReport:
    """Every global the file would import that is not on the allowlist. Raises ValueError
    when the file cannot be verified (the caller treats that as unsafe)."""
    path = Path(path)
    data = path.read_bytes()
    extra = frozenset(extra)
    report = ScanReport(path=str(path), format=detect_format(path, data))
    if report.format == "torch":
        scan_torch_zip(path, report, extra)
    elif report.format == "joblib":
        try:
            scan_joblib(data, report, extra)
        except (pickle.UnpicklingError, EOFError, ValueError, IndexError, TypeError, AttributeError,
                KeyError, zlib.error, OSError, lzma.LZMAError) as exc:
            raise ValueError(f"cannot verify joblib stream: {exc}") from None
    else:
        report.findings = _pickle_scan.scan_bytes(data, extra)
    return report
