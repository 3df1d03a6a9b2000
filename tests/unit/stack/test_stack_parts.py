"""The stack's pieces without processes: topology parsing, the stores, the gateway's
choice of replica, the work-lost arithmetic, the process-tree walk."""
import os
import subprocess
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa.procs import descendants, tagged
from mlqa.yamldoc import load_yaml
from mlqa.errors import ConfigError
from mlqa.stack import load_topology
from mlqa.stack._gateway import Pool, Upstream
from mlqa.stack._store import CheckpointStore, CorruptArtifact, ModelStore
from mlqa.stack._topology import parse_topology
from mlqa.stack._training import work_lost, world_sizes


def parse(text):
    return parse_topology(load_yaml(text, "topology.yaml"))


def test_default_topology():
    t = load_topology()
    assert t.zones == ("zone-a", "zone-b", "zone-c") and len(t.nodes) == 6
    assert all(n.gpus == 2 and n.replicas == 1 for n in t.nodes)
    assert [n.name for n in t.nodes_in("zone-b")] == ["zone-b-node-1", "zone-b-node-2"]


@pytest.mark.parametrize("text, line, fragment", [
    ("zones: []\n", 1, "non-empty list"),
    ("zones: [a, a]\n", 1, "distinct"),
    ("zones: [a]\nnodes_per_zone: 0\n", 2, "nodes_per_zone"),
    ("zones: [a]\ngpu_per_node: 2\n", 2, "did you mean `gpus_per_node`"),
    ("zones: [a]\ngateway:\n  retries: two\n", 3, "gateway.retries` must be int"),
    ("zones: [a]\ntraining: {min_nodes: 3}\n", 2, "exceeds the 2 nodes"),
    ("zones: [a]\ntraining:\n  checkpoint_write_errors: ignore\n", 3, "is skip or fatal"),
    ("zones: [a]\ntraining:\n  nodes: -1\n", 3, "`nodes` must be >= 0"),
    ("zones: [a]\ntraining:\n  checkpoint_every: 0\n", 3, "`checkpoint_every` must be >= 1"),
])
def test_topology_errors_name_the_line(text, line, fragment):
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert err.value.line == line and fragment in str(err.value)


def test_model_store_verifies_before_serving(tmp_path):
    src = tmp_path / "m.joblib"
    src.write_bytes(b"model bytes")
    store = ModelStore(tmp_path / "store")
    digest = store.put(src)
    assert store.path(digest).read_bytes() == b"model bytes"
    store.path(digest).write_bytes(b"tampered")
    with pytest.raises(CorruptArtifact):
        store.path(digest)


def test_checkpoints_skip_corrupt_ones_and_keep_the_newest(tmp_path):
    store = CheckpointStore(tmp_path, keep=2)
    for step in (10, 20, 30):
        store.save(step, f"state at {step}".encode())
    assert store.steps() == [20, 30]
    (tmp_path / "step-00000030.ckpt").write_bytes(b"torn")
    step, data, rejected = store.latest()
    assert (step, data) == (20, b"state at 20") and rejected == ["step-00000030.ckpt: checksum mismatch"]
    (tmp_path / "step-00000020.sha256").unlink()
    assert store.latest() is None
    assert not list(tmp_path.glob("*.tmp")), "no temporary file is left behind"


def test_work_lost_per_restart(tmp_path):
    log = tmp_path / "steps.log"
    lines = ["resume 0 world 6 restarts 0"] + [f"step {i}" for i in range(1, 63)] + \
        ["resume 50 world 4 restarts 1"] + [f"step {i}" for i in range(51, 90)] + ["resume 75 world 5 restarts 2"]
    log.write_text("\n".join(lines) + "\n")
    assert work_lost(log) == [12, 14]
    assert work_lost(tmp_path / "missing.log") == []
    assert world_sizes(log) == [6, 4, 5]
    assert world_sizes(tmp_path / "missing.log") == []


def test_world_sizes_skip_lines_that_are_not_a_launch(tmp_path):
    log = tmp_path / "steps.log"
    log.write_text("resume 0 world 6 restarts 0\nresume 25 world\nresume 25 world x\ncheckpoint_failed 50 ENOSPC\n"
                   "resume 25 world 4 restarts 1\n")
    assert world_sizes(log) == [6, 4]


def pool(spec):
    return Pool([Upstream(node=f"{z}-{i}", zone=z, url="", healthy=h) for z, i, h in spec])


def test_pool_round_robins_over_zones_and_retries_elsewhere():
    p = pool([("a", 1, True), ("a", 2, True), ("b", 1, True), ("c", 1, True)])
    assert [p.pick(set(), set()).zone for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]
    assert p.pick({"a"}, {"a-1"}).zone != "a", "a retry goes to another zone"
    assert p.pick({"a", "b", "c"}, {"a-1", "b-1", "c-1"}).node == "a-2", "then to an untried replica anywhere"


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(1, 3), st.booleans()), min_size=1, max_size=9,
                unique_by=lambda t: (t[0], t[1])), st.sets(st.sampled_from("abc")))
def test_pool_never_picks_an_unhealthy_or_tried_replica(spec, tried_zones):
    p = pool(spec)
    tried = {f"{z}-{i}" for z, i, _ in spec if z in tried_zones}
    u = p.pick(tried_zones, tried)
    live = [f"{z}-{i}" for z, i, h in spec if h and f"{z}-{i}" not in tried]
    assert (u is None) == (not live)
    if u is not None:
        assert u.healthy and u.node not in tried


def test_descendants_and_tags_find_children_in_their_own_sessions():
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'],"
            " start_new_session=True); time.sleep(30)")
    parent = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "MLQA_T_TAG": "x1"})
    try:
        deadline = time.monotonic() + 10
        while len(descendants([parent.pid])) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tree = descendants([parent.pid])
        assert len(tree) == 2 and parent.pid in tree
        assert tagged(MLQA_T_TAG="x1") == tree
    finally:
        for pid in descendants([parent.pid]):
            os.kill(pid, 9)
        parent.wait()


class _DeadProcess:
    """A rendezvous process that has exited (its port taken, say)."""
    pid, returncode = 0, 1

    def poll(self):
        return 1

    def wait(self, timeout=None):
        return 1


def _rendezvous_job(tmp_path, monkeypatch):
    from mlqa.stack import _training
    events: list[str] = []

    class Sup:
        nodes = {"n1": {"status": "up"}}

        def _event(self, kind, **detail):
            events.append(kind)
    job = _training.TrainingJob(Sup())
    job.status, job.spec = "running", {"job_dir": str(tmp_path), "rdzv_port": 1, "gpus_files": {"n1": "x"}}
    starts: list[float] = []
    clock = [1000.0]
    monkeypatch.setattr(_training.time, "time", lambda: clock[0])
    monkeypatch.setattr(job, "_start_rendezvous", lambda: (starts.append(clock[0]),
                                                           setattr(job, "rendezvous", _DeadProcess())))
    job.rendezvous = _DeadProcess()
    return job, starts, clock, events


def test_a_rendezvous_that_keeps_dying_is_restarted_with_backoff_then_fails_the_job(tmp_path, monkeypatch):
    from mlqa.stack._training import RENDEZVOUS_MAX_RESTARTS
    job, starts, clock, events = _rendezvous_job(tmp_path, monkeypatch)
    for _ in range(400):                       # the supervisor's monitor polls every 0.25 s
        job.poll()
        clock[0] += 0.25
    assert len(starts) == RENDEZVOUS_MAX_RESTARTS, "restarted a bounded number of times, not every poll"
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == sorted(gaps) and gaps[-1] > gaps[0], f"backing off: {gaps}"
    assert job.status == "failed" and "rendezvous died" in job.message
    assert events.count("rendezvous_restarted") == RENDEZVOUS_MAX_RESTARTS


def test_a_rendezvous_killed_once_is_restarted_at_once(tmp_path, monkeypatch):
    job, starts, clock, _ = _rendezvous_job(tmp_path, monkeypatch)
    job.poll()
    assert starts == [1000.0] and job.status == "running"
