"""The stack's lifecycle on real stacks on 127.0.0.1 (the smallest topology: one zone, one
node, one GPU, one replica): nothing is left running after a `kill -9` of the supervisor,
of a pytest session using `mlqa_stack`, or of `mlqa stack up` before the stack was ready —
counted by walking the process table for the stack's tag, with bounded polling — and the
admin token never leaves the supervisor (read off each component's environment), while
the stack still serves and trains."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import psutil
import pytest

from mlqa.procs import ProcessId, tagged
from mlqa.stack import down, up
from mlqa.stack._topology import parse_topology
from mlqa.yamldoc import load_yaml

pytestmark = pytest.mark.slow  # real stacks: seconds per test

SMALLEST = """
zones: [z]
nodes_per_zone: 1
gpus_per_node: 1
replicas_per_node: 1
training: {steps: 100000, checkpoint_every: 1000, batch_size: 64, step_time_s: 0.05}
"""


def _supervisor(d: Path) -> ProcessId | None:
    """The supervisor `up` recorded (pid and start time), while it runs."""
    try:
        rec = json.loads((d / "supervisor.json").read_text())
        return ProcessId(rec["pid"], rec["started"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return ProcessId.of(int((d / "supervisor.pid").read_text()))
    except (OSError, ValueError):
        return None


def _leftovers(stack_id: str, supervisor: ProcessId | None) -> set[int]:
    """Every process of the stack still running: tagged with its id, or its supervisor."""
    found = tagged(MLQA_STACK_ID=stack_id)
    if supervisor is not None and supervisor.alive():
        found.add(supervisor.pid)
    return found


def _wait_none_left(stack_id: str, supervisor: ProcessId | None, within_s: float = 30) -> set[int]:
    end = time.monotonic() + within_s
    left = _leftovers(stack_id, supervisor)
    while left and time.monotonic() < end:
        time.sleep(0.2)
        left = _leftovers(stack_id, supervisor)
    return left


def _wait_for(predicate, within_s: float, what: str):
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        got = predicate()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out after {within_s}s waiting for {what}")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlqa.cli", *args], capture_output=True, text=True, timeout=120)


def _processes(stack_id: str, marker: str) -> list[psutil.Process]:
    out = []
    for pid in tagged(MLQA_STACK_ID=stack_id):
        try:
            p = psutil.Process(pid)
            if any(marker in part for part in p.cmdline()):
                out.append(p)
        except psutil.Error:
            continue
    return out


def test_admin_token_stays_in_the_supervisor_and_a_kill_9_of_it_leaves_nothing(tmp_path):
    d = tmp_path / "stack"
    stack = up(parse_topology(load_yaml(SMALLEST, "smallest.yaml")), d, owner_pid=os.getpid())
    try:
        supervisor = _supervisor(d)
        assert supervisor is not None and supervisor.alive()
        admin = stack.admin_token
        # the stack works: inference through the gateway, and a training job makes steps
        r = httpx.post(stack.gateway_url + "/v2/models/model/infer", json=stack.sample_payload(),
                       headers={"Authorization": f"Bearer {stack.token}"}, timeout=10)
        assert r.status_code == 200, r.text
        assert stack.gateway_state()["upstreams"], "the gateway's own admin route answers its own token"
        stack.start_training()
        stack.wait(lambda s: (s["training"].get("progress") or {}).get("step", 0) >= 3, 120, "training steps")
        roles = {"replica": "mlqa.cli", "gateway": "mlqa.stack._gateway", "agent": "mlqa.stack._agent",
                 "torchrun": "torch.distributed.run", "worker": "mlqa.stack._worker"}
        found = {role: _processes(stack.stack_id, marker) for role, marker in roles.items()}
        assert all(found.values()), {role: len(ps) for role, ps in found.items()}
        problems = []       # judged after the kill -9 below, so that every defect shows at once
        for role, procs in found.items():
            for p in procs:
                env = p.environ()
                if admin in env.values() or "MLQA_STACK_ADMIN_TOKEN" in env:
                    problems.append(f"the {role} (pid {p.pid}) holds the admin token")
                if role in ("agent", "torchrun", "worker") and stack.token in env.values():
                    problems.append(f"the {role} (pid {p.pid}) needs no token, got the client one")
        # `mlqa stack status | head`: the reader gone, a quiet end
        r_fd, w_fd = os.pipe()
        os.close(r_fd)
        try:
            piped = subprocess.run([sys.executable, "-m", "mlqa.cli", "stack", "status", "--state-dir", str(d)],
                                   stdout=w_fd, stderr=subprocess.PIPE, text=True, timeout=120)
        finally:
            os.close(w_fd)
        if piped.returncode != 141 or "Traceback" in piped.stderr:
            problems.append(f"status into a closed pipe: exit {piped.returncode}: {piped.stderr[-400:]}")

        os.kill(supervisor.pid, signal.SIGKILL)
        assert _wait_none_left(stack.stack_id, supervisor) == set(), "components outlived the supervisor"
        assert problems == []
        status = _cli("stack", "status", "--state-dir", str(d))
        assert status.returncode == 1 and "not running" in status.stderr and "half-dead" not in status.stderr
        stopped = _cli("stack", "down", "--state-dir", str(d))
        assert stopped.returncode == 0 and "nothing to stop" in stopped.stderr, stopped.stderr
    finally:
        down(d)


def test_a_sigkilled_pytest_session_leaves_no_stack_behind(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "topology.yaml").write_text(SMALLEST)
    (project / "test_uses_stack.py").write_text(textwrap.dedent("""
        import json, time

        def test_holds_the_stack(mlqa_stack):
            state = mlqa_stack.state()
            assert state["ready"]
            with open("stack.json.tmp", "w") as fh:
                json.dump({"stack_id": mlqa_stack.stack_id, "state_dir": str(mlqa_stack.state_dir)}, fh)
            import os
            os.replace("stack.json.tmp", "stack.json")
            time.sleep(600)
    """))
    session = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                                "--basetemp", str(tmp_path / "basetemp"), "--mlqa-stack-topology",
                                str(project / "topology.yaml"), "test_uses_stack.py"],
                               cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    info = None
    try:
        _wait_for(lambda: (project / "stack.json").exists() or session.poll() is not None, 180, "the stack up")
        assert session.poll() is None, "the pytest session ended before its stack was up"
        info = json.loads((project / "stack.json").read_text())
        supervisor = _supervisor(Path(info["state_dir"]))
        assert supervisor is not None and _leftovers(info["stack_id"], supervisor)
        session.kill()
        session.wait(timeout=30)
        assert _wait_none_left(info["stack_id"], supervisor) == set(), "the stack outlived its pytest session"
    finally:
        if session.poll() is None:
            session.kill()
            session.wait(timeout=30)
        if info is not None:
            down(info["state_dir"])


def test_a_sigkilled_stack_up_leaves_nothing(tmp_path):
    """`mlqa stack up` killed before the stack was ready: the supervisor it launched stops
    everything it had started and exits."""
    d = tmp_path / "stack"
    (tmp_path / "topology.yaml").write_text(SMALLEST)
    launcher = subprocess.Popen([sys.executable, "-m", "mlqa.cli", "stack", "up", "--state-dir", str(d),
                                 "--topology", str(tmp_path / "topology.yaml")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack_id = None
    try:
        def started():
            supervisor = _supervisor(d)
            return None if supervisor is None else (json.loads((d / "plan.json").read_text())["stack_id"], supervisor)
        stack_id, supervisor = _wait_for(started, 120, "the supervisor started")
        assert launcher.poll() is None, "`mlqa stack up` ended before it could be killed"
        launcher.kill()
        launcher.wait(timeout=30)
        assert _wait_none_left(stack_id, supervisor) == set(), "the stack outlived the `up` that was killed"
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(timeout=30)
        down(d)
