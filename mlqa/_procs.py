"""Child processes mlqa starts (locust, servers): a free loopback port, and stopping a
process together with everything it started in its session."""
from __future__ import annotations

import os
import signal
import socket
import subprocess


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_group(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """SIGTERM the process group (started with start_new_session=True), SIGKILL after a grace."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace_s)
    except (ProcessLookupError, PermissionError):
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


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
