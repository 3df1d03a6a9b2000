"""The control plane's stores on disk: a content-addressed model store (sha256-verified on
every read) and a checkpoint store (atomic writes, checksums, retention)."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_write, sha256_file


class CorruptArtifact(RuntimeError):
    """A stored file whose bytes no longer match the digest it was stored under."""


@dataclass(frozen=True)
class ModelStore:
    """Models stored under their sha256: `put` returns the digest, `path` verifies it."""

    root: Path

    def put(self, source: Path) -> str:
        digest = sha256_file(source)
        target = self.root / digest[:2] / (digest + "".join(source.suffixes))
        if not target.exists():
            atomic_write(target, source.read_bytes())
        return digest

    def path(self, digest: str) -> Path:
        """The stored file for `digest`, after checking its bytes still hash to it."""
        found = list((self.root / digest[:2]).glob(digest + "*"))
        if not found:
            raise KeyError(f"no model {digest[:12]} in {self.root}")
        actual = sha256_file(found[0])
        if actual != digest:
            raise CorruptArtifact(f"{found[0]} hashes to {actual[:12]}, not {digest[:12]}: refusing to serve it")
        return found[0]


_CKPT = re.compile(r"^step-(\d{8})\.ckpt$")


@dataclass(frozen=True)
class CheckpointStore:
    """Checkpoints `step-00000100.ckpt`, each with a `.sha256` written after it. `latest()`
    returns the newest whose bytes match its checksum, skipping (and reporting) any that do
    not; `save` keeps the newest `keep`. While `full_marker` exists the volume is full: a
    save fails with ENOSPC and leaves nothing behind (neither its temporary file nor a
    checkpoint without its checksum)."""

    root: Path
    keep: int = 3
    full_marker: Path | None = None

    def save(self, step: int, data: bytes) -> Path:
        path = self.root / f"step-{step:08d}.ckpt"
        self._write(path, data)
        try:
            self._write(path.with_suffix(".sha256"), hashlib.sha256(data).hexdigest().encode())
        except OSError:
            path.unlink(missing_ok=True)            # a checkpoint without its checksum is no checkpoint
            raise
        self._retain()
        return path

    def _write(self, path: Path, data: bytes) -> None:
        if self.full_marker is not None and self.full_marker.exists():
            _write_until_full(path, data)
        atomic_write(path, data)

    def steps(self) -> list[int]:
        return sorted(int(m.group(1)) for p in self.root.glob("step-*.ckpt") if (m := _CKPT.match(p.name)))

    def latest(self) -> tuple[int, bytes, list[str]] | None:
        """(step, bytes, rejected) of the newest intact checkpoint; `rejected` names the newer
        ones that failed their checksum. None when there is none."""
        rejected = []
        for step in reversed(self.steps()):
            path = self.root / f"step-{step:08d}.ckpt"
            try:
                data = path.read_bytes()
                want = path.with_suffix(".sha256").read_text().strip()
            except OSError:
                rejected.append(f"{path.name}: unreadable or without checksum")
                continue
            if hashlib.sha256(data).hexdigest() != want:
                rejected.append(f"{path.name}: checksum mismatch")
                continue
            return step, data, rejected
        return None

    def _retain(self) -> None:
        for step in self.steps()[:-self.keep] if self.keep > 0 else []:
            for suffix in (".ckpt", ".sha256"):
                (self.root / f"step-{step:08d}{suffix}").unlink(missing_ok=True)


def _write_until_full(path: Path, data: bytes) -> None:
    """What a full disk does to a write: part of it lands in the temporary file, then ENOSPC
    (the temporary file is removed, as atomic_write does on any failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data[:len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json(path: Path, value: object, *, durable: bool = True) -> None:
    atomic_write(path, json.dumps(value, indent=1, default=str).encode(), durable=durable)
