"""The run journal (fsynced JSON lines, read back despite a torn tail) and the per-target lock."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mlqa.chaos._journal import (
    ChaosError,
    Journal,
    Pending,
    TargetLock,
    journals,
    pending_faults,
    read_journal,
    state_root,
)


def test_state_root_follows_mlqa_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MLQA_STATE_DIR", str(tmp_path))
    assert state_root() == tmp_path / "chaos"
    monkeypatch.delenv("MLQA_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_root() == tmp_path / "xdg" / "mlqa" / "chaos"


def test_journal_writes_the_same_lines_to_every_path(tmp_path, monkeypatch):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    paths = [tmp_path / "report" / "run.jsonl", tmp_path / "state" / "journals" / "run.jsonl"]
    j = Journal(paths, "run-1")
    j.write("begin", run_id="run-1", target={"backend": "local-stack"})
    j.write("inject", fault_id="f0", label="zone-outage zone-a", reverts=[{"action": "restart_node", "node": "n1"}])
    assert len(synced) == 4                         # every line, on every path, before write() returns
    # readable while the journal is still open (nothing left in a buffer)
    for p in paths:
        assert [e["op"] for e in read_journal(p)] == ["begin", "inject"]
    j.close()
    first, second = (p.read_text() for p in paths)
    assert first == second and first.endswith("\n")
    entries = [json.loads(line) for line in first.splitlines()]
    assert entries[1]["fault_id"] == "f0" and isinstance(entries[1]["at"], float)
    assert entries[1]["reverts"] == [{"action": "restart_node", "node": "n1"}]


def test_journal_appends_to_an_existing_file_and_serialises_anything(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal([path], "r")
    j.write("begin")
    j.close()
    j = Journal([path], "r")
    j.write("note", where=tmp_path)                  # a Path is written as text
    j.close()
    entries = read_journal(path)
    assert [e["op"] for e in entries] == ["begin", "note"] and entries[1]["where"] == str(tmp_path)


def test_a_report_folders_copy_starts_fresh_while_the_state_journal_appends(tmp_path):
    state, out = tmp_path / "state.jsonl", tmp_path / "out" / "exp.journal.jsonl"
    for run in ("r1", "r2"):
        j = Journal([state, out], run, fresh=(out,))
        j.write("begin", run_id=run)
        j.close()
    assert [e["run_id"] for e in read_journal(state)] == ["r1", "r2"]
    assert [e["run_id"] for e in read_journal(out)] == ["r2"], "a second run into the same --out replaces its copy"


def test_read_journal_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal([path], "r")
    j.write("begin", run_id="r")
    j.write("inject", fault_id="f0", label="node-kill n1", reverts=[])
    j.close()
    with path.open("a") as fh:
        fh.write('{"op": "reverted", "fault_id": "f')       # the runner died mid-write
    assert [e["op"] for e in read_journal(path)] == ["begin", "inject"]


def test_read_journal_skips_junk_and_entries_without_an_op(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_bytes(b'{"op": "begin"}\nnot json\n[1, 2]\n{"no_op": 1}\n{"op": 5}\n\xff\xfe\n{"op": "end"}\n')
    assert [e["op"] for e in read_journal(path)] == ["begin", "end"]


def test_read_journal_of_a_missing_file_is_empty(tmp_path):
    assert read_journal(tmp_path / "nope.jsonl") == []


def test_pending_faults_are_the_injects_never_reverted():
    entries = [
        {"op": "begin"},
        {"op": "inject", "fault_id": "f0", "label": "zone-outage zone-a",
         "reverts": [{"action": "restart_node", "node": "a1"}, {"action": "restart_node", "node": "a2"}]},
        {"op": "inject", "fault_id": "f1", "label": "node-pause b1", "reverts": [{"action": "resume_node", "node": "b1"}]},
        {"op": "reverted", "fault_id": "f0"},
        {"op": "inject", "fault_id": "f2", "label": "disk-fill", "reverts": ["junk", {"action": "unfill_volume"}]},
    ]
    assert pending_faults(entries) == [
        Pending(fault_id="f1", label="node-pause b1", reverts=({"action": "resume_node", "node": "b1"},)),
        Pending(fault_id="f2", label="disk-fill", reverts=({"action": "unfill_volume"},)),
    ]
    assert pending_faults(entries + [{"op": "reverted", "fault_id": "f1"}, {"op": "reverted", "fault_id": "f2"}]) == []
    assert pending_faults([]) == []


def test_journals_lists_the_state_folders_journals(tmp_path):
    assert list(journals(tmp_path)) == []
    folder = tmp_path / "journals"
    folder.mkdir()
    for name in ("b.jsonl", "a.jsonl", "notes.txt"):
        (folder / name).write_text("")
    assert [p.name for p in journals(tmp_path)] == ["a.jsonl", "b.jsonl"]


def test_journals_defaults_to_the_state_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MLQA_STATE_DIR", str(tmp_path))
    (tmp_path / "chaos" / "journals").mkdir(parents=True)
    (tmp_path / "chaos" / "journals" / "r.jsonl").write_text("")
    assert [p.name for p in journals()] == ["r.jsonl"]


# ------------------------------------------------------------------ the lock
def test_a_second_lock_on_the_same_target_names_the_holder(tmp_path):
    first, second = TargetLock("stack-x", root=tmp_path), TargetLock("stack-x", root=tmp_path)
    first.acquire("the stack in /x")
    try:
        assert first.path == tmp_path / "locks" / "stack-x.lock"
        assert first.path.read_text().startswith(f"pid {os.getpid()} since ")
        with pytest.raises(ChaosError) as err:
            second.acquire("the stack in /x")
        assert f"pid {os.getpid()}" in str(err.value) and "the stack in /x" in str(err.value)
        assert "mlqa chaos recover" in str(err.value)
    finally:
        first.release()


def test_release_then_reacquire(tmp_path):
    first, second = TargetLock("k", root=tmp_path), TargetLock("k", root=tmp_path)
    first.acquire("k")
    first.release()
    first.release()                                  # twice: harmless
    second.acquire("k")
    second.release()
    first.acquire("k")
    first.release()


def test_other_targets_are_not_blocked(tmp_path):
    a, b = TargetLock("a", root=tmp_path), TargetLock("b", root=tmp_path)
    a.acquire("a")
    b.acquire("b")
    a.release()
    b.release()


def test_a_lock_file_left_by_a_dead_runner_is_free(tmp_path):
    lock = TargetLock("stale", root=tmp_path)
    lock.path.parent.mkdir(parents=True)
    lock.path.write_text("pid 999999999 since 2020-01-01T00:00:00 and a much longer tail than ours")
    assert not lock.held_elsewhere()
    lock.acquire("stale")
    try:
        assert lock.path.read_text().startswith(f"pid {os.getpid()} since ")
        assert "999999999" not in lock.path.read_text()     # truncated, not overwritten in part
    finally:
        lock.release()


def test_held_elsewhere(tmp_path):
    holder, watcher = TargetLock("w", root=tmp_path), TargetLock("w", root=tmp_path)
    assert not watcher.held_elsewhere()                # no lock file yet
    assert not watcher.path.exists()                   # and asking does not create one
    holder.acquire("w")
    assert watcher.held_elsewhere()
    assert watcher.held_elsewhere()                    # asking does not take it
    holder.release()
    assert not watcher.held_elsewhere()
    watcher.acquire("w")                               # asking left it free
    watcher.release()


def test_the_lock_defaults_to_the_state_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MLQA_STATE_DIR", str(tmp_path))
    lock = TargetLock("d")
    assert lock.path == tmp_path / "chaos" / "locks" / "d.lock"
    lock.acquire("d")
    lock.release()
    assert Path(lock.path).is_file()
