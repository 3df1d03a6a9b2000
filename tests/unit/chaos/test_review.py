"""Review findings on the chaos engine's run lifecycle, each a failing test of a real
defect (fast: no stack, no network, no busy loops)."""
from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from experiment_texts import BASE

from mlqa.chaos import load_experiment
from mlqa.chaos._plan import Planned
from mlqa.chaos._probes import PollProbe
from mlqa.chaos._runner import Run


def _run(tmp_path: Path) -> Run:
    p = tmp_path / "exp.yaml"
    p.write_text(BASE, encoding="utf-8")
    return Run(load_experiment(p), out_dir=None, state_root_dir=tmp_path / "state")


class _Backend:
    def __init__(self) -> None:
        self.reverted: list[dict] = []

    def revert(self, action: dict) -> None:
        self.reverted.append(action)

    def descriptor(self) -> dict:
        return {"backend": "fake"}

    def active_faults(self) -> list[dict]:
        return []


class _FlakyJournal:
    """Writes fine, except the first `reverted` mark (a full or unmounted state disk)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.paths = [Path("x")]
        self.failed = False
        self.closed = False

    def write(self, op: str, **detail: object) -> None:
        if op == "reverted" and not self.failed:
            self.failed = True
            raise OSError(28, "No space left on device")

    def close(self) -> None:
        self.closed = True


def _two_injected(run: Run) -> None:
    spec = run.exp.method[0]
    for i in range(2):
        p = Planned(spec=spec, targets=[f"zone-{i}"], affected=set(), reverts=[{"action": "heal", "n": i}])
        p.injected_at = time.time()
        run.planned.append(p)


def test_one_failing_journal_write_does_not_leave_the_other_faults_injected(tmp_path):
    """Defect: `_rollback` stops at the first exception from `_revert` (here the journal's
    `reverted` write), so every later fault stays injected. Expected: every fault's revert
    action is attempted whatever one of them raises."""
    run = _run(tmp_path)
    _two_injected(run)
    run.journal = _FlakyJournal()
    backend = _Backend()
    try:
        run._rollback(backend)
    except OSError:
        pass
    assert backend.reverted == [{"action": "heal", "n": 0}, {"action": "heal", "n": 1}]


class _Probe:
    kind = "http"
    name = "fake"

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_a_rollback_that_raises_still_stops_the_probes_and_closes_the_journal(tmp_path, monkeypatch):
    """Defect: in `Run._locked`'s `finally`, an exception out of `_rollback` skips stopping
    the probes (locust, poll threads), the observer, the `end` entry and the journal's
    close. Expected: each cleanup step runs on its own."""
    import mlqa.chaos._runner as runner
    monkeypatch.setattr(runner, "Journal", _FlakyJournal)
    run = _run(tmp_path)
    probe = _Probe()

    def phases(backend, inv):
        run.probes.append(probe)
        _two_injected(run)
        raise RuntimeError("boom in the method")
    monkeypatch.setattr(run, "_phases", phases)
    try:
        run._locked(_Backend(), None)
    except OSError:
        pass
    assert probe.stopped, "the probe was left running"
    assert run.journal.closed, "the journal was left open (and has no `end`)"


def test_a_poll_probe_holds_only_if_it_held_over_the_window(tmp_path):
    """Defect: `PollProbe.holds(since, now)` returns the *last* sample only, so a probe that
    failed for most of the steady-state window passes it (the runner asks
    `holds(now - steady, now)`: "the steady state must hold for `steady` seconds").
    Expected: any failing sample in [since, now] means it does not hold."""
    p = tmp_path / "exp.yaml"
    text = BASE.replace("  - load: {rate: 40/s}", "  - http: {url: 'http://127.0.0.1:9/'}") \
        .replace("  - success_rate < 50% for 3s", "  - probes_failing > 0 for 3s") \
        .replace("availability >= 99%", "probes_failed_after == 0")
    p.write_text(text, encoding="utf-8")
    spec = load_experiment(p).steady_state[0]
    probe = PollProbe(spec, {})
    now = time.time()
    probe.samples = [(now - 2.8, False, "status 503"), (now - 2.3, False, "status 503"),
                     (now - 1.8, False, "status 503"), (now - 0.3, True, "status 200")]
    ok, _ = probe.holds(now - 3.0, now)
    assert ok is not True


def test_a_reapplied_network_fault_never_outlives_its_heal(monkeypatch):
    """Defect (mlqa/stack/_supervisor.py `_reapply_network`): it snapshots `self.network`
    under the lock, then PUTs outside it; a heal that lands in between is undone at the
    gateway while the supervisor's record (what `faults()` and so the chaos leftover check
    read) says healed. Expected: the gateway ends healed, or the fault is still listed."""
    from mlqa.stack._supervisor import Supervisor
    sup = Supervisor.__new__(Supervisor)
    sup.lock = threading.RLock()
    sup.net_lock = threading.Lock()
    sup.stopping = threading.Event()
    sup.events, sup.fault_since = [], {"network:zone-a": time.time()}
    sup.network = {"zone-a": {"latency_s": 0.0, "drop": 1.0}}
    sup.nodes = {"n1": {"zone": "zone-a"}}
    gw_zone = {"drop": 0.0}                 # the restarted gateway's view: the fault was lost
    sup.gateway = gateway = object()
    snapshot_taken, healed = threading.Event(), threading.Event()

    def gateway_call(method, path, body=None):
        if threading.current_thread().name == "reapply":
            snapshot_taken.set()
            healed.wait(5)
        gw_zone["drop"] = float(body.get("drop", 0.0))
        return {"latency_s": body.get("latency_ms", 0) / 1000, "drop": float(body.get("drop", 0.0))}
    monkeypatch.setattr(sup, "gateway_call", gateway_call, raising=False)
    t = threading.Thread(target=sup._reapply_network, args=(gateway,), name="reapply")
    t.start()
    assert snapshot_taken.wait(5)
    # the chaos revert (heal_zone) lands while the reapply is on its way to the gateway
    heal = threading.Thread(target=sup.degrade_zone, args=("zone-a", {"latency_ms": 0, "drop": 0}))
    heal.start()
    time.sleep(0.2)
    healed.set()
    heal.join(5)
    t.join(5)
    assert gw_zone["drop"] == 0.0 or "zone-a" in sup.network, \
        "the gateway drops all of zone-a's traffic while the supervisor lists no fault"
    assert gw_zone["drop"] == 0.0 and "zone-a" not in sup.network, "healed at the gateway and in the record"


def test_cpu_stress_on_processes_is_visible_to_the_leftover_check(tmp_path, monkeypatch):
    """Defect (mlqa/chaos/backends/processes.py): `active_faults()` lists only paused
    processes, so busy processes a revert missed (`_kill_tagged` swallows every error)
    are never a leftover and the run can pass. Expected: live tagged busy processes are
    listed while the fault is injected. (The busy loop is replaced by a sleep here.)"""
    from mlqa.chaos.backends import processes
    monkeypatch.setattr(processes, "_BUSY", "import time\ntime.sleep(30)\n")
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        b = processes.LocalProcesses({"app": {"pid": target.pid}})
        reverts = b.reverts("cpu-stress", ["app"])
        b.inject("cpu-stress", ["app"], {"node": "app"}, {"cpus": 1})
        try:
            assert b.active_faults(), "a cpu-stress fault is active but not listed"
        finally:
            for action in reverts:
                b.revert(action)
    finally:
        target.kill()
        target.wait()
