"""The mlqa side of a model worker: start it, talk to it under a deadline, kill it.

`ModelProcess` owns one worker (`python -m mlqa._model_worker`) in a process group of its
own, with the resource limits of `Limits`. The worker starts loading as soon as the
process is made, so models load while mlqa reads the data. Every call waits in short
slices and watches the calling check's deadline (`mlqa.deadline.current()`): when it
passes, the worker's whole process group (and anything it forked) is killed at once, the
call raises `Cancelled`, and the next call starts a fresh worker — a model that holds the
GIL, loops forever or sleeps costs at most its check's timeout. A worker that exits, is
killed, or replies outside the wire format raises `WorkerError`; the checks that needed
it are `error`. mlqa never unpickles anything a worker sends (`mlqa._worker_wire`).
"""
from __future__ import annotations

import atexit
import os
import select
import signal
import struct
import tempfile
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from .deadline import Cancelled, Deadline, current
from .errors import SubjectError
from ._worker_launch import WorkerError, _Child, _exec_worker, _fork_worker
from ._worker_wire import MAX_REPLY_BYTES, WireError, parse_reply, request_frame

__all__ = ["FORK", "Limits", "MAX_CLASSES", "MAX_RESTARTS", "ModelCallError", "ModelProcess", "WorkerError"]

_POLL_S = 0.05
#: how many times a worker that died in a call is restarted before its model is given up
MAX_RESTARTS = 5
#: the most classes a classifier may declare (more is a worker trying to flood mlqa's memory)
MAX_CLASSES = 100_000


class ModelCallError(SubjectError):
    """The model raised in its worker (the message carries its exception and where)."""


@dataclass(frozen=True)
class Limits:
    """What a model worker may use. Defaults: 8 GiB of address space (a model that grows
    past it gets MemoryError; numpy/BLAS reserve about 2 GiB of it at import), an hour of
    CPU time over the worker's life (each check's own deadline is the tighter bound),
    1024 open files, 256 more processes/threads than the user runs (bounds a fork bomb),
    no core dumps, and 600 s to load."""

    memory_bytes: int = 8 << 30
    cpu_s: int = 3600
    open_files: int = 1024
    processes: int = 256
    load_timeout_s: float = 600.0

    def for_worker(self) -> dict[str, Any]:
        return {"memory_bytes": self.memory_bytes, "cpu_s": self.cpu_s,
                "open_files": self.open_files, "processes": self.processes}


_LIVE: "weakref.WeakSet[ModelProcess]" = weakref.WeakSet()


@atexit.register
def _kill_all() -> None:  # pragma: no cover - at interpreter exit
    for proc in list(_LIVE):
        proc.close()


class ModelProcess:
    """One model loaded in a worker process. `spec` says what to load: ``{"kind": "file",
    "path", "format", "trusted"}`` or ``{"kind": "python", "ref", "base"}``."""

    def __init__(self, spec: dict[str, Any], limits: Limits = Limits(), *, name: str = "model") -> None:
        self.spec = spec
        self.limits = limits
        self.name = name
        self.restarts = 0
        self.generation = 0
        self._seq = 0
        self._closed = False
        self._killed_by_mlqa = False
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._out: int | None = None
        self._stderr: Any = None
        self._info: dict[str, Any] | None = None
        self._load_error: str | None = None
        self._died: str | None = None
        _LIVE.add(self)
        self._spawn()

    # ------------------------------------------------------------------ life
    def _spawn(self) -> None:
        """Fork the worker from this process when it runs a single thread (the libraries
        mlqa already imported are shared, so a worker starts in milliseconds), else start
        a fresh interpreter (``python -m mlqa._model_worker``)."""
        if self._stderr is not None:
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()
        self._info = None
        self._seq = 0  # the load request; each call counts on from it
        self.generation += 1  # clones fitted in an earlier worker are gone with it
        self._pending = request_frame({"limits": self.limits.for_worker(), "spec": self.spec})
        if FORK and hasattr(os, "fork") and threading.active_count() == 1:
            self._child = _fork_worker(self._stderr.fileno())
        else:
            self._child = _exec_worker(self._stderr)
        self._out = self._child.reply_fd
        os.set_blocking(self._child.request_fd, False)
        try:  # the load request now (it fits the pipe), so the model loads while mlqa goes on
            self._pending = self._pending[os.write(self._child.request_fd, self._pending):]
        except (BlockingIOError, BrokenPipeError):
            pass

    def close(self) -> None:
        """Kill the worker and everything it started, for good: later calls are errors."""
        self._closed = True
        child = self._child
        if child is not None:
            child.kill()  # a call in flight on another thread sees EOF and lets go of the lock
        if self._lock.acquire(timeout=5):
            try:
                self._kill()
            finally:
                self._lock.release()
        else:  # pragma: no cover - a caller that never lets go: its fds stay open, the worker is dead
            pass
        if self._stderr is not None and self._child is None:
            self._stderr.close()
            self._stderr = None

    def _kill(self) -> None:
        """Kill the worker and close its pipes (the caller holds the lock or is alone)."""
        child, self._child = self._child, None
        if child is None:
            return
        child.kill()
        for fd in (child.request_fd, child.reply_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._out = None
        child.wait(5)

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    # ------------------------------------------------------------------ calls
    def info(self, deadline: Deadline | None = None) -> dict[str, Any]:
        """What the loaded model offers (has_predict, has_proba, type, classes); waits for
        the load. Raises `WorkerError` when the model could not be loaded."""
        with self._locked(deadline):
            self._ensure_loaded(deadline)
            assert self._info is not None
            return self._info

    def call(self, op: str, deadline: Deadline | None = None, *, generation: int | None = None,
             **payload: Any) -> tuple[dict[str, Any], list]:
        """Send one request, return the reply's header and arrays. `generation`: the worker
        a clone handle belongs to (a restarted worker does not have it)."""
        deadline = deadline or current()
        with self._locked(deadline):
            self._ensure_loaded(deadline)
            if generation is not None and generation != self.generation:
                raise WorkerError(f"the {self.name}'s worker was restarted: the fitted clone it held is gone")
            self._seq += 1
            self._pending = request_frame({"op": op, "seq": self._seq, **payload})
            header, arrays = self._exchange(deadline, what=op)
            if not header.get("ok"):
                raise ModelCallError(f"the {self.name}'s {header.get('where', op)} raised "
                                     f"{str(header.get('error', 'an error'))[:2000]} (in its worker process)")
            if op in ("predict", "predict_proba") and len(arrays) != 1:
                self._kill()
                raise WorkerError(f"the {self.name}'s worker broke the wire format: it answered {op} with "
                                  f"{len(arrays)} arrays, not 1; killed")
            return header, arrays

    def _locked(self, deadline: Deadline | None):
        proc = self

        class _Hold:
            def __enter__(self_inner) -> None:
                dl = deadline or current()
                while not proc._lock.acquire(timeout=_POLL_S):
                    dl.check()

            def __exit__(self_inner, *exc: Any) -> None:
                proc._lock.release()
        return _Hold()

    def _ensure_loaded(self, deadline: Deadline | None) -> None:
        if self._load_error is not None:
            raise WorkerError(self._load_error)
        if self._closed:
            raise WorkerError(f"the {self.name}'s worker was closed")
        if self._child is None:
            if not self._killed_by_mlqa:  # only deaths mlqa did not cause count
                if self.restarts >= MAX_RESTARTS:
                    raise WorkerError(f"the {self.name}'s worker died {self.restarts} times ({self._died}); "
                                      f"not restarted again")
                self.restarts += 1
            self._killed_by_mlqa = False
            self._spawn()
        if self._info is not None:
            return
        load = Deadline(self.limits.load_timeout_s)
        outer = deadline or current()
        try:
            header, arrays = self._exchange(_Either(load, outer), what="load")
            if not header.get("ok"):
                raise WorkerError(str(header.get("error"))[:2000])
            self._info = {**header, "classes": _classes(header, arrays)}
        except Cancelled:
            if load.cancelled and not outer.cancelled:
                self._load_error = (f"the {self.name} did not load within "
                                    f"{self.limits.load_timeout_s:g}s; its worker was killed")
                raise WorkerError(self._load_error) from None
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the worker sent, the load failed
            self._kill()
            self._load_error = f"the {self.name} could not be loaded: {exc}"
            raise WorkerError(self._load_error) from None

    def _exchange(self, deadline: "Deadline | _Either", what: str) -> tuple[dict[str, Any], list]:
        """Write the pending request, read one reply; kill the worker on any failure."""
        try:
            self._send(deadline)
            (size,) = struct.unpack(">Q", self._read(8, deadline))
            if size > MAX_REPLY_BYTES:
                raise WireError(f"a reply of {size} bytes (the most mlqa reads is {MAX_REPLY_BYTES})")
            header, arrays = parse_reply(self._read(size, deadline))
            if header.get("seq") != self._seq:
                raise WireError(f"a reply to request {header.get('seq')!r} while waiting for {self._seq}")
            return header, arrays
        except Cancelled:
            self._kill()
            self._killed_by_mlqa = True  # at a check's deadline: not the model's death
            raise
        except WireError as exc:
            self._kill()
            raise WorkerError(f"the {self.name}'s worker broke the wire format during {what}: {exc}; "
                              f"killed") from None
        except (BrokenPipeError, EOFError, OSError):
            reason = self._death_reason()
            self._died = reason
            self._kill()
            raise WorkerError(f"the {self.name}'s worker {reason} during {what}") from None

    def _send(self, deadline: "Deadline | _Either") -> None:
        assert self._child is not None
        fd = self._child.request_fd
        view = memoryview(self._pending)
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        while view:
            deadline.check()
            if poller.poll(_POLL_S * 1000):
                try:
                    view = view[os.write(fd, view[:1 << 20]):]
                except BlockingIOError:
                    continue
        self._pending = b""

    def _read(self, n: int, deadline: "Deadline | _Either") -> bytes:
        assert self._out is not None
        chunks, got = [], 0
        poller = select.poll()
        poller.register(self._out, select.POLLIN)
        while got < n:
            deadline.check()
            if not poller.poll(_POLL_S * 1000):
                continue
            chunk = os.read(self._out, min(n - got, 1 << 22))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _death_reason(self) -> str:
        code = self._child.wait(2) if self._child is not None else None
        if code is None:
            why = "stopped answering"
        elif code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = str(-code)
            hint = {"SIGKILL": " (killed: out of memory, or its CPU-time limit)",
                    "SIGXCPU": " (its CPU-time limit)", "SIGSEGV": " (a crash in native code)"}.get(sig, "")
            why = f"was killed by {sig}{hint}"
        else:
            why = f"exited with code {code}"
        tail = self._stderr_tail()
        return why + (f"; its stderr ends: {tail}" if tail else "")

    def _stderr_tail(self, limit: int = 600) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - limit))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError, AttributeError):
            return ""


def _classes(header: dict[str, Any], arrays: list) -> list | None:
    """The classes a loaded model declares: one row of distinct labels, not too many."""
    if not header.get("has_classes"):
        return None
    if len(arrays) != 1 or arrays[0].ndim != 1:
        raise WorkerError("its classes_ is not one row of labels")
    if arrays[0].size > MAX_CLASSES:
        raise WorkerError(f"it declares {arrays[0].size} classes (at most {MAX_CLASSES} are read)")
    return arrays[0].tolist()


class _Either:
    """Two deadlines as one: cancelled when either is."""

    def __init__(self, a: Deadline, b: Deadline) -> None:
        self.a, self.b = a, b

    def check(self) -> None:
        self.a.check()
        self.b.check()


#: fork workers from mlqa's process where it is single-threaded (tests turn it off to
#: exercise the fresh-interpreter path)
FORK = True
