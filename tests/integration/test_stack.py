"""The reference stack on 127.0.0.1: its status, pause/resume, network faults, a corrupt
checkpoint never loaded (the run still ends where a fault-free one does), auto-repair. A
zone lost under load, a node and a GPU lost during training — each with a twin that must
fail — are chaos experiments (tests/integration/test_chaos.py). Nothing is left running."""
import json
import os
import subprocess
import sys

import pytest

from mlqa.procs import tagged
from mlqa.yamldoc import load_yaml
from mlqa.stack import down, up
from mlqa.stack._experiments import train
from mlqa.stack._topology import parse_topology

pytestmark = pytest.mark.slow  # real servers / subprocesses: seconds per test


def topology(text: str):
    return parse_topology(load_yaml(text, "test-topology.yaml"))


@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    """The embedded default: 3 zones x 2 nodes, 2 GPUs and a replica per node."""
    d = tmp_path_factory.mktemp("stack-default")
    try:
        yield up(None, d, owner_pid=os.getpid())
    finally:
        down(d)


def test_status_shows_the_topology_and_health(serving):
    out = subprocess.run([sys.executable, "-m", "mlqa.cli", "stack", "status", "--state-dir",
                          str(serving.state_dir)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for name in ("zone-a-node-1", "zone-c-node-2", "0:ok 1:ok", "healthy replicas: zone-a 2"):
        assert name in out.stdout, name
    js = json.loads(subprocess.run([sys.executable, "-m", "mlqa.cli", "stack", "status", "--json", "--state-dir",
                                    str(serving.state_dir)], capture_output=True, text=True, timeout=60).stdout)
    assert js["token_env"] == "MLQA_STACK_TOKEN" and js["gateway"]["url"] == serving.gateway_url
    assert {n["zone"] for n in js["nodes"]} == {"zone-a", "zone-b", "zone-c"}
    assert all(n["pids"] and len(n["gpus"]) == 2 for n in js["nodes"]) and js["training"]["status"] == "idle"


def test_pause_and_resume_a_node(serving):
    serving.pause_node("zone-b-node-1")
    serving.wait(lambda s: s["gateway"]["healthy_by_zone"]["zone-b"] == 1, 10, "the paused node out of rotation")
    serving.resume_node("zone-b-node-1")
    serving.wait(lambda s: s["gateway"]["healthy_by_zone"]["zone-b"] == 2, 10, "the node back")


def test_dropped_traffic_to_a_zone_takes_it_out_and_healing_brings_it_back(serving):
    import httpx
    serving.degrade_zone("zone-c", drop=1.0)
    serving.wait(lambda s: s["gateway"]["healthy_by_zone"]["zone-c"] == 0, 10, "zone-c out of rotation")
    metrics = httpx.get(serving.gateway_url + "/metrics", timeout=5).text
    assert 'mlqa_gateway_healthy_replicas{zone="zone-c"} 0.0' in metrics
    serving.heal_zone("zone-c")
    serving.wait(lambda s: s["gateway"]["healthy_by_zone"]["zone-c"] == 2, 10, "zone-c back")
    assert serving.state()["gateway"]["faults"]["zone-c"] == {"latency_s": 0.0, "drop": 0.0}


TRAINING = """
zones: [zone-a, zone-b]
nodes_per_zone: 1
gpus_per_node: 2
replicas_per_node: 1
training: {steps: 150, checkpoint_every: 25, batch_size: 256, step_time_s: 0.02}
"""


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    d = tmp_path_factory.mktemp("stack-training")
    try:
        yield up(topology(TRAINING), d, owner_pid=os.getpid())
    finally:
        down(d)


@pytest.fixture(scope="module")
def fault_free(trainer):
    run = train(trainer)
    assert run.status == "succeeded" and run.work_lost_steps == () and run.world_sizes == (4,)
    return run


def test_a_corrupt_checkpoint_is_never_loaded(trainer, fault_free):
    def corrupt_then_kill(stack, progress):
        job = stack.training()["job_dir"]
        ckpts = sorted((stack.state_dir / "jobs").glob(f"{os.path.basename(job)}/checkpoints/*.ckpt"))
        newest = ckpts[-1]
        newest.write_bytes(newest.read_bytes()[:-16] + b"\0" * 16)
        stack.kill_node("zone-b-node-1")
    run = train(trainer, fault=corrupt_then_kill)
    trainer.restart_node("zone-b-node-1")
    assert run.status == "succeeded"
    assert any("checksum mismatch" in r for r in run.rejected_checkpoints), run
    assert run.final_loss == pytest.approx(fault_free.final_loss, rel=0.005)


def test_auto_repair_then_down_leaves_no_process(tmp_path):
    stack = up(topology("zones: [z]\nnodes_per_zone: 1\ngpus_per_node: 1\nnode_restart_delay_s: 0.5\n"), tmp_path,
               owner_pid=os.getpid())
    sup = int((tmp_path / "supervisor.pid").read_text())
    assert tagged(MLQA_STACK_ID=stack.stack_id)
    killed = stack.kill_node("z-node-1")
    back = stack.wait(lambda s: s["nodes"][0]["status"] == "up" and s["ready"] and s["nodes"][0], 30,
                      "the node repaired")
    assert back["restarts"] == 1 and not set(back["pids"]) & set(killed)
    down(tmp_path)
    assert tagged(MLQA_STACK_ID=stack.stack_id) == set()
    assert not os.path.exists(f"/proc/{sup}") or open(f"/proc/{sup}/stat").read().split(")")[1].split()[0] == "Z"
