"""A load run in the background, read while it runs: one locust process on a fixed open-model
schedule whose every completed request (intended send time, arrival, ok, status) can be read
at any moment — what chaos probes judge a steady state on, window by window.

    with LoadRun(ep, payload, rate=20, seconds=120, timeout_s=2) as run:
        run.start()
        ...                       # poll run.t0, run.requests(), run.scheduled(a, b)
    requests = run.stop()         # idempotent; the `with` block stops it too

Requests that never complete (stopped in flight, or lost) are absent: count them against
`scheduled(a, b)`. The locust process runs in its own session and is killed, with all it
started, by `stop()`, on leaving the `with` block, when the object is collected, and at exit;
locust also stops itself once the process that started it is gone (killed, say).
"""
from __future__ import annotations

import glob
import json
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

from ..procs import stop_groups
from ._locust import prepare, run_args, spawn

if TYPE_CHECKING:  # pragma: no cover
    from ..endpoint import Endpoint

#: spawn every user at once (locust warns above 100 per second)
SPAWN_RATE = 100
#: how long locust gets to stop its users and write what it has (it waits up to its
#: --stop-timeout of 2 s for requests in flight) before it is killed
STOP_GRACE_S = 5.0
#: intended send times are written to the microsecond: schedule slots match within this
_EPS = 1e-6


@dataclass(frozen=True)
class Request:
    """One completed request; times in epoch seconds."""

    intended: float  #: its scheduled send time (open model)
    done: float      #: when its answer (or error) arrived
    ok: bool         #: a 2xx/3xx answer
    status: int      #: the HTTP status, 0 for a connection error or timeout


class LoadRun:
    """`rate` requests per second on a fixed schedule (open model, latency from the intended
    send time) against `ep`'s inference route for up to `seconds`, by `users` locust users
    (default max(8, ceil(rate / 10))); each request gives up after `timeout_s`."""

    def __init__(self, ep: Endpoint, payload: dict, *, rate: float, users: int | None = None,
                 seconds: float = 3600, timeout_s: float = 10.0) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate!r}")
        if not seconds > 0 or not timeout_s > 0:
            raise ValueError("seconds and timeout_s must be positive")
        self.ep, self.payload, self.rate = ep, payload, float(rate)
        self.users = max(int(users), 1) if users else max(8, math.ceil(rate / 10))
        self.seconds, self.timeout_s = float(seconds), float(timeout_s)
        self._lock = threading.Lock()        # the files read so far and what they held
        self._stop_lock = threading.Lock()   # one stop at a time
        self._dir: str | None = None
        self._procs: list[subprocess.Popen] = []
        self._stderr: list[IO[bytes]] = []
        self._pid: int | None = None
        self._t0: float | None = None
        self._stopped_at: float | None = None
        self._stopped = False
        self._offsets: dict[str, int] = {}
        self._requests: list[Request] = []
        self._stderr_text = ""
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start locust in the background and return at once (it takes about a second to
        start sending: `t0` stays None until the schedule has begun)."""
        with self._stop_lock:
            if self._dir is not None or self._stopped:
                raise RuntimeError("a LoadRun starts once")
            self._dir = tempfile.mkdtemp(prefix="mlqa-live-")
            # the finalizer holds the process list, never self: collected or at exit, it cleans up
            self._finalizer = weakref.finalize(self, _cleanup, self._procs, self._stderr, self._dir)
            spec = {"host": self.ep.url, "route": self.ep.infer_route, "payload": self.payload,
                    "headers": self.ep.auth_headers(), "warmup_s": 0.0, "users_per_process": self.users,
                    "rate_per_process": self.rate, "live": True, "timeout_s": self.timeout_s,
                    "parent_pid": os.getpid()}
            try:
                _, env, base = prepare(spec, self._dir)
                err = open(Path(self._dir) / "locust.stderr", "wb")  # noqa: SIM115 - closed by _cleanup
                self._stderr.append(err)
                proc = spawn(base + run_args(self.users, max(self.users, SPAWN_RATE), self.seconds), env,
                             stderr=err, stdin=subprocess.DEVNULL)
                self._procs.append(proc)
                self._pid = proc.pid
            except BaseException:
                self._stopped = True
                self._finalizer()
                raise

    def stop(self) -> list[Request]:
        """Stop locust and every process it started; every request completed. Idempotent
        (later calls return the same list); safe in `finally`, also before `start()`."""
        with self._stop_lock:
            if self._stopped:
                with self._lock:
                    return list(self._requests)
            self._stopped = True
            if self._dir is None:
                return []
            self._stopped_at = time.time()
            try:
                stop_groups(self._procs, grace_s=STOP_GRACE_S)  # SIGTERM: locust writes what it has
            finally:
                try:
                    with self._lock:
                        self._read_t0()
                        self._read_new()
                        # locust sends nothing once it has the SIGTERM; one it sent in the
                        # instant before is past the schedule's end, so not counted
                        self._requests = [r for r in self._requests if r.intended < self._stopped_at]
                        self._stderr_text = self._read_stderr()
                finally:
                    self._procs.clear()
                    if self._finalizer is not None:
                        self._finalizer()  # closes the stderr file, removes the folder
            with self._lock:
                return list(self._requests)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ reading
    @property
    def pid(self) -> int | None:
        """The locust process (the leader of its process group); None before `start()`."""
        return self._pid

    @property
    def running(self) -> bool:
        """Whether locust still runs (False before `start()`, after `stop()`, or once it
        ended or died)."""
        procs = list(self._procs)
        return bool(procs) and procs[0].poll() is None

    @property
    def t0(self) -> float | None:
        """Epoch time of the schedule's first intended send, as locust set it at test start
        (None until locust has started)."""
        if self._t0 is None:
            with self._lock:
                self._read_t0()
        return self._t0

    def stderr(self) -> str:
        """What locust wrote on stderr (so far; all of it once stopped): why a run failed."""
        with self._lock:
            return self._stderr_text if self._stopped else self._read_stderr()

    def _read_stderr(self) -> str:
        if self._dir is None:
            return ""
        try:
            return (Path(self._dir) / "locust.stderr").read_bytes().decode(errors="replace")[-20000:]
        except OSError:
            return ""

    def requests(self) -> list[Request]:
        """Every request completed so far, in the order they completed (only what was added
        since the last call is read and parsed)."""
        with self._lock:
            if not self._stopped:
                self._read_new()
            return list(self._requests)

    def scheduled(self, start: float, end: float) -> int:
        """How many sends the schedule placed in [start, end) (epoch seconds): the slots
        t0 + i / rate from t0 until the run's end (its `seconds`, or `stop()`)."""
        t0 = self.t0
        if t0 is None:
            return 0
        last = t0 + math.ceil(self.seconds)
        if self._stopped_at is not None:
            last = min(last, self._stopped_at)
        a, b = max(start, t0), min(end, last)
        if not b > a:
            return 0
        return max(_slot(b - t0, self.rate) - _slot(a - t0, self.rate), 0)

    def _read_t0(self) -> None:
        if self._t0 is not None or self._dir is None:
            return
        for path in glob.glob(os.path.join(self._dir, "t0-*.json")):
            try:
                with open(path) as fh:
                    self._t0 = float(json.load(fh)["t0"])
                return
            except (OSError, ValueError, KeyError, TypeError):
                continue

    def _read_new(self) -> None:
        if self._dir is None:
            return
        for path in sorted(glob.glob(os.path.join(self._dir, "live-*.jsonl"))):
            offset = self._offsets.get(path, 0)
            try:
                with open(path, "rb") as fh:
                    fh.seek(offset)
                    chunk = fh.read()
            except OSError:
                continue
            end = chunk.rfind(b"\n") + 1  # a line still being written waits for its newline
            if not end:
                continue
            self._offsets[path] = offset + end
            for line in chunk[:end].splitlines():
                got = _parse(line)
                if got is not None:
                    self._requests.append(got)


def _slot(offset_s: float, rate: float) -> int:
    """The first schedule slot i with t0 + i / rate >= t0 + offset_s."""
    return max(math.ceil(offset_s * rate - _EPS * rate), 0)


def _parse(line: bytes) -> Request | None:
    try:
        intended, done, ok, status = line.strip().lstrip(b"[").rstrip(b"]").split(b",")
        return Request(intended=float(intended), done=float(done), ok=ok.strip() == b"1",
                       status=int(status))
    except ValueError:
        return None


def _cleanup(procs: list[subprocess.Popen], files: list[IO[bytes]], folder: str) -> None:
    """Kill what still runs, close the stderr file, remove the run's folder."""
    try:
        if procs:
            stop_groups(procs, grace_s=STOP_GRACE_S)
            procs.clear()
    finally:
        for fh in files:
            fh.close()
        files.clear()
        shutil.rmtree(folder, ignore_errors=True)
