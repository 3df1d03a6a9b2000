"""The stack's lifecycle without a real stack: a pid file is never proof (a reused pid is
never signalled, a stale one never blocks `up`), `up`, `status` and `down` agree on a
half-dead stack and `down` cleans it, and a component's lease makes it die with its
parent (Linux's parent-death signal and the portable watch). Stand-in processes play the
supervisor and the leftovers; each is stopped at the end."""
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mlqa.cli import main as cli
from mlqa.procs import ProcessId, pid_alive
from mlqa.stack import StackError, Topology, down, up
from mlqa.stack._lifecycle import inspect_stack
from mlqa.stack._topology import ModelSettings, Node

SLEEPER = [sys.executable, "-c", "import sys, time\nprint('ready', flush=True)\ntime.sleep(120)"]


def _start(env_extra: dict | None = None) -> subprocess.Popen:
    p = subprocess.Popen(SLEEPER, env={**os.environ, **(env_extra or {})}, stdout=subprocess.PIPE,
                         start_new_session=True)
    assert p.stdout.readline().strip() == b"ready"
    return p


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=10)
        p.stdout.close()


def _gone(p: subprocess.Popen, within_s: float = 30) -> bool:
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        if p.poll() is not None:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def stack_dir(tmp_path):
    """A state dir that once held stack `stack_id` (its plan; no supervisor runs)."""
    stack_id = uuid.uuid4().hex[:12]
    (tmp_path / "plan.json").write_text(json.dumps({"stack_id": stack_id, "control_port": 9, "gateway_port": 9}))
    return tmp_path, stack_id


def test_down_never_signals_a_process_that_merely_reused_the_supervisors_pid(stack_dir):
    d, _ = stack_dir
    stranger = _start()
    try:
        (d / "supervisor.pid").write_text(str(stranger.pid))      # the pid file of a supervisor long gone
        status = inspect_stack(d)
        assert not status.running and status.stale_pid == stranger.pid and not status.half_dead
        assert down(d, timeout=1) == []
        assert stranger.poll() is None and pid_alive(stranger.pid), "another program's process was killed"
        assert not (d / "supervisor.pid").exists(), "the stale pid file is removed"
    finally:
        _stop(stranger)


def test_down_says_nothing_to_stop_for_a_stale_pid_file(stack_dir, capsys):
    d, _ = stack_dir
    stranger = _start()
    try:
        (d / "supervisor.pid").write_text(str(stranger.pid))
        assert cli(["stack", "down", "--state-dir", str(d)]) == 0
        err = capsys.readouterr().err
        assert "nothing to stop" in err and f"pid {stranger.pid}" in err and "stale" in err
        assert stranger.poll() is None
    finally:
        _stop(stranger)


def test_the_stacks_own_supervisor_is_recognised_and_stopped(stack_dir):
    """The clean twin: a process with the recorded pid, start time and the stack's
    supervisor tag is the supervisor: `up` refuses, `down` stops it (it has no control
    plane to ask here, so after the timeout it is killed)."""
    d, stack_id = stack_dir
    sup = _start({"MLQA_STACK_ID": stack_id, "MLQA_STACK_ROLE": "supervisor"})
    try:
        ident = ProcessId.of(sup.pid)
        (d / "supervisor.pid").write_text(str(sup.pid))
        (d / "supervisor.json").write_text(json.dumps({"pid": sup.pid, "started": ident.started}))
        status = inspect_stack(d)
        assert status.running and status.supervisor == ident and status.stale_pid is None
        with pytest.raises(StackError, match="already running"):
            up(None, d)
        assert sup.pid in down(d, timeout=0.5)
        assert _gone(sup) and not (d / "supervisor.json").exists()
    finally:
        _stop(sup)


def test_a_recorded_start_time_that_does_not_match_is_not_the_supervisor(stack_dir):
    """Same pid, another start time: a process that is not the one recorded (the recorded
    one ended, its pid was reused) is never taken for it, nor signalled as it."""
    d, _ = stack_dir
    other = _start()
    try:
        ident = ProcessId.of(other.pid)
        (d / "supervisor.json").write_text(json.dumps({"pid": other.pid, "started": ident.started - 3600}))
        status = inspect_stack(d)
        assert not status.running and status.stale_pid == other.pid
        assert ProcessId(other.pid, ident.started - 3600).signal(signal.SIGKILL) is False
        assert other.poll() is None
    finally:
        _stop(other)


def test_up_starts_despite_a_stale_pid_file(stack_dir, tmp_path, monkeypatch):
    """`up` looks past a pid file naming another process; here the supervisor it starts is a
    stand-in that exits at once, so `up` reports that (not "already running")."""
    d, _ = stack_dir
    stranger = _start()
    model = tmp_path / "model.joblib"
    model.write_bytes(b"not used: the supervisor here is a stand-in")
    real_popen = subprocess.Popen

    def stand_in(cmd, **kwargs):
        kwargs.pop("pass_fds", None)
        return real_popen([sys.executable, "-c", "raise SystemExit(7)"], **kwargs)
    monkeypatch.setattr("mlqa.stack._control.subprocess.Popen", stand_in)
    topo = Topology(zones=("z",), nodes=(Node("z-node-1", "z", 0, 1),), model=ModelSettings(path=str(model)))
    try:
        (d / "supervisor.pid").write_text(str(stranger.pid))
        with pytest.raises(StackError) as info:
            up(topo, d, timeout=30)
        assert "exited with 7" in str(info.value) and "already running" not in str(info.value)
        assert stranger.poll() is None
    finally:
        _stop(stranger)


def test_up_status_and_down_agree_on_a_half_dead_stack(stack_dir, capsys):
    """The supervisor is gone (no pid file at all) but a process of the stack still runs:
    `status` and `up` both call it half-dead and point to `down`, which kills it."""
    d, stack_id = stack_dir
    leftover = _start({"MLQA_STACK_ID": stack_id, "MLQA_STACK_NODE": "z-node-1"})
    try:
        status = inspect_stack(d)
        assert status.half_dead and status.leftovers == (leftover.pid,)
        assert cli(["stack", "status", "--state-dir", str(d)]) == 1
        err = capsys.readouterr().err
        assert "half-dead" in err and str(leftover.pid) in err and "mlqa stack down" in err
        assert cli(["stack", "status", "--json", "--state-dir", str(d)]) == 1
        js = json.loads(capsys.readouterr().out)
        assert js["running"] is False and js["half_dead"] is True and js["leftover_pids"] == [leftover.pid]
        with pytest.raises(StackError, match="half-dead") as info:
            up(None, d)
        assert "mlqa stack down" in str(info.value)
        assert cli(["stack", "down", "--state-dir", str(d)]) == 0
        assert "killed 1 leftover" in capsys.readouterr().err
        assert _gone(leftover)
        assert cli(["stack", "status", "--state-dir", str(d)]) == 1
        assert "not running" in capsys.readouterr().err and not inspect_stack(d).half_dead
    finally:
        _stop(leftover)


#: a parent that starts a child and prints its pid; the child is leased as the stack's
#: components are (`python -m mlqa.stack._lease`), or calls die_with_parent itself with the
#: parent-death signal unavailable (as on macOS): the portable watch alone
LEASED = ("[sys.executable, '-m', 'mlqa.stack._lease', '-c', "
          "'import os, time\\nprint(os.getpid(), flush=True)\\ntime.sleep(120)']")
WATCHED = ("[sys.executable, '-c', 'import os, sys, time\\nsys.platform = \"darwin\"\\n"
           "from mlqa.procs import die_with_parent\\ndie_with_parent()\\nprint(os.getpid(), flush=True)\\n"
           "time.sleep(120)']")
PARENT = ("import subprocess, sys, time\nchild = subprocess.Popen({cmd}, stdout=subprocess.PIPE, "
          "start_new_session=True)\nprint(child.stdout.readline().decode().strip(), flush=True)\ntime.sleep(120)\n")


@pytest.mark.parametrize("cmd", [LEASED, WATCHED], ids=["lease", "portable-watch"])
def test_a_leased_component_dies_with_its_parent_even_on_sigkill(cmd):
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(cmd=cmd)], stdout=subprocess.PIPE,
                              start_new_session=True)
    try:
        ident = ProcessId.of(int(parent.stdout.readline()))
        assert ident is not None and ident.alive()
        parent.kill()
        parent.wait(timeout=10)
        end = time.monotonic() + 30
        while ident.alive() and time.monotonic() < end:
            time.sleep(0.05)
        assert not ident.alive(), "the component outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        parent.stdout.close()


def test_without_a_lease_the_child_outlives_its_parent():
    """The twin that shows the lease is what kills it: the same child, started plainly."""
    code = ("import subprocess, sys\nchild = subprocess.Popen([sys.executable, '-c', 'import os, time\\n"
            "print(os.getpid(), flush=True)\\ntime.sleep(120)'], stdout=subprocess.PIPE, start_new_session=True)\n"
            "print(child.stdout.readline().decode().strip(), flush=True)\nimport time; time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, start_new_session=True)
    ident = None
    try:
        ident = ProcessId.of(int(parent.stdout.readline()))
        parent.kill()
        parent.wait(timeout=10)
        assert ident.alive()
    finally:
        if ident is not None:
            ident.signal(signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        parent.stdout.close()


def test_broken_pipe_ends_quietly(tmp_path):
    """`mlqa ... | head`: the reader is gone before mlqa writes; no traceback, exit 141."""
    for argv in (["checks"], ["--version"]):
        r, w = os.pipe()
        os.close(r)
        try:
            done = subprocess.run([sys.executable, "-m", "mlqa.cli", *argv], stdout=w, stderr=subprocess.PIPE,
                                  timeout=120)
        finally:
            os.close(w)
        assert done.returncode == 141, (argv, done.stderr[-500:])
        assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr and b"internal error" \
            not in done.stderr, done.stderr[-500:]


@pytest.mark.parametrize("module", ["mlqa.procs", "mlqa.stack._lifecycle", "mlqa.stack._control", "mlqa.stack._supervisor",
                                    "mlqa.stack._agent", "mlqa.stack._faults"])
def test_process_handling_goes_through_psutil_not_proc(module):
    """It must work on macOS, which has no /proc: no module of the stack's lifecycle reads it."""
    source = Path(__import__(module, fromlist=["x"]).__file__).read_text()
    assert '"/proc' not in source and "'/proc" not in source and 'f"/proc' not in source


# -- a finished job is not held by a lingering agent ------------------------------------------------
class _Sup:
    def __init__(self):
        self.events = []
        self.nodes = {"n1": {"status": "up"}}

    def _event(self, kind, **fields):
        self.events.append(kind)


def _job_with_an_agent(tmp_path, done_seen_ago_s):
    import subprocess
    import sys
    import time
    from mlqa.stack._training import TrainingJob
    job = TrainingJob(_Sup())
    job.spec, job.status = {"job_dir": str(tmp_path), "job_id": "j1", "gpus_files": {"n1": "x"}}, "running"
    (tmp_path / "done.json").write_text("{}")
    job.done_seen_at = time.time() - done_seen_ago_s
    job.agents = {"n1": subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])}
    return job


def test_an_agent_lingering_after_the_job_is_done_is_stopped_and_the_job_succeeds(tmp_path):
    """gpu-xid on a loaded machine: the GPU was healed as the job finished, the healed node's
    torchrun was relaunched, and its peer's torchrun waited 300 s in the exit barrier; the
    job never read as succeeded and the experiment ran into its training timeout."""
    from mlqa.stack._training import DONE_GRACE_S
    job = _job_with_an_agent(tmp_path, DONE_GRACE_S + 1)
    job.poll()
    assert job.status == "succeeded" and job.agents["n1"].poll() is not None
    assert "agent_stopped_after_done" in job.sup.events


def test_an_agent_finishing_within_the_grace_is_left_alone(tmp_path):
    job = _job_with_an_agent(tmp_path, 0)
    try:
        job.poll()
        assert job.status == "running" and job.agents["n1"].poll() is None
    finally:
        job.agents["n1"].kill()
        job.agents["n1"].wait()
