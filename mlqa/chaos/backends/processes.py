"""Local processes as a chaos target: a user's own service on one machine, named by pid,
pid file or listening port. Faults: `process-kill` (SIGKILL the process tree; whatever
supervises it must restart it), `node-pause` (SIGSTOP/SIGCONT the tree: a hung process) and
`cpu-stress` (busy processes beside it, tagged in their environment so a revert — or
`recover` after the runner died — finds them all). Each pid is journaled with its start
time, so a revert never signals a process that merely reused the pid (a pid without its
start time is never signalled). A process that is the runner itself or one of its
ancestors is refused: mlqa would stop or kill itself."""
from __future__ import annotations

import hashlib
import os
import random
import secrets
import signal
import subprocess
import sys
from typing import Any

from ._base import Inventory, SelectorError, pick

_BUSY = "import os\nwhile True:\n    pass\n"
#: the environment variable that tags the busy processes of one cpu-stress fault
STRESS_ENV = "MLQA_CHAOS_STRESS"


def _psutil():
    import psutil
    return psutil


class LocalProcesses:
    name = "processes"

    def __init__(self, refs: dict[str, dict]) -> None:
        self.refs = refs            # name -> {pid, pid_file, port, url}
        self._stress_tag: str | None = None   # from reverts() (journaled first) to inject()
        self._paused: dict[str, list] = {}     # target -> the tree journaled for its SIGCONT
        self._busy: dict[str, list[subprocess.Popen]] = {}   # stress tag -> its busy processes

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
        refs = descriptor.get("refs")
        if not (isinstance(refs, dict) and all(isinstance(k, str) and isinstance(v, dict) for k, v in refs.items())):
            raise SelectorError("the journal's processes target is malformed")
        return cls(refs)

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
        elif ref.get("port"):
            pid = self._listening(int(ref["port"]), name)
        else:
            raise SelectorError(f"process `{name}` names no pid, pid_file or port")
        if not 0 < pid <= 4_194_304 or not _psutil().pid_exists(pid):
            raise SelectorError(f"process `{name}` (pid {pid}) is not running")
        if pid in self_and_ancestors():
            raise SelectorError(f"process `{name}` (pid {pid}) is this runner or one of its ancestors "
                                f"(or init): faulting it would stop or kill mlqa itself")
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
        me = os.getpid()
        for p in procs:
            if p.pid == me:               # never the runner, should it run below the named process
                continue
            try:
                out.append((p.pid, p.create_time()))
            except ps.Error:
                pass
        return out

    def reverts(self, kind: str, targets: list[str]) -> list[dict]:
        if kind == "node-pause":
            # the very tree journaled for SIGCONT is the one inject() stops: none is missed
            self._paused = {t: self._tree(t) for t in targets}
            return [{"action": "cont", "pids": self._paused[t]} for t in targets]
        if kind == "cpu-stress":
            self._stress_tag = secrets.token_hex(8)
            return [{"action": "kill_tagged", "tag": self._stress_tag}]
        return [{"action": "none", "process": t} for t in targets]

    def inject(self, kind: str, targets: list[str], select: dict, params: dict) -> list[dict]:
        out = []
        for t in targets:
            tree = self._paused.pop(t, None) if kind == "node-pause" else None
            tree = tree if tree is not None else self._tree(t)
            if kind == "process-kill":
                _signal(tree, signal.SIGKILL)
                out.append({"action": "none", "process": t})
            elif kind == "node-pause":
                _signal(tree, signal.SIGSTOP)
                out.append({"action": "cont", "pids": tree})
            elif kind == "cpu-stress":
                tag = self._stress_tag or secrets.token_hex(8)
                env = {**os.environ, STRESS_ENV: tag}
                # the tag rides in argv as well as the environment: /proc/PID/cmdline is readable
                # where /proc/PID/environ is not (ptrace-restricted containers)
                busy = [subprocess.Popen([sys.executable, "-c", _BUSY, tag], start_new_session=True, env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for _ in range(min(max(int(params.get("cpus", 1)), 1), 64))]
                self._busy.setdefault(tag, []).extend(busy)
                ps = _psutil()
                out.append({"action": "kill", "pids": [(p.pid, ps.Process(p.pid).create_time()) for p in busy]})
        return out

    def revert(self, action: dict) -> None:
        if action.get("action") == "cont":
            _signal(action.get("pids", []), signal.SIGCONT)
        elif action.get("action") == "kill":
            _signal(action.get("pids", []), signal.SIGKILL)
        elif action.get("action") == "kill_tagged" and isinstance(action.get("tag"), str) and action["tag"]:
            for p in self._busy.get(action["tag"], []):     # the ones this backend started: by handle
                try:
                    p.kill()
                except OSError:
                    pass
            _kill_tagged(action["tag"])                      # any other (a runner that crashed and resumed)
            for p in self._busy.pop(action["tag"], []):     # reap them: no zombie left behind
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._busy.setdefault(action["tag"], []).append(p)

    def active_faults(self) -> list[dict]:
        """Paused processes among the named ones (their trees), and busy processes of a
        cpu-stress this backend started that still run."""
        ps = _psutil()
        out = [{"kind": "cpu-stress", "target": f"busy pid {p.pid} (tag {tag})"}
               for tag, procs in self._busy.items() for p in procs if p.poll() is None]
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


def _signal(pids: Any, sig: int) -> None:
    """Signal each (pid, start time) that is still the same process; an entry without its
    start time, or malformed, is never signalled."""
    ps = _psutil()
    if not isinstance(pids, list):
        return
    me = self_and_ancestors()
    for entry in pids:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2):
            continue
        try:
            pid, started = int(entry[0]), float(entry[1])
            if pid in me or pid <= 0:
                continue
            if abs(ps.Process(pid).create_time() - started) > 0.01:
                continue            # the pid now belongs to another process
            os.kill(pid, sig)
        except (ps.Error, ProcessLookupError, PermissionError, TypeError, ValueError, OverflowError):
            continue


def _carries_tag(p, tag: str) -> bool:
    """A busy process started for this tag: `python -c _BUSY TAG`, or the tag in its environment."""
    ps = _psutil()
    try:
        cmd = p.cmdline()
        if len(cmd) == 4 and cmd[1:] == ["-c", _BUSY, tag]:
            return True
    except (ps.Error, OSError):
        pass
    try:
        return p.environ().get(STRESS_ENV) == tag
    except (ps.Error, OSError):
        return False


def _kill_tagged(tag: str) -> None:
    """SIGKILL every process of this user that carries the stress tag (argv or environment)."""
    ps = _psutil()
    me = os.getpid()
    for p in ps.process_iter():
        try:
            if p.pid != me and _carries_tag(p, tag):
                p.kill()
        except (ps.Error, OSError):
            continue


def self_and_ancestors() -> set[int]:
    """This process, every process above it, and init."""
    ps = _psutil()
    try:
        me = ps.Process(os.getpid())
        return {me.pid, 1} | {p.pid for p in me.parents()}
    except ps.Error:
        return {os.getpid(), 1}
