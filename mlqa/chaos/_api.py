"""The engine's entry points: run an experiment (or print its plan), and recover what a
dead runner left behind."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..deadline import Deadline
from ..errors import MlqaError
from ..results import CheckResult
from ._journal import ChaosError, TargetLock, journals, pending_faults, read_journal, state_root
from ._spec import Experiment, load_experiment


def _experiment(exp: Experiment | str | Path, attach: str | Path | None) -> Experiment:
    exp = exp if isinstance(exp, Experiment) else load_experiment(exp)
    if attach is not None:
        if exp.target.kind != "stack":
            raise ChaosError(f"{exp.path}: its target is local processes; only a stack target can attach")
        exp = dataclasses.replace(exp, target=dataclasses.replace(exp.target, state_dir=Path(attach).resolve()))
    return exp


def result_id(exp: Experiment) -> str:
    return f"chaos.experiment[{exp.name}]"


def run_experiment(exp: Experiment | str | Path, *, out: str | Path | None = None,
                   deadline: Deadline | None = None, attach: str | Path | None = None,
                   state_dir: str | Path | None = None) -> CheckResult:
    """Run one experiment and return its result (`chaos.experiment[NAME]`). `attach`: the
    state folder of a running stack to use instead of the file's target; `out`: a folder
    for a copy of the journal; `state_dir`: the journals/locks folder (default: the
    well-known one). Raises ConfigError (file:line) for a plan that cannot apply to the
    live target: a selector that matches nothing, a total outage without the flag."""
    from ._runner import Run
    exp = _experiment(exp, attach)
    run = Run(exp, out_dir=Path(out) if out else None, deadline=deadline,
              state_root_dir=Path(state_dir) / "chaos" if state_dir else None)
    return run.execute().with_(id=result_id(exp))


def plan_experiment(exp: Experiment | str | Path, *, attach: str | Path | None = None) -> dict[str, Any]:
    """What a run would do, resolved against the live target (or, for a stack the run
    would bring up, against its topology), injecting nothing."""
    from ._plan import describe_plan, live_inventory, open_backend, plan_faults, static_inventory
    exp = _experiment(exp, attach)
    inv = static_inventory(exp)
    if inv is not None:
        from .backends.local import LocalStack
        backend: Any = LocalStack.__new__(LocalStack)
        planned = plan_faults(exp, backend, inv)
        where = f"a stack brought up from {exp.target.topology or 'the embedded default topology'}"
    else:
        backend = open_backend(exp, Deadline(60))
        try:
            planned = plan_faults(exp, backend, live_inventory(exp, backend))
            where = str(backend.descriptor())
        finally:
            backend.close()
    return {"experiment": exp.name, "file": str(exp.path), "target": where, "claim": exp.claim,
            "steady_state": [{"probe": p.kind, "name": p.name, **p.params} for p in exp.steady_state],
            "faults": describe_plan(exp, planned), "stop_conditions": [s.text for s in exp.stop_conditions],
            "verdict": [c.text for c in exp.verdict], "allow_total_outage": exp.allow_total_outage}


def recover(state_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Revert every fault a runner journaled and did not revert, for every run whose runner
    is gone (a live runner's lock is held: its run is left alone). Returns what was done."""
    root = Path(state_dir) / "chaos" if state_dir else state_root()
    report = []
    for path in journals(root):
        entries = read_journal(path)
        if not entries or any(e["op"] == "end" for e in entries):
            continue
        try:
            item = _recover_journal(path, entries, root)
        except Exception as exc:  # noqa: BLE001 - one malformed journal never stops the others
            item = {"run_id": path.stem, "journal": str(path), "reverted": [],
                    "failed": [{"fault": "?", "errors": [f"the journal is malformed: {type(exc).__name__}: {exc}"]}]}
        report.append(item)
    return report


def _recover_journal(path: Path, entries: list[dict], root: Path) -> dict[str, Any]:
    from .backends import SelectorError, open_backend
    begin = next((e for e in entries if e["op"] == "begin"), {})
    target = begin.get("target")
    if not isinstance(target, dict):
        target = {}
    item: dict[str, Any] = {"run_id": str(begin.get("run_id", path.stem)), "experiment": begin.get("experiment"),
                            "journal": str(path), "reverted": [], "failed": []}
    try:
        backend = open_backend(target)
    except (SelectorError, MlqaError, OSError, KeyError, TypeError, ValueError) as exc:
        # MlqaError: ConfigError, ChaosError and the stack's StackError (`no stack in DIR`)
        backend = None
        item["note"] = f"the target is gone ({exc}); nothing left to revert there"
    if backend is not None and TargetLock(backend.lock_key(), root).held_elsewhere():
        item["note"] = "its runner is alive (it holds the target's lock): left alone"
        return item
    if backend is not None and not _reachable(backend):
        # a stack the runner brought up stops itself when its owner dies: nothing is left there
        backend = None
        item["note"] = "the target no longer answers (a stack the dead runner brought up stops with it); " \
                       "nothing left to revert there"
    from ._journal import Journal
    journal = Journal([path], item["run_id"])
    try:
        for p in pending_faults(entries):
            errors = []
            for action in p.reverts:
                try:
                    if backend is not None:
                        backend.revert(action)
                except Exception as exc:  # noqa: BLE001 - reported, the journal stays open
                    errors.append(f"{action}: {type(exc).__name__}: {exc}")
            if errors:
                item["failed"].append({"fault": p.label, "errors": errors})
            elif backend is None:
                journal.write("abandoned", fault_id=p.fault_id, by="recover", why=item.get("note", ""))
                item.setdefault("gone", []).append(p.label)
            else:
                journal.write("reverted", fault_id=p.fault_id, by="recover")
                item["reverted"].append(p.label)
        for pid, started in _probe_pids(entries):
            _kill_if_same(pid, started)
        if not item["failed"]:
            journal.write("end", recovered=True)
    finally:
        journal.close()
    if backend is not None:
        try:
            item["active_faults"] = backend.active_faults()
        except Exception as exc:  # noqa: BLE001
            item["active_faults"] = [{"kind": "unknown", "target": str(exc)}]
    return item


def _reachable(backend: Any) -> bool:
    try:
        backend.active_faults()
        return True
    except Exception:  # noqa: BLE001 - unreachable in any way: gone
        return False


def _probe_pids(entries: list[dict]) -> list[tuple[int, float]]:
    """(pid, start time) of each load generator the journal names; malformed ones skipped."""
    out = []
    for e in entries:
        if e["op"] != "probe_processes" or not isinstance(e.get("pids"), list):
            continue
        for entry in e["pids"]:
            try:
                pid, started = entry
                out.append((int(pid), float(started)))
            except (TypeError, ValueError):
                continue
    return out


def _kill_if_same(pid: int, started: float) -> None:
    """SIGKILL a probe's process group (locust) that the dead runner left, if the pid is
    still that process: same start time, a locust command line, the leader of its own
    group, and never this process or one of its ancestors."""
    import os
    import signal
    try:
        import psutil
        p = psutil.Process(pid)
        if abs(p.create_time() - started) > 0.01 or pid <= 1 or os.getpgid(pid) != pid:
            return
        if not any("locust" in part for part in p.cmdline()):
            return
        from .backends.processes import self_and_ancestors
        if pid in self_and_ancestors():
            return
        os.killpg(pid, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - gone already
        pass
