"""Child processes mlqa starts (locust, servers, scanners, the stack): a free loopback
port, running a command under a check's deadline, stopping a process together with
everything it started in its session, and a snapshot of the process table."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time

from .deadline import Deadline


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
    try:
        pids = descendants([proc.pid])
    except OSError:  # no /proc (macOS): the child itself
        pids = {proc.pid}
    signal_all(pids, signal.SIGTERM)
    end = time.monotonic() + grace_s
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    others = pids - {proc.pid}
    while time.monotonic() < end and any(pid_alive(p) for p in others):
        time.sleep(0.05)
    signal_all({p for p in pids if p == proc.pid or pid_alive(p)}, signal.SIGKILL)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class ProcessTable:
    """One pass over /proc: every live process's parent and, when asked, its environment.
    Take one snapshot and ask it many questions (each node's processes) instead of walking
    /proc once per question."""

    def __init__(self, with_environ: bool = True) -> None:
        self.ppids: dict[int, int] = {}
        self.environs: dict[int, set[bytes]] = {}
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    stat = fh.read().decode(errors="replace")
                self.ppids[pid] = int(stat[stat.rindex(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if with_environ and pid != me:
                try:
                    with open(f"/proc/{entry}/environ", "rb") as fh:
                        self.environs[pid] = set(fh.read().split(b"\0"))
                except OSError:
                    pass
        self.children: dict[int, list[int]] = {}
        for pid, parent in self.ppids.items():
            self.children.setdefault(parent, []).append(pid)

    def descendants(self, roots: list[int]) -> set[int]:
        """`roots` and every process below them in the process tree — including children
        that started their own session or process group, which killpg would miss."""
        found, todo = set(), [r for r in roots if r > 0]
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
        want = {f"{k}={v}".encode() for k, v in env.items()}
        return {pid for pid, environ in self.environs.items() if want <= environ}


def descendants(roots: list[int]) -> set[int]:
    """See ProcessTable.descendants (one fresh snapshot, without environments)."""
    return ProcessTable(with_environ=False).descendants(roots)


def tagged(**env: str) -> set[int]:
    """See ProcessTable.tagged (one fresh snapshot)."""
    return ProcessTable().tagged(**env)


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs: a zombie does not, and one that is our child is reaped."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


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
