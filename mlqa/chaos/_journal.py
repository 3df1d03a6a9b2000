"""The append-only journal of a run, and the lock on its target.

Every fault is written (and fsynced) *before* it is injected, with the action that reverts
it, and marked once reverted. The journal lives in two places: the run's report folder
(for the record) and a well-known state folder (`$MLQA_STATE_DIR`, else
`$XDG_STATE_HOME/mlqa`, else `~/.local/state/mlqa`), where `mlqa chaos recover` finds what a
dead runner left. The lock is an `flock` on a file per target: the kernel releases it when
its holder dies, however it dies, so a lock is never stale; the file says who holds it."""
from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MlqaError


class ChaosError(MlqaError):
    """A chaos run that cannot start or go on (target busy, unreachable, bad plan)."""


def state_root() -> Path:
    """The well-known folder for journals and locks."""
    if os.environ.get("MLQA_STATE_DIR"):
        return Path(os.environ["MLQA_STATE_DIR"]) / "chaos"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mlqa" / "chaos"


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


class Journal:
    """Append-only JSON lines, fsynced, written to every path in `paths`; those in `fresh`
    (a report folder's copy, which a new run replaces like its results.json) start empty."""

    def __init__(self, paths: list[Path], run_id: str, *, fresh: tuple[Path, ...] = ()) -> None:
        self.paths = paths
        self.run_id = run_id
        for p in paths:
            p.parent.mkdir(parents=True, exist_ok=True)
        self._files = [open(p, "w" if p in fresh else "a", encoding="utf-8") for p in paths]

    def write(self, op: str, **detail: Any) -> None:
        line = json.dumps({"op": op, "at": time.time(), **detail}, default=str, sort_keys=True) + "\n"
        for fh in self._files:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def close(self) -> None:
        for fh in self._files:
            fh.close()
        self._files = []


def read_journal(path: Path) -> list[dict]:
    """The entries of a journal; a torn last line (the runner died mid-write) is ignored."""
    out = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("op"), str):
            out.append(entry)
    return out


@dataclass(frozen=True)
class Pending:
    """A fault journaled as (about to be) injected and never marked reverted."""

    fault_id: str
    label: str
    reverts: tuple[dict, ...]


def pending_faults(entries: list[dict]) -> list[Pending]:
    reverted = {e.get("fault_id") for e in entries if e["op"] == "reverted"}
    out = []
    for e in entries:
        if e["op"] == "inject" and e.get("fault_id") not in reverted:
            reverts = e.get("reverts")
            out.append(Pending(fault_id=str(e.get("fault_id")), label=str(e.get("label", "")),
                               reverts=tuple(r for r in reverts if isinstance(r, dict))
                               if isinstance(reverts, list) else ()))
    return out


def journals(root: Path | None = None) -> Iterator[Path]:
    folder = (root or state_root()) / "journals"
    if folder.is_dir():
        yield from sorted(folder.glob("*.jsonl"))


class TargetLock:
    """One runner per target. `acquire` raises ChaosError naming the live holder."""

    def __init__(self, key: str, root: Path | None = None) -> None:
        self.path = (root or state_root()) / "locks" / f"{key}.lock"
        self._fd: int | None = None

    def acquire(self, what: str) -> None:
        import fcntl
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ChaosError(f"another chaos runner holds {what} ({holder}); wait for it to finish, or, if it "
                             f"died, its lock is already free — run `mlqa chaos recover`") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}".encode(), 0)
        self._fd = fd

    def held_elsewhere(self) -> bool:
        """True when a live process holds the lock (without taking it)."""
        import fcntl
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)          # closing drops the lock we may just have taken
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
