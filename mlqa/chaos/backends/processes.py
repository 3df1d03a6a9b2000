"""Local processes as a chaos target: a user's own service on one machine, named by pid,
pid file or listening port. Faults: `process-kill` (SIGKILL the process tree; whatever
supervises it must restart it), `node-pause` (SIGSTOP/SIGCONT the tree: a hung process) and
`cpu-stress` (busy processes beside it). Each pid is journaled with its start time, so a
revert never signals a process that merely reused the pid."""
from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
from typing import Any

from ._base import Inventory, SelectorError, pick

_BUSY = "import os\nwhile True:\n    pass\n"


def _psutil():
    import psutil
    return psutil


class LocalProcesses:
    name = "processes"

    def __init__(self, refs: dict[str, dict]) -> None:
        self.refs = refs            # name -> {pid, pid_file, port, url}

    @classmethod
    def open(cls, processes: tuple) -> "LocalProcesses":
        refs = {p.name: {"pid": p.pid, "pid_file": str(p.pid_file) if p.pid_file else None, "port": p.port,
                         "url": p.url} for p in processes}
        backend = cls(refs)
        for name in refs:
            backend.pid_of(name)        # every named process must be there now
        return backend

    @classmethod
    def attach(cls, descriptor: dict[str, Any]) -> "LocalProcesses":
        return cls(descriptor.get("refs", {}))

    def descriptor(self) -> dict[str, Any]:
        return {"backend": self.name, "refs": self.refs}

    def lock_key(self) -> str:
        return "procs-" + hashlib.sha256(repr(sorted(self.refs.items())).encode()).hexdigest()[:16]

    def close(self) -> None:
        pass

    def pid_of(self, name: str) -> int:
        ref = self.refs[name]
        if ref.get("pid"):
            pid = int(ref["pid"])
        elif ref.get("pid_file"):
            try:
                pid = int(open(ref["pid_file"]).read().strip())
            except (OSError, ValueError) as exc:
                raise SelectorError(f"process `{name}`: cannot read a pid from {ref['pid_file']} ({exc})") from None
        else:
            pid = self._listening(int(ref["port"]), name)
        if not _psutil().pid_exists(pid):
            raise SelectorError(f"process `{name}` (pid {pid}) is not running")
        return pid

    def _listening(self, port: int, name: str) -> int:
        ps = _psutil()
        for c in ps.net_connections(kind="tcp"):
            if c.status == ps.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return c.pid
        raise SelectorError(f"process `{name}`: nothing of this user listens on port {port}")

    def inventory(self) -> Inventory:
        names = tuple(sorted(self.refs))
        return Inventory(nodes={n: "" for n in names}, components=names)

    def resolve(self, kind: str, select: dict, rng: random.Random, inv: Inventory | None = None) -> list[str]:
        inv = inv or self.inventory()
        key = "component" if kind == "process-kill" else "node"
        if key not in select:
            raise SelectorError(f"`{kind}` on processes selects `{key}: NAME`")
        return pick(list(inv.components), select[key], select, rng, "process")

    def affected_nodes(self, kind: str, targets: list[str], inv: Inventory) -> set[str]:
        return set()

    def _tree(self, name: str) -> list[tuple[int, float]]:
        ps = _psutil()
        root = ps.Process(self.pid_of(name))
        procs = [root] + root.children(recursive=True)
        out = []
        for p in procs:
            try:
                out.append((p.pid, p.create_time()))
            except ps.Error:
                pass
        return out

    def reverts(self, kind: str, targets: list[str]) -> list[dict]:
        if kind == "node-pause":
            return [{"action": "cont", "pids": self._tree(t)} for t in targets]
        return [{"action": "none", "process": t} for t in targets]

    def inject(self, kind: str, targets: list[str], select: dict, params: dict) -> list[dict]:
        out = []
        for t in targets:
            tree = self._tree(t)
            if kind == "process-kill":
                _signal(tree, signal.SIGKILL)
                out.append({"action": "none", "process": t})
            elif kind == "node-pause":
                _signal(tree, signal.SIGSTOP)
                out.append({"action": "cont", "pids": tree})
            elif kind == "cpu-stress":
                busy = [subprocess.Popen([sys.executable, "-c", _BUSY], start_new_session=True,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for _ in range(int(params.get("cpus", 1)))]
                ps = _psutil()
                out.append({"action": "kill", "pids": [(p.pid, ps.Process(p.pid).create_time()) for p in busy]})
        return out

    def revert(self, action: dict) -> None:
        if action.get("action") == "cont":
            _signal(action.get("pids", []), signal.SIGCONT)
        elif action.get("action") == "kill":
            _signal(action.get("pids", []), signal.SIGKILL)

    def active_faults(self) -> list[dict]:
        """Paused processes among the named ones (their trees)."""
        ps = _psutil()
        out = []
        for name in self.refs:
            try:
                for pid, _ in self._tree(name):
                    if ps.Process(pid).status() == ps.STATUS_STOPPED:
                        out.append({"kind": "process-paused", "target": f"{name} (pid {pid})"})
            except (SelectorError, ps.Error):
                continue
        return out

    def urls(self) -> dict[str, str]:
        return {n: r["url"] for n, r in self.refs.items() if r.get("url")}


def _signal(pids: list, sig: int) -> None:
    """Signal each (pid, start time) that is still the same process."""
    ps = _psutil()
    for entry in pids:
        pid, started = (entry[0], entry[1]) if isinstance(entry, (list, tuple)) else (entry, None)
        try:
            p = ps.Process(int(pid))
            if started is not None and abs(p.create_time() - float(started)) > 0.01:
                continue            # the pid now belongs to another process
            os.kill(int(pid), sig)
        except (ps.Error, ProcessLookupError, PermissionError):
            continue
