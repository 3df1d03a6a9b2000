"""The stack's fault surface beyond nodes and zones, on a real stack on 127.0.0.1: pausing a
zone, killing one component (a replica, the gateway) that the control plane restarts,
stressing a node's CPUs, filling the checkpoint volume under a training job, and the list
of faults active now that `state()` and `mlqa stack status` show. One stack serves the
module; every test leaves it whole again (and checks that it is)."""
import errno
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mlqa.procs import pid_alive, tagged
from mlqa.stack import StackError, down, up
from mlqa.stack._cli import render
from mlqa.stack._experiments import sample_payload
from mlqa.stack._store import CheckpointStore
from mlqa.stack._topology import parse_topology
from mlqa.yamldoc import load_yaml

TOPOLOGY = """
zones: [zone-a, zone-b]
nodes_per_zone: 1
gpus_per_node: 1
replicas_per_node: 1
training: {steps: 300, checkpoint_every: 10, batch_size: 64, step_time_s: 0.02}
"""
REPLICAS = {"zone-a-node-1/replica-1", "zone-b-node-1/replica-1"}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    d = tmp_path_factory.mktemp("stack-faults")
    try:
        yield up(parse_topology(load_yaml(TOPOLOGY, "faults-topology.yaml")), d, owner_pid=os.getpid())
    finally:
        down(d)
    assert not tagged(MLQA_STACK_ID=json.loads((d / "plan.json").read_text())["stack_id"]), "nothing left running"


@pytest.fixture
def stack(shared):
    """The module's stack, whole before the test and made whole again after it (each active
    fault reverted through the same surface)."""
    _whole(shared)
    yield shared
    for f in shared.faults():
        _revert(shared, f)
    _whole(shared)


def _revert(stack, fault: dict) -> None:
    kind, target = fault["kind"], fault["target"]
    if kind == "node-down":
        stack.restart_node(target)
    elif kind == "node-paused":
        stack.resume_node(target)
    elif kind == "gpu-fault":
        node, gpu = target.rsplit("/gpu", 1)
        stack.heal_gpu(node, int(gpu))
    elif kind == "network":
        stack.heal_zone(target)
    elif kind == "cpu-stress":
        stack.unstress_node(target)
    elif kind == "disk-full":
        stack.unfill_volume(target)


def _whole(stack) -> dict:
    return stack.wait(lambda s: not s["faults"] and s["ready"] and s["gateway"]["alive"]
                      and s["gateway"]["healthy_by_zone"] == {"zone-a": 1, "zone-b": 1}
                      and s["training"]["status"] != "running" and s, 60, "the stack whole")


def _component(state: dict, name: str) -> dict | None:
    return next((c for c in state["components"] if c["name"] == name), None)


def _faults(state: dict) -> list[tuple[str, str]]:
    return sorted((f["kind"], f["target"]) for f in state["faults"])


def _infer(stack) -> httpx.Response:
    return httpx.post(f"{stack.gateway_url}/v2/models/model/infer", json=sample_payload(stack), timeout=10,
                      headers={"Authorization": f"Bearer {stack.token}"})


def test_a_full_volume_fails_a_save_and_leaves_nothing_behind(tmp_path):
    marker = tmp_path / "checkpoints.full"
    store = CheckpointStore(tmp_path / "ckpt", keep=3, full_marker=marker)
    store.save(10, b"state at 10")
    marker.write_text("{}")
    with pytest.raises(OSError) as err:
        store.save(20, b"state at 20")
    assert err.value.errno == errno.ENOSPC
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["step-00000010.ckpt", "step-00000010.sha256"]
    marker.unlink()
    store.save(30, b"state at 30")
    assert store.latest() == (30, b"state at 30", [])


@pytest.mark.slow
def test_a_whole_stack_has_no_faults_and_lists_its_components(stack):
    s = stack.state()
    assert s["faults"] == []
    assert {c["name"] for c in s["components"]} == {"gateway"} | REPLICAS
    assert all(c["alive"] and pid_alive(c["pid"]) for c in s["components"])
    assert _component(s, "gateway")["pid"] == s["gateway"]["pid"]
    assert "faults: none" in render(s)


@pytest.mark.slow
def test_pause_and_resume_a_zone(stack):
    stack.pause_zone("zone-a")
    s = stack.wait(lambda s: s["gateway"]["healthy_by_zone"]["zone-a"] == 0 and s, 10, "zone-a out of rotation")
    assert _faults(s) == [("node-paused", "zone-a-node-1")]
    assert s["faults"][0]["detail"] == {"zone": "zone-a"} and s["faults"][0]["since"] > 0
    r = _infer(stack)
    assert r.status_code == 200 and r.headers["X-Zone"] == "zone-b"
    stack.resume_zone("zone-a")
    s = stack.wait(lambda s: s["gateway"]["healthy_by_zone"]["zone-a"] == 1 and s, 10, "zone-a back")
    assert s["faults"] == []
    with pytest.raises(StackError, match="no zone 'zone-x'"):
        stack.pause_zone("zone-x")


@pytest.mark.slow
def test_a_killed_replica_is_restarted(stack):
    name = "zone-b-node-1/replica-1"
    old = _component(stack.state(), name)["pid"]
    killed = stack.kill_component(name)["killed_pids"]
    assert old in killed and not any(pid_alive(p) for p in killed), "the replica and its whole tree are gone"
    s = stack.wait(lambda s: (c := _component(s, name)) and c["alive"] and c["pid"] != old
                   and s["gateway"]["healthy_by_zone"]["zone-b"] == 1 and s, 60, "the replica restarted")
    assert s["nodes"][1]["status"] == "up", "the node itself was not touched"
    events = [e["event"] for e in s["events"]]
    assert "kill_component" in events and "replica_restarted" in events


@pytest.mark.slow
def test_a_killed_gateway_is_restarted_serves_again_and_keeps_the_network_faults(stack):
    """The network faults live in the gateway's routing: a restarted gateway is given them
    again by the supervisor (a fault outlives the process that applied it)."""
    stack.degrade_zone("zone-b", latency_ms=5)
    old = stack.state()["gateway"]["pid"]
    assert old in stack.kill_component("gateway")["killed_pids"]
    s = stack.wait(lambda s: s["gateway"]["alive"] and s["gateway"]["pid"] != old and s["ready"]
                   and sum(s["gateway"]["healthy_by_zone"].values()) == 2
                   and s["gateway"]["faults"]["zone-b"]["latency_s"] == 0.005 and s, 60,
                   "the gateway restarted, with zone-b's latency again")
    assert not pid_alive(old) and _component(s, "gateway")["pid"] == s["gateway"]["pid"]
    events = [e["event"] for e in s["events"]]
    assert "gateway_restarted" in events and "network_faults_reapplied" in events
    assert ("network", "zone-b") in _faults(s)
    assert _infer(stack).status_code == 200
    stack.heal_zone("zone-b")
    assert stack.faults() == []


@pytest.mark.slow
def test_an_unknown_component_or_volume_is_404_naming_the_valid_ones(stack):
    headers = {"Authorization": f"Bearer {stack.admin_token}"}
    r = httpx.post(f"{stack.control_url}/components/zone-a-node-1%2Freplica-9/kill", headers=headers, timeout=10)
    assert r.status_code == 404
    assert "zone-a-node-1/replica-9" in r.json()["error"] and "zone-a-node-1/replica-1" in r.json()["error"]
    with pytest.raises(StackError, match="gateway"):
        stack.kill_component("no-such-thing")
    r = httpx.post(f"{stack.control_url}/volumes/models/fill", headers=headers, timeout=10)
    assert r.status_code == 404 and "checkpoints" in r.json()["error"]


@pytest.mark.slow
def test_cpu_stress_starts_replaces_and_stops(stack):
    node = "zone-a-node-1"
    first = stack.stress_node(node, cpus=2)["pids"]
    assert len(first) == 2 and all(pid_alive(p) for p in first)
    assert set(first) <= tagged(MLQA_STACK_ID=stack.stack_id, MLQA_STACK_NODE=node), "tagged as the node's"
    s = stack.state()
    assert set(first) <= set(s["nodes"][0]["pids"])
    assert [(f["kind"], f["target"], f["detail"]["cpus"]) for f in s["faults"]] == [("cpu-stress", node, 2)]
    second = stack.stress_node(node, cpus=1)["pids"]
    assert len(second) == 1 and not any(pid_alive(p) for p in first), "stressing again replaces"
    assert stack.unstress_node(node)["stopped_pids"] == second
    assert not pid_alive(second[0]) and stack.faults() == []
    assert stack.unstress_node(node)["stopped_pids"] == []


@pytest.mark.slow
def test_a_node_kill_takes_its_stress_with_it(stack):
    node = "zone-b-node-1"
    pids = stack.stress_node(node)["pids"]
    stack.kill_node(node)
    assert not any(pid_alive(p) for p in pids)
    s = stack.state()
    assert _faults(s) == [("node-down", node)] and _component(s, f"{node}/replica-1") is None
    assert "node-down" in render(s) and node in render(s)
    with pytest.raises(StackError, match="is down"):
        stack.stress_node(node)
    stack.restart_node(node)
    stack.wait(lambda s: s["ready"] and s["gateway"]["healthy_by_zone"]["zone-b"] == 1, 60, "the node back")
    assert stack.faults() == [], "a restarted node is not stressed"


@pytest.mark.slow
def test_every_fault_kind_is_listed_and_shown_by_status(stack):
    stack.pause_node("zone-a-node-1")
    stack.fault_gpu("zone-b-node-1", 0, xid=48)
    stack.degrade_zone("zone-b", latency_ms=20)
    stack.stress_node("zone-b-node-1")
    stack.fill_volume("checkpoints")
    stack.fill_volume("checkpoints")                   # filling a full volume changes nothing
    s = stack.state()
    assert _faults(s) == [("cpu-stress", "zone-b-node-1"), ("disk-full", "checkpoints"),
                          ("gpu-fault", "zone-b-node-1/gpu0"), ("network", "zone-b"),
                          ("node-paused", "zone-a-node-1")]
    by_kind = {f["kind"]: f for f in s["faults"]}
    assert by_kind["gpu-fault"]["detail"] == {"xid": 48, "reason": "double-bit ECC error"}
    assert by_kind["network"]["detail"] == {"latency_ms": 20.0, "drop": 0.0}
    assert by_kind["disk-full"]["detail"]["path"].endswith("volumes/checkpoints.full")
    assert all(isinstance(f["since"], float) and f["since"] > 0 for f in s["faults"])
    cli = [sys.executable, "-m", "mlqa.cli", "stack", "status", "--state-dir", str(stack.state_dir)]
    out = subprocess.run(cli, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert "faults: 5 active" in out.stdout
    for kind, target in _faults(s):
        assert any(kind in line and target in line for line in out.stdout.splitlines()), (kind, target)
    js = json.loads(subprocess.run([*cli, "--json"], capture_output=True, text=True, timeout=60, check=True).stdout)
    assert _faults(js) == _faults(s)
    stack.resume_node("zone-a-node-1")
    stack.heal_gpu("zone-b-node-1", 0)
    stack.heal_zone("zone-b")
    stack.unstress_node("zone-b-node-1")
    stack.unfill_volume("checkpoints")
    s = stack.state()
    assert s["faults"] == [] and "faults: none" in render(s)


@pytest.mark.slow
def test_training_survives_a_full_checkpoint_volume(stack):
    """The job starts on a full volume: every checkpoint write fails, none leaves a file,
    training goes on without a restart; once the volume has room checkpoints are written
    again, and a training agent killed together with the job's rendezvous store (both
    restarted by the control plane) resumes from one."""
    stack.fill_volume("checkpoints")
    job = stack.start_training()
    ckpts = Path(job["job_dir"]) / "checkpoints"
    s = stack.wait(lambda s: (s["training"].get("progress") or {}).get("checkpoint_failures", 0) >= 2 and s, 120,
                   "two failed checkpoint writes")
    p = s["training"]["progress"]
    assert p["step"] >= 20 and p["restarts"] == 0 and p["resumed_from"] is None, "training went on"
    assert ("disk-full", "checkpoints") in _faults(s)
    assert not list(ckpts.glob("*.ckpt")) and not list(ckpts.glob("*.sha256")), "no checkpoint while full"
    stack.unfill_volume("checkpoints")
    written = stack.wait(lambda s: CheckpointStore(ckpts).steps(), 120, "a checkpoint once the volume has room")
    agent = f"{job['nodes'][-1]}/training-agent"
    assert {f"{n}/training-agent" for n in job["nodes"]} <= {c["name"] for c in stack.state()["components"]}
    assert "rendezvous" in {c["name"] for c in stack.state()["components"]}, "the store is a process of its own"
    old = stack.kill_component(agent)["killed_pids"] + stack.kill_component("rendezvous")["killed_pids"]
    t = stack.wait(lambda s: s["training"]["status"] != "running" and s["training"], 180, "the job to end")
    assert t["status"] == "succeeded", t
    p = t["progress"]
    assert p["step"] == 300 and p["resumed_from"] >= written[0], "resumed from a checkpoint written after unfill"
    events = [e["event"] for e in stack.state()["events"]]
    assert {"agent_restarted", "rendezvous_restarted"} <= set(events) and not any(map(pid_alive, old))
    assert t["rendezvous"]["alive"] is False and "rendezvous" not in {c["name"] for c in stack.state()["components"]}
    log = (Path(job["job_dir"]) / "steps.log").read_text()
    assert "checkpoint_failed 10 ENOSPC" in log and log.count("checkpoint_failed ") == p["checkpoint_failures"] >= 2
    store = CheckpointStore(ckpts)
    assert store.steps()[-1] == 300 and store.latest()[0] == 300 and store.latest()[2] == []
    for ckpt in ckpts.glob("*.ckpt"):
        assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == ckpt.with_suffix(".sha256").read_text().strip()
    assert sorted(f.suffix for f in ckpts.iterdir()) == [".ckpt"] * 3 + [".sha256"] * 3, "no temporary file"
