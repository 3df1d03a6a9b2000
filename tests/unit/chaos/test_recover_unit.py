"""`recover()` from journals alone, without a stack: a target that is gone, a finished run,
a run whose runner still holds the lock."""
from __future__ import annotations

from pathlib import Path

from mlqa.chaos import recover
from mlqa.chaos._journal import Journal, TargetLock, read_journal
from mlqa.chaos.backends.processes import LocalProcesses
from mlqa.cli import main


def journal(state_dir: Path, run_id: str, target: dict, *, ops: tuple[str, ...] = ("inject",)) -> Path:
    """A journal as a runner that died after journaling its faults leaves it."""
    path = state_dir / "chaos" / "journals" / f"{run_id}.jsonl"
    j = Journal([path], run_id)
    j.write("begin", run_id=run_id, experiment="zone_outage", target=target)
    for i, op in enumerate(ops):
        if op == "inject":
            j.write("inject", fault_id=f"f{i}", label=f"zone-outage zone-{'abc'[i % 3]}",
                    reverts=[{"action": "restart_node", "node": f"zone-a-node-{i + 1}"}])
        elif op == "reverted":
            j.write("reverted", fault_id=f"f{i - 1}")
        else:
            j.write(op)
    j.close()
    return path


def gone(tmp_path: Path) -> dict:
    return {"backend": "local-stack", "state_dir": str(tmp_path / "nope")}


def test_a_target_that_is_gone_is_reported_and_the_run_ended(tmp_path):
    path = journal(tmp_path, "r1", gone(tmp_path), ops=("inject", "inject"))
    (item,) = recover(tmp_path)
    assert item["run_id"] == "r1" and item["experiment"] == "zone_outage" and item["journal"] == str(path)
    assert "target is gone" in item["note"] and str(tmp_path / "nope") in item["note"]
    assert item["failed"] == [] and item["reverted"] == [] and item["gone"] == ["zone-outage zone-a", "zone-outage zone-b"]
    entries = read_journal(path)
    assert entries[-1]["op"] == "end" and entries[-1]["recovered"] is True
    assert [e["fault_id"] for e in entries if e["op"] == "abandoned"] == ["f0", "f1"]
    assert recover(tmp_path) == []                   # ended: a second recover has nothing to do


def test_an_unknown_backend_is_a_target_that_is_gone(tmp_path):
    path = journal(tmp_path, "r2", {"backend": "k8s-someday"})
    (item,) = recover(tmp_path)
    assert "target is gone" in item["note"] and "k8s-someday" in item["note"]
    assert read_journal(path)[-1]["op"] == "end"


def test_a_journal_without_a_target_is_a_target_that_is_gone(tmp_path):
    path = tmp_path / "chaos" / "journals" / "r3.jsonl"
    j = Journal([path], "r3")
    j.write("inject", fault_id="f0", label="node-kill n1", reverts=[{"action": "restart_node", "node": "n1"}])
    j.close()
    (item,) = recover(tmp_path)
    assert item["run_id"] == "r3" and "target is gone" in item["note"] and item["gone"] == ["node-kill n1"]


def test_a_journal_that_has_an_end_is_skipped(tmp_path):
    path = journal(tmp_path, "done", gone(tmp_path), ops=("inject", "end"))
    before = path.read_text()
    assert recover(tmp_path) == []
    assert path.read_text() == before


def test_only_unfinished_runs_are_recovered(tmp_path):
    journal(tmp_path, "a-done", gone(tmp_path), ops=("inject", "reverted", "end"))
    journal(tmp_path, "b-dead", gone(tmp_path))
    (tmp_path / "chaos" / "journals" / "c-empty.jsonl").write_text("")
    assert [item["run_id"] for item in recover(tmp_path)] == ["b-dead"]


def test_a_run_whose_faults_were_all_reverted_still_gets_its_end(tmp_path):
    path = journal(tmp_path, "r4", gone(tmp_path), ops=("inject", "reverted"))
    (item,) = recover(tmp_path)
    assert item["reverted"] == [] and read_journal(path)[-1]["op"] == "end"


def test_recover_uses_mlqa_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLQA_STATE_DIR", str(tmp_path))
    path = journal(tmp_path, "r5", gone(tmp_path))
    (item,) = recover()
    assert item["run_id"] == "r5" and read_journal(path)[-1]["op"] == "end"


def test_a_run_whose_runner_holds_the_lock_is_left_alone(tmp_path):
    target = {"backend": "processes", "refs": {}}
    path = journal(tmp_path, "live", target)
    lock = TargetLock(LocalProcesses.attach(target).lock_key(), tmp_path / "chaos")
    lock.acquire("the processes")
    try:
        (item,) = recover(tmp_path)
        assert "runner is alive" in item["note"] and item["reverted"] == []
        assert "end" not in [e["op"] for e in read_journal(path)]
    finally:
        lock.release()
    (item,) = recover(tmp_path)                      # the runner is gone now
    assert item["reverted"] == ["zone-outage zone-a"] and item["active_faults"] == []
    assert read_journal(path)[-1]["op"] == "end"


def test_cli_recover(tmp_path, capsys):
    assert main(["chaos", "recover", "--state-dir", str(tmp_path)]) == 0
    assert "no interrupted run to recover" in capsys.readouterr().err
    journal(tmp_path, "r6", gone(tmp_path))
    assert main(["chaos", "recover", "--state-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "r6 (zone_outage): nothing to revert; gone with its target: zone-outage zone-a" in out and "target is gone" in out


def test_a_target_descriptor_that_cannot_be_read_is_a_target_that_is_gone(tmp_path):
    broken = tmp_path / "broken-stack"
    broken.mkdir()
    (broken / "plan.json").write_text("{not json")
    (broken / "secrets.json").write_text("{}")
    for i, target in enumerate([{"backend": "local-stack"}, {"backend": "local-stack", "state_dir": None},
                                {"backend": "local-stack", "state_dir": str(broken)}]):
        path = journal(tmp_path, f"odd{i}", target)
        (item,) = recover(tmp_path)
        assert "target is gone" in item["note"], target
        assert read_journal(path)[-1]["op"] == "end"
