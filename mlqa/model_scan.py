"""Static scan of model files — plain pickles, joblib files (compressed or not), PyTorch zip
checkpoints and skops archives — decided by content, never by the file's name.

What a file *is* comes from its bytes, as the loaders decide it: a zip archive starts with
a local file header (`PK\\x03\\x04`); joblib picks its decompressor from the first bytes
(`x` zlib, `\\x1f\\x8b` gzip, `BZ` bz2, `\\xfd7zXZ` xz, `]\\x00` lzma, `\\x04\\x22\\x4d\\x18`
lz4, `ZF` its pre-0.10 format); anything else is read as a pickle stream. A file that is
more than one thing is refused before any of it is judged: bytes after the pickle's STOP
(an appended zip is found by `zipfile`, which reads archives from their end, while
`pickle.load`/`joblib.load` run the leading pickle), a zip with bytes before, between or
after its records, a compressed stream followed by more data.

Every pickle stream is walked by `_pickle_model` — the same reader the restricted loader
uses — once as `joblib.load` reads it (arrays after wrappers) and, when it holds joblib
arrays, once more as `pickle.load` would (the array bytes read as opcodes), because a file
the gate passes may be loaded either way in production. The PyTorch checkpoint's
`data.pkl` is walked with its storages checked against the archive's records; a skops
archive is judged by skops' own list of types it does not trust by default, minus the
model's `trusted:` names.
"""
from __future__ import annotations

import bz2
import lzma
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _pickle_model, _pickle_policy

#: joblib's compressor prefixes (joblib 1.6 `compressor.py`), in its detection order
_COMPRESSED = (("zlib", b"\x78"), ("gzip", b"\x1f\x8b"), ("bz2", b"BZ"), ("lzma", b"\x5d\x00"),
               ("xz", b"\xfd\x37\x7a\x58\x5a"), ("lz4", b"\x04\x22\x4d\x18"))
#: a decompressed stream may be at most this many times its compressed size (and at least
#: `_MIN_INFLATE_LIMIT` is always allowed): a few KiB of bz2 must not become gigabytes
_MAX_INFLATE_RATIO = 200
_MIN_INFLATE_LIMIT = 256 << 20
#: PyTorch storage types -> (dtype name, element size)
TORCH_STORAGES = {
    "torch.FloatStorage": ("float32", 4), "torch.DoubleStorage": ("float64", 8),
    "torch.HalfStorage": ("float16", 2), "torch.BFloat16Storage": ("bfloat16", 2),
    "torch.LongStorage": ("int64", 8), "torch.IntStorage": ("int32", 4),
    "torch.ShortStorage": ("int16", 2), "torch.CharStorage": ("int8", 1),
    "torch.ByteStorage": ("uint8", 1), "torch.BoolStorage": ("bool", 1),
    "torch.ComplexFloatStorage": ("complex64", 8), "torch.ComplexDoubleStorage": ("complex128", 16),
    "torch.UntypedStorage": ("uint8", 1),
}
_TORCH_MEMBERS = re.compile(r"(data\.pkl|byteorder|version|\.format_version|\.storage_alignment|"
                            r"\.data/version|\.data/serialization_id|data/\d+)")


@dataclass
class ScanReport:
    """What a scan found: `findings` (each a dict with the global, opcode, byte position,
    reason, and the zip `member` or joblib `sidecar` where there is one), every global the
    file names, and those it calls while loading."""
    path: str
    format: str
    findings: list[dict] = field(default_factory=list)
    globals_seen: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)

    @property
    def safe(self) -> bool:
        return not self.findings


@dataclass
class Decoded:
    """The bytes a loader reads, taken from the very bytes that were scanned."""
    kind: str                    # pickle | joblib | torch | skops
    payload: bytes               # the pickle stream (decompressed), data.pkl, or the archive
    records: dict[str, bytes] = field(default_factory=dict)  # torch: the archive's records
    prefix: str = ""             # torch: the archive's top folder, with its slash


def _fail(message: str) -> None:
    raise _pickle_model.ScanError(message)


# ------------------------------------------------------------------------------ content
def detect_format(data: bytes) -> str:
    """`zip`, a compressor name (`zlib`, `gzip`, `bz2`, `lzma`, `xz`, `lz4`), or `pickle`."""
    if data[:4] == b"PK\x03\x04":
        return "zip"
    if data[:2] == b"ZF":
        _fail("a joblib file older than 0.10 (its arrays are separate pickles the scanner "
              "cannot verify); re-save the model with a current joblib or skops")
    for name, prefix in _COMPRESSED:
        if data.startswith(prefix):
            return name
    if not data:
        _fail("the file is empty")
    import pickletools
    if data[0] not in {op.code.encode("latin-1")[0] for op in pickletools.opcodes}:
        _fail(f"not a model file: it starts with byte 0x{data[0]:02x}, neither a pickle "
              f"opcode, a zip archive nor a compressed joblib stream")
    return "pickle"


def _inflate(data: bytes, kind: str) -> bytes:
    limit = max(_MIN_INFLATE_LIMIT, _MAX_INFLATE_RATIO * len(data))
    if kind == "lz4":
        try:
            import lz4.frame  # type: ignore[import-not-found]
        except ImportError:
            _fail("an lz4-compressed joblib file cannot be verified without the lz4 package")
        d: Any = lz4.frame.LZ4FrameDecompressor()
    elif kind in ("zlib", "gzip"):
        d = zlib.decompressobj(zlib.MAX_WBITS | (16 if kind == "gzip" else 0))
    elif kind == "bz2":
        d = bz2.BZ2Decompressor()
    else:
        d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE)
    try:
        out = d.decompress(data, limit + 1)
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError, RuntimeError) as exc:
        _fail(f"the {kind} stream is corrupt ({exc})")
    if len(out) > limit:
        _fail(f"the {kind} stream inflates to more than {limit} bytes "
              f"({_MAX_INFLATE_RATIO}x its size): refused as a decompression bomb")
    if not d.eof:
        _fail(f"the {kind} stream is truncated")
    rest = d.unused_data
    if rest:
        _fail(f"{len(rest)} bytes follow the end of the {kind} stream: the file is more than "
              f"one thing")
    return out


def _zip_layout(data: bytes) -> list[zipfile.ZipInfo]:
    """The archive's entries, refusing bytes before, between or after its records."""
    eocd = len(data) - 22
    if eocd < 0 or data[eocd:eocd + 4] != b"PK\x05\x06":
        _fail("the zip archive does not end with its end-of-directory record (a comment or "
              "bytes appended after it)")
    _, _, _, _, _, size_cd, offset_cd, comment = struct.unpack("<4s4H2LH", data[eocd:])
    cd_end = eocd
    loc = eocd - 20
    if loc >= 0 and data[loc:loc + 4] == b"PK\x06\x07":  # zip64 records precede the end
        z64 = struct.unpack("<Q", data[loc + 8:loc + 16])[0]
        if data[z64:z64 + 4] != b"PK\x06\x06" or z64 + 56 != loc:
            _fail("zip64 end record misplaced")
        size_cd, offset_cd = struct.unpack("<2Q", data[z64 + 40:z64 + 56])
        cd_end = z64
    if comment or offset_cd + size_cd != cd_end:
        _fail("the zip archive has bytes between its directory and its end record")
    import io
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError, struct.error) as exc:
        _fail(f"corrupt zip archive ({exc})")
    expected = 0
    for zi in sorted(infos, key=lambda z: z.header_offset):
        off = zi.header_offset
        if off != expected or data[off:off + 4] != b"PK\x03\x04":
            _fail(f"the zip archive has {'a prefix' if expected == 0 else 'bytes'} "
                  f"before record {zi.filename!r}: the file is more than one thing")
        n, m = struct.unpack("<2H", data[off + 26:off + 30])
        end = off + 30 + n + m + zi.compress_size
        if zi.flag_bits & 0x08:  # a data descriptor follows the data
            if data[end:end + 4] == b"PK\x07\x08":
                end += 4
            crc_and_sizes = (4 + 8, 4 + 16)
            for size in crc_and_sizes:
                if struct.unpack("<L", data[end:end + 4])[0] == zi.CRC and \
                        end + size <= offset_cd and (end + size == offset_cd or
                                                     data[end + size:end + size + 4] == b"PK\x03\x04"):
                    end += size
                    break
            else:
                _fail(f"zip record {zi.filename!r} has an unreadable data descriptor")
        expected = end
    if expected != offset_cd:
        _fail("the zip archive has bytes between its last record and its directory")
    limit = max(_MIN_INFLATE_LIMIT, _MAX_INFLATE_RATIO * len(data))
    if sum(zi.file_size for zi in infos) > limit:
        _fail(f"the zip archive inflates to more than {limit} bytes: refused as a "
              f"decompression bomb")
    return infos


# ------------------------------------------------------------------------------ pickles
def _importable(name: str) -> bool:
    """Whether `pickle.load` could import the module of a global: a dotted identifier whose
    top-level package is installed (looked up, not imported)."""
    if not all(part.isidentifier() for part in name.split(".")) or "." not in name:
        return False
    import importlib.util
    try:
        return importlib.util.find_spec(name.split(".", 1)[0]) is not None
    except (ImportError, ValueError):
        return False


def _scan_pickle(payload: bytes, extra: frozenset[str], report: ScanReport) -> int:
    """Walk a pickle stream as joblib.load and, if it holds arrays, as pickle.load; returns
    the number of joblib arrays."""
    walk = _pickle_model.scan(payload, extra, arrays=True)
    report.findings += walk.findings
    report.globals_seen |= walk.globals_seen
    report.calls |= walk.calls
    if walk.arrays:
        plain = _pickle_model.scan_prefix(payload, extra)
        for f in plain.findings:
            # the array bytes read as opcodes: what matters is a name outside the allowlist
            # that pickle.load could import (memo collisions make odd but inert calls)
            module, _, attr = f["global"].rpartition(".")
            if _importable(f["global"]) and not _pickle_policy.is_safe_global(module, attr) \
                    and f not in report.findings:
                report.findings.append({**f, "loader": "pickle.load"})
    return walk.arrays


def torch_storages(records: dict[str, bytes], prefix: str) -> Any:
    """The persistent-id resolver of a checkpoint's data.pkl: each id must name a storage
    type, and a record of the archive whose size is the storage's; the loader builds a CPU
    storage from that record's bytes, the scan an inert symbol."""
    def storages(unpickler: _pickle_model.ModelUnpickler, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _pickle_model.ScanError(f"unexpected persistent id {pid!r:.80}")
        _, stype, key, location, numel = pid
        kind = unpickler.global_name(stype)
        if kind not in TORCH_STORAGES:
            raise _pickle_model.ScanError(f"persistent id with storage type {kind or stype!r:.80}")
        if not isinstance(key, str) or not isinstance(location, str) or type(numel) is not int:
            raise _pickle_model.ScanError("malformed storage reference")
        member = f"{prefix}data/{key}"
        dtype, size = TORCH_STORAGES[kind]
        if member not in records or len(records[member]) != numel * size:
            raise _pickle_model.ScanError(f"storage {key!r} does not match the archive's "
                                          f"record {member!r}")
        if not unpickler.real:
            return _pickle_model.Symbol(kind, (key,))
        import torch
        raw = records[member]
        untyped = torch.UntypedStorage.from_buffer(raw, dtype=torch.uint8) if raw \
            else torch.UntypedStorage(0)
        return torch.storage.TypedStorage(wrap_storage=untyped, dtype=getattr(torch, dtype),
                                          _internal=True)
    return storages


def _scan_zip(data: bytes, extra: frozenset[str], report: ScanReport) -> Decoded:
    infos = _zip_layout(data)
    import io
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = [zi.filename for zi in infos]
    if "schema.json" in names:
        report.format = "skops"
        try:
            from skops import io as sio
        except ImportError:
            _fail("a skops archive cannot be verified without skops (pip install skops)")
        try:
            untrusted = sio.get_untrusted_types(data=data)
        except Exception as exc:  # noqa: BLE001 - skops raises many kinds on a bad archive
            _fail(f"skops cannot read the archive ({exc})")
        for t in untrusted:
            if t not in extra:
                report.findings.append({"global": t, "opcode": "skops type", "position": -1,
                                        "member": "schema.json",
                                        "reason": "a type skops does not trust by default"})
        return Decoded("skops", data)
    tops = {n.split("/", 1)[0] for n in names}
    prefix = f"{next(iter(tops))}/" if len(tops) == 1 else ""
    if not prefix or f"{prefix}data.pkl" not in names:
        _fail("a zip archive that is neither a skops file (schema.json) nor a PyTorch "
              "checkpoint (<name>/data.pkl)")
    odd = [n for n in names if not _TORCH_MEMBERS.fullmatch(n[len(prefix):])]
    if odd:
        _fail(f"a PyTorch archive with records a state_dict checkpoint does not have "
              f"({', '.join(odd[:3])}): TorchScript code or extra pickles are not verified")
    records = {n: zf.read(n) for n in names}
    order = records.get(f"{prefix}byteorder", b"little")
    if order != b"little":
        _fail(f"a PyTorch checkpoint with byte order {order!r:.20} is not supported")
    report.format = "torch"
    payload = records[f"{prefix}data.pkl"]
    storages = torch_storages(records, prefix)
    walk = _pickle_model.scan(payload, extra, arrays=False, storages=storages)
    report.findings += [{**f, "member": f"{prefix}data.pkl"} for f in walk.findings]
    report.globals_seen |= walk.globals_seen
    report.calls |= walk.calls
    return Decoded("torch", payload, records, prefix)


def inspect_bytes(data: bytes, name: str, extra: frozenset[str] | set[str] = frozenset()
                  ) -> tuple[ScanReport, Decoded]:
    """Scan the bytes of a model file and keep what a loader needs. Raises
    `_pickle_model.ScanError` (a `ValueError`) when the file cannot be verified."""
    try:
        return _inspect(data, name, frozenset(extra))
    except _pickle_model.ScanError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt archive or stream: unverifiable
        raise _pickle_model.ScanError(f"cannot read the file ({type(exc).__name__}: {exc})") from None


def _inspect(data: bytes, name: str, extra: frozenset[str]) -> tuple[ScanReport, Decoded]:
    report = ScanReport(path=name, format="?")
    kind = detect_format(data)
    if kind == "zip":
        decoded = _scan_zip(data, extra, report)
    elif kind == "pickle":
        arrays = _scan_pickle(data, extra, report)
        report.format = "joblib (none)" if arrays else "pickle"
        decoded = Decoded("joblib" if arrays else "pickle", data)
    else:
        payload = _inflate(data, kind)
        _scan_pickle(payload, extra, report)
        report.format = f"joblib ({kind})"
        decoded = Decoded("joblib", payload)
    if name.lower().endswith(".skops") and decoded.kind != "skops":
        _fail(f"the file is named .skops but its content is {report.format}: refused (a "
              f"skops file is a zip archive with schema.json)")
    return report, decoded


def scan_model_file(path: str | Path, extra: frozenset[str] | set[str] = frozenset()) -> ScanReport:
    """Every global the file would import (or call) that is not allowed. Raises ValueError
    when the file cannot be verified (the caller treats that as unsafe)."""
    path = Path(path)
    return inspect_bytes(path.read_bytes(), str(path), extra)[0]
