"""Allowlist scanner for pickle streams: which globals would loading import or call?

A pickle runs code by importing a global (GLOBAL / STACK_GLOBAL / INST) and calling it
(REDUCE, NEWOBJ, BUILD...). Blocklists of "dangerous" callables are routinely bypassed
(importlib, attribute chains, numpy.testing helpers that exec), so the question is
inverted: every global must be an exact entry of an allowlist generated from what real
model pickles use (`mlqa._pickle_policy`), defined where its name says, and called only
within bounds. This module is the small public face of that machinery:

- `scan_bytes`: findings (global, opcode, byte position, reason) of one pickle stream,
  walked by `mlqa._pickle_model` without running anything;
- `RestrictedUnpickler`: loads a plain pickle through the *same* reader in its real mode,
  so a stream the scan passes is read identically, and anything it would report raises
  `pickle.UnpicklingError` before it is resolved.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import IO, Any

from . import _pickle_model
from ._pickle_policy import REFERENCED as SAFE_GLOBALS
from ._pickle_policy import is_safe_global

__all__ = ["SAFE_GLOBALS", "RestrictedUnpickler", "is_safe_global", "scan_bytes", "scan_file"]


def scan_bytes(data: bytes, extra: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """Findings for one plain pickle stream (as `pickle.load` reads it). Raises `ValueError`
    when the stream cannot be followed to its STOP, or has bytes after it."""
    return _pickle_model.scan(data, frozenset(extra), arrays=False).findings


def scan_file(path: str | Path, extra: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """`scan_bytes` of a plain pickle file."""
    return scan_bytes(Path(path).read_bytes(), extra)


class RestrictedUnpickler:
    """`pickle.Unpickler`'s interface over mlqa's restricted reader: `load()` refuses, with
    `pickle.UnpicklingError`, any global outside the allowlist (or `extra`) and any call
    outside its bounds, before resolving or calling it."""

    extra: frozenset[str] = frozenset()

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def load(self) -> Any:
        data = self._file.read()
        unpickler = _pickle_model.ModelUnpickler(io.BytesIO(data), extra=self.extra,
                                                 real=True, arrays=False)
        try:
            return unpickler.load()
        except _pickle_model.Refused as exc:
            f = exc.finding
            raise pickle.UnpicklingError(f"global {f['global']} is not on the allowlist "
                                         f"({f.get('reason')})") from None
