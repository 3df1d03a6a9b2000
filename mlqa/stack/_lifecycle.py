"""Which processes of a stack run, read off the process table: what `up`, `status` and
`down` all decide on. A stack's processes carry its id in their environment
(`MLQA_STACK_ID`), the supervisor also `MLQA_STACK_ROLE=supervisor`; `supervisor.json`
records the supervisor's pid with its start time. A pid file alone proves nothing: its
process may be gone and the pid another program's."""
from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from ..procs import ProcessId, ProcessTable

DEFAULT_DIR = ".mlqa-stack"
SUPERVISOR_MODULE = "mlqa.stack._supervisor"


@dataclass(frozen=True)
class StackStatus:
    """What runs of the stack in `state_dir`, read off the process table: `up`, `status`
    and `down` all decide on it, so they agree."""

    state_dir: Path
    stack_id: str | None                  # None: no stack was ever started there
    supervisor: ProcessId | None          # the stack's own supervisor, running now
    stale_pid: int | None                 # a pid file naming a process that is not that supervisor
    leftovers: tuple[int, ...]            # other processes tagged with the stack's id

    @property
    def running(self) -> bool:
        return self.supervisor is not None

    @property
    def half_dead(self) -> bool:
        """The supervisor is gone, but some of the stack's processes still run."""
        return self.supervisor is None and bool(self.leftovers)

    def describe(self) -> str:
        """One line: running, half-dead (and what to do), or not running."""
        if self.running:
            return f"running (stack {self.stack_id}, supervisor pid {self.supervisor.pid})"
        if self.half_dead:
            pids = ", ".join(map(str, self.leftovers[:8])) + (", …" if len(self.leftovers) > 8 else "")
            return (f"half-dead: the supervisor of stack {self.stack_id} is gone but {len(self.leftovers)} of its "
                    f"processes still run (pids {pids}); `mlqa stack down --state-dir {self.state_dir}` stops them")
        if self.stack_id is None:
            return f"not running (no stack in {self.state_dir}: run `mlqa stack up` first)"
        stale = (f"; the supervisor its pid file names, pid {self.stale_pid}, is gone" if self.stale_pid else "")
        return f"not running (stack {self.stack_id} in {self.state_dir}{stale})"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _recorded_supervisor(d: Path) -> tuple[int | None, float | None]:
    """The supervisor's pid and start time as `up` recorded them (either may be missing)."""
    rec = _read_json(d / "supervisor.json") or {}
    pid, started = rec.get("pid"), rec.get("started")
    if not _a_pid(pid):      # `true` is no pid (though Python counts it as 1), nor are 0 and -1
        try:
            pid = int((d / "supervisor.pid").read_text().strip())
        except (OSError, ValueError):
            pid = None
    ok = isinstance(started, (int, float)) and not isinstance(started, bool) and math.isfinite(started)
    return (pid if _a_pid(pid) else None), (float(started) if ok else None)


def _a_pid(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 31


def _is_supervisor(ident: ProcessId, stack_id: str, d: Path) -> bool:
    """Whether `ident` is the supervisor of stack `stack_id`: tagged so in its environment
    (or, where that cannot be read, running the supervisor's module on `d`)."""
    env = ident.environ()
    if env is not None:
        return env.get("MLQA_STACK_ID") == stack_id and env.get("MLQA_STACK_ROLE") == "supervisor"
    p = ident.process()
    try:
        cmd = p.cmdline() if p is not None else []
    except Exception:  # noqa: BLE001 - psutil.Error: gone or not ours to read
        return False
    return SUPERVISOR_MODULE in cmd and str(d) in cmd


def inspect_stack(state_dir: str | Path = DEFAULT_DIR) -> StackStatus:
    """The stack in `state_dir` as it runs now (see StackStatus). A pid file alone proves
    nothing: the supervisor is the process with the recorded pid *and* start time *and* the
    stack's tag, or any process tagged as the stack's supervisor."""
    d = Path(state_dir).resolve()
    pid, started = _recorded_supervisor(d)
    plan = _read_json(d / "plan.json")
    stack_id = plan.get("stack_id") if plan else None
    if not isinstance(stack_id, str) or not stack_id:
        return StackStatus(d, None, None, pid, ())
    table = ProcessTable()
    supervisor = None
    if pid is not None:
        ident = table.identity(pid)
        if ident is not None and (started is None or abs(ident.started - started) <= 0.01) \
                and _is_supervisor(ident, stack_id, d):
            supervisor = ident
    if supervisor is None:          # not the recorded one (`up` was killed before it wrote it)
        for other in sorted(table.tagged(MLQA_STACK_ID=stack_id, MLQA_STACK_ROLE="supervisor")):
            supervisor = table.identity(other)
            break
    stale = pid if pid is not None and (supervisor is None or supervisor.pid != pid) else None
    leftovers = table.tagged(MLQA_STACK_ID=stack_id) - ({supervisor.pid} if supervisor else set())
    return StackStatus(d, stack_id, supervisor, stale, tuple(sorted(leftovers)))


def forget_supervisor(d: Path) -> None:
    for name in ("supervisor.pid", "supervisor.json"):
        (d / name).unlink(missing_ok=True)


def kill_tagged(stack_id: str, wait_s: float = 10.0) -> list[int]:
    """SIGKILL every process tagged with `stack_id` (a stopped one too) and wait, bounded,
    until they are gone; returns the pids signalled."""
    table = ProcessTable()
    pids = table.tagged(MLQA_STACK_ID=stack_id)
    table.signal(pids, signal.SIGCONT)
    killed = table.signal(pids, signal.SIGKILL)
    end = time.monotonic() + wait_s
    while time.monotonic() < end and any(table.alive(p) for p in killed):
        time.sleep(0.05)
    return killed
