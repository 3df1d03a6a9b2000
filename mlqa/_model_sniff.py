"""Is a file a model file at all? A cheap look at its first bytes, before any scan.

A `model.path` that points at a text file, an empty file, a directory or random bytes is a
mistake in the config (exit 2, at the line of `path:`), like a data file that cannot be
read — not a model that failed its security scan (a block, with findings). This look
never decides that a file is safe: whatever starts like a model (a zip archive, a
compressed stream, a pickle) is left to the scanner (`model_scan`), which still refuses
what it cannot verify and blocks what imports outside the allowlist.
"""
from __future__ import annotations

import bz2
import lzma
import pickletools
import zlib
from pathlib import Path
from typing import Any

#: a pickle of protocol 2 or later starts with PROTO; joblib and torch.save write these
_PROTO = b"\x80"
_ZIP = b"PK\x03\x04"       # skops archives and PyTorch checkpoints
_OLD_JOBLIB = b"ZF"        # joblib < 0.10: refused by the scanner with its own reason
#: most bytes of a protocol 0/1 pickle read before deciding it may be one (the scanner
#: reads the rest)
_MAX_TOKENISED = 16 << 20


def _decompressor(head: bytes) -> Any | None:
    """A decompressor for the stream `head` starts, or None when it starts none we know."""
    if head.startswith(b"\x78"):
        return zlib.decompressobj()
    if head.startswith(b"\x1f\x8b"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if head.startswith(b"BZ"):
        return bz2.BZ2Decompressor()
    if head.startswith(b"\xfd7zXZ"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    if head.startswith(b"\x5d\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    return None


def not_a_model(path: Path) -> str | None:
    """Why the file at `path` cannot be a model file (unreadable, a directory, empty, text
    or bytes no model format starts with), or None when it may be one."""
    path = Path(path)
    if path.is_dir():
        return "it is a directory"
    try:
        with path.open("rb") as f:
            head = f.read(64 << 10)
            if not head:
                return "the file is empty"
            if head.startswith((_ZIP, _PROTO, _OLD_JOBLIB, b"\x04\x22\x4d\x18")):  # (lz4: the scanner's)
                return None
            stream = _decompressor(head)
            if stream is not None:
                try:
                    stream.decompress(head, 1024)
                except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
                    pass  # not a compressed stream after all: maybe a protocol 0/1 pickle
                else:
                    return None
            f.seek(0)
            return _not_a_pickle(f)
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"


class _Capped:
    """A binary file read through at most `_MAX_TOKENISED` bytes."""

    def __init__(self, f: Any) -> None:
        self.f, self.left, self.capped = f, _MAX_TOKENISED, False

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n)
        self._took(len(data))
        return data

    def readline(self) -> bytes:
        data = self.f.readline(self.left)
        self._took(len(data))
        return data

    def tell(self) -> int:
        return _MAX_TOKENISED - self.left

    def _took(self, n: int) -> None:
        self.left -= n
        if self.left <= 0:
            self.capped = True


#: opcodes that import a name: with none of them, nothing in a stream can be called, so a
#: stream that breaks before its STOP cannot have run anything either
_IMPORTS = frozenset({"GLOBAL", "STACK_GLOBAL", "INST", "EXT1", "EXT2", "EXT4"})


def _not_a_pickle(f: Any) -> str | None:
    """Why the stream is not a protocol 0/1 pickle (the one model format left that starts
    with printable bytes), or None when it may be one: its opcodes read up to a STOP, or
    it imports a name before it breaks (what pickle.load would run before failing is the
    scanner's to judge: it blocks such a file with its findings)."""
    capped = _Capped(f)
    imports = False
    try:
        for op, arg, _pos in pickletools.genops(capped):
            imports = imports or (op.name in _IMPORTS and _names_a_global(op.name, arg))
            if op.name == "STOP":
                return None
    except Exception as exc:  # noqa: BLE001 - whatever stops the tokeniser: not a pickle
        if capped.capped or imports:
            return None  # too long to tell here, or it might run code: the scanner decides
        return (f"it starts with {_shown(f)}: not a skops archive, a PyTorch checkpoint, a joblib "
                f"file nor a pickle (as a pickle: {str(exc)[:80]})")
    if capped.capped or imports:
        return None
    return "a pickle stream that ends before its STOP (a truncated file)"


def _names_a_global(op: str, arg: Any) -> bool:
    """Whether an import opcode's argument could name something to import. GLOBAL and INST
    carry `module name` read off two text lines: text that merely starts with `c` or `i` (a
    CSV whose first column is `id` or `class`) reads as one, but its "module" is no dotted
    Python name, and pickle.load would fail to import it before anything ran."""
    if op not in ("GLOBAL", "INST"):
        return True
    parts = str(arg).split(" ")
    return len(parts) == 2 and all(p and all(w.isidentifier() for w in p.split(".")) for p in parts)


def _shown(f: Any) -> str:
    f.seek(0)
    head = f.read(24)
    text = head.decode("utf-8", "replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.9 * len(text)
    return f"text {text.splitlines()[0][:24]!r}" if printable and text.strip() else f"bytes {head[:8].hex(' ')}"
