"""Child processes mlqa starts (locust, servers, scanners, the stack): a free loopback
port, running a command under a check's deadline, stopping a process together with
everything it started, a snapshot of the process table, a process's identity (its pid and
start time: a pid alone may have been reused by another program), and a child's lease on
its parent (it dies with it). Through psutil: Linux and macOS alike."""
from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .deadline import Deadline

#: two start times closer than this are the same process's (psutil reads the same clock twice)
_SAME_START_S = 0.01


def _psutil():  # imported lazily: `import mlqa` stays light
    import psutil
    return psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process group (started with start_new_session=True), SIGKILL after a grace."""
    stop_groups([proc], grace_s)


def stop_groups(procs: list[subprocess.Popen], grace_s: float = 5.0) -> None:
    """SIGTERM every process group at once, wait one shared grace period, then SIGKILL the
    groups still alive (so stopping N processes never takes N grace periods)."""
    for proc in procs:
        _killpg(proc, signal.SIGTERM)
    end = time.monotonic() + grace_s
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs:
        _killpg(proc, signal.SIGKILL)  # also what the leader left behind in its group
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _killpg(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_tree(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM `proc` and every process below it in the process tree, SIGKILL what is left
    after a grace period. For children that stay in mlqa's own process group (so that a
    kill of the whole group, a CI job's cancel, reaches them too)."""
    table = ProcessTable(with_environ=False)
    pids = table.descendants([proc.pid])
    table.signal(pids, signal.SIGTERM)
    end = time.monotonic() + grace_s
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    others = pids - {proc.pid}
    while time.monotonic() < end and any(table.alive(p) for p in others):
        time.sleep(0.05)
    table.signal({p for p in pids if p != proc.pid and table.alive(p)}, signal.SIGKILL)
    _kill_child(proc)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _kill_child(proc: subprocess.Popen) -> None:
    """SIGKILL our own child unless it was already reaped (a reaped pid may be another's)."""
    if proc.poll() is None:
        try:
            proc.kill()
        except (ProcessLookupError, PermissionError):
            pass


@dataclass(frozen=True)
class ProcessId:
    """A process as mlqa knows it: its pid and its start time (seconds since the epoch, as
    psutil reads it). A pid is reused once its process is gone; the pair is not, so a
    process is signalled only when both still match."""

    pid: int
    started: float

    @classmethod
    def of(cls, pid: int) -> "ProcessId | None":
        """The identity of the process running as `pid` now; None when there is none."""
        ps = _psutil()
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            return None
        try:
            return cls(pid, ps.Process(pid).create_time())
        except ps.Error:
            return None

    def process(self) -> Any:
        """The psutil.Process, or None when this process is gone (or a zombie) or its pid
        now belongs to another process."""
        ps = _psutil()
        try:
            p = ps.Process(self.pid)
            if abs(p.create_time() - self.started) > _SAME_START_S or p.status() == ps.STATUS_ZOMBIE:
                return None
            return p
        except ps.Error:
            return None

    def alive(self) -> bool:
        """Whether this very process still runs (not a zombie, its pid not reused)."""
        _reap(self.pid)
        return self.process() is not None

    def environ(self) -> dict[str, str] | None:
        """Its environment; None when it is gone or cannot be read."""
        p = self.process()
        if p is None:
            return None
        try:
            return p.environ()
        except (_psutil().Error, OSError):
            return None

    def signal(self, sig: int) -> bool:
        """Send `sig` when this very process still runs; False when it did not (gone, or the
        pid now another process's: never signalled)."""
        p = self.process()
        if p is None:
            return False
        try:
            p.send_signal(sig)       # psutil checks the start time again just before
            return True
        except (_psutil().Error, OSError):
            return False


class ProcessTable:
    """One snapshot of the process table: every live process's parent, start time and, when
    asked, environment. Take one snapshot and ask it many questions (each node's processes)
    instead of walking the table once per question. Zombies are left out; this process is
    never in `tagged` (its environment is not read)."""

    def __init__(self, with_environ: bool = True) -> None:
        ps = _psutil()
        self.ppids: dict[int, int] = {}
        self.started: dict[int, float] = {}
        self.environs: dict[int, dict[str, str]] = {}
        me = os.getpid()
        for p in ps.process_iter(["ppid", "create_time", "status"]):
            info = p.info
            if info.get("ppid") is None or info.get("create_time") is None or info.get("status") == ps.STATUS_ZOMBIE:
                continue
            self.ppids[p.pid] = info["ppid"]
            self.started[p.pid] = info["create_time"]
            if with_environ and p.pid != me:
                try:
                    self.environs[p.pid] = p.environ()
                except (ps.Error, OSError):
                    pass
        self.children: dict[int, list[int]] = {}
        for pid, parent in self.ppids.items():
            if pid != parent:
                self.children.setdefault(parent, []).append(pid)

    def descendants(self, roots: Iterable[int]) -> set[int]:
        """`roots` and every process below them in the process tree — including children
        that started their own session or process group, which killpg would miss."""
        found: set[int] = set()
        todo = [r for r in roots if r > 0]
        while todo:
            pid = todo.pop()
            if pid in found:
                continue
            found.add(pid)
            todo.extend(self.children.get(pid, ()))
        return found

    def tagged(self, **env: str) -> set[int]:
        """Processes whose environment holds every `KEY=value` given: finds a node's
        processes even after they were orphaned and re-parented."""
        return {pid for pid, environ in self.environs.items() if all(environ.get(k) == v for k, v in env.items())}

    def identity(self, pid: int) -> ProcessId | None:
        """The identity the snapshot saw for `pid` (None: not in it)."""
        started = self.started.get(pid)
        return None if started is None else ProcessId(pid, started)

    def alive(self, pid: int) -> bool:
        """Whether the process the snapshot saw as `pid` still runs (its pid not reused)."""
        ident = self.identity(pid)
        return ident.alive() if ident is not None else pid_alive(pid)

    def signal(self, pids: Iterable[int], sig: int) -> list[int]:
        """Send `sig` to each of `pids` that is still the process this snapshot saw (a pid
        reused since is never signalled; one not in the snapshot only when it runs); returns
        the pids signalled."""
        done = []
        for pid in pids:
            ident = self.identity(pid)
            if ident is not None:
                ok = ident.signal(sig)
            else:
                ok = _kill(pid, sig)
            if ok:
                done.append(pid)
        return sorted(done)


def descendants(roots: list[int]) -> set[int]:
    """See ProcessTable.descendants (one fresh snapshot, without environments)."""
    return ProcessTable(with_environ=False).descendants(roots)


def tagged(**env: str) -> set[int]:
    """See ProcessTable.tagged (one fresh snapshot)."""
    return ProcessTable().tagged(**env)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie does not, and one that is our child is reaped."""
    ps = _psutil()
    if not isinstance(pid, int) or pid <= 0:
        return False
    _reap(pid)
    try:
        return ps.Process(pid).status() != ps.STATUS_ZOMBIE
    except ps.NoSuchProcess:
        return False
    except ps.Error:              # it exists, but we may not look at it
        return True


def _kill(pid: int, sig: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_all(pids: set[int], sig: int) -> None:
    """Send `sig` to each pid (for processes mlqa just found below its own children; where
    a pid may be old, use ProcessTable.signal or ProcessId.signal, which check it is still
    the same process)."""
    for pid in pids:
        _kill(pid, sig)


# -- a child's lease on its parent --------------------------------------------------------------
#: the environment variable that tells a child started through `Spawner` its parent's pid
PARENT_ENV = "MLQA_LEASE_PARENT"
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None, poll_s: float = 0.25) -> None:
    """Make this process die with its parent, even when the parent is SIGKILLed: on Linux
    the kernel's parent-death signal (SIGKILL; armed for the parent thread that started us,
    see `Spawner`), and everywhere a lease — a thread that SIGKILLs this process once it has
    been re-parented (macOS has no parent-death signal). `parent`: the pid we must have (a
    parent that died before we got here is caught too); default: the pid the parent put in
    our environment (`PARENT_ENV`), else the current parent. Our own children read this
    process's pid there."""
    named = os.environ.get(PARENT_ENV, "")
    expected = parent or (int(named) if named.isdigit() else os.getppid())
    os.environ[PARENT_ENV] = str(os.getpid())
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl here
            pass
    if os.getppid() != expected:            # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != expected:
                os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=watch, name="mlqa-parent-lease", daemon=True).start()


class Spawner:
    """Starts child processes from one long-lived thread of this process. Linux's
    parent-death signal fires when the *thread* that started a child ends, so children a
    short-lived thread (an HTTP request's) started would die with that request; started
    here, they die only with this process. Each child's environment names this process
    (`PARENT_ENV`) for its `die_with_parent`."""

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="mlqa-spawner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job, box, done = self._jobs.get()
            try:
                box["value"] = job()
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                box["error"] = exc
            done.set()

    def popen(self, cmd: list[str], **kwargs: Any) -> subprocess.Popen:
        """subprocess.Popen(cmd, **kwargs), run on the spawner's thread; `env` gets PARENT_ENV."""
        kwargs["env"] = {**(kwargs.get("env") or os.environ), PARENT_ENV: str(os.getpid())}
        return self.call(lambda: subprocess.Popen(cmd, **kwargs))

    def call(self, job: Callable[[], Any]) -> Any:
        if threading.current_thread() is self._thread:
            return job()
        box: dict[str, Any] = {}
        done = threading.Event()
        self._jobs.put((job, box, done))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["value"]


def run_process(cmd: list[str], *, deadline: Deadline | None = None, timeout: float | None = None,
                env: dict[str, str] | None = None, cwd: str | None = None,
                poll_s: float = 0.1) -> subprocess.CompletedProcess:
    """Run `cmd` with its output captured (as text), polling `deadline`: when it is
    cancelled, or `timeout` seconds pass, the process and everything below it are stopped
    (SIGTERM, then SIGKILL) before `Cancelled` (or `subprocess.TimeoutExpired`) propagates
    — a subprocess never outlives the check that started it. It stays in mlqa's process
    group, so a kill of the whole group (a CI job cancelled) reaches it too."""
    deadline = deadline or Deadline.never()
    deadline.check()
    with tempfile.TemporaryFile("w+b") as out, tempfile.TemporaryFile("w+b") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        limit = None if timeout is None else time.monotonic() + timeout
        try:
            while proc.poll() is None:
                if limit is not None and time.monotonic() > limit:
                    raise subprocess.TimeoutExpired(cmd, timeout or 0.0)
                deadline.sleep(poll_s)
        finally:
            if proc.poll() is None:
                stop_tree(proc, grace_s=5.0)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))
