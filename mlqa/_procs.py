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


def _ppids() -> dict[int, int]:
    """pid -> parent pid of every live process (from /proc)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode(errors="replace")
            out[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return out


def descendants(roots: list[int]) -> set[int]:
    """`roots` and every process below them in the process tree — including children that
    started their own session or process group, which killpg would miss."""
    children: dict[int, list[int]] = {}
    for pid, parent in _ppids().items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [r for r in roots if r > 0]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def tagged(**env: str) -> set[int]:
    """Live processes whose environment holds every `KEY=value` given: finds a node's
    processes even after they were orphaned and re-parented."""
    want = [f"{k}={v}".encode() for k, v in env.items()]
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                environ = fh.read().split(b"\0")
        except OSError:
            continue
        if all(w in environ for w in want):
            found.add(int(entry))
    return found


def signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
