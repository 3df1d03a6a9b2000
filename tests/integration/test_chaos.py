"""Chaos experiments against real reference stacks on 127.0.0.1: every shipped experiment
passes on the default topology and fails on a twin built to fail it; nothing is left
behind — after a pass, a failed verdict, a stop condition, SIGINT, and `kill -9` of the
runner followed by `mlqa chaos recover`; experiments are checks of mlqa.yaml and pytest
items like any other."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from mlqa.chaos import load_experiment, run_experiment
from mlqa.stack import Stack, down, up
from mlqa.yamldoc import load_yaml
from mlqa.stack._topology import parse_topology

pytestmark = pytest.mark.slow  # real stacks, load and training: seconds to tens of seconds per test

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "chaos" / "experiments"
MLQA = [sys.executable, "-m", "mlqa.cli"]


@pytest.fixture(autouse=True)
def _state_dir(tmp_path_factory, monkeypatch):
    """Journals and locks in a folder of the test session (children inherit it)."""
    monkeypatch.setenv("MLQA_STATE_DIR", str(tmp_path_factory.getbasetemp() / "mlqa-state"))


def _stack(tmp_path_factory, name: str, text: str | None):
    d = tmp_path_factory.mktemp(name)
    topo = parse_topology(load_yaml(text, f"{name}.yaml")) if text else None
    return d, up(topo, d, owner_pid=os.getpid())


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory):
    d, stack = _stack(tmp_path_factory, "chaos-default", None)
    try:
        yield stack
    finally:
        down(d)


@pytest.fixture(scope="module")
def fragile(tmp_path_factory):
    """The twins' stack: the gateway neither retries a failed request nor ever concludes a
    replica is unhealthy from failed health checks (a refused connection still ejects it)."""
    d, stack = _stack(tmp_path_factory, "chaos-fragile", "zones: [zone-a, zone-b, zone-c]\nnodes_per_zone: 2\n"
                                                         "gpus_per_node: 0\n"
                                                         "gateway: {retries: 0, unhealthy_after: 100000}\n")
    try:
        yield stack
    finally:
        down(d)


def variant(src: Path, dest: Path, *edits: tuple[str, str]) -> Path:
    """A copy of a shipped experiment with textual edits (each must apply)."""
    text = src.read_text()
    for old, new in edits:
        assert old in text, f"{old!r} not in {src.name}"
        text = text.replace(old, new)
    dest.write_text(text)
    return dest


def assert_whole(stack: Stack) -> None:
    """No fault active, every node up and every replica back in rotation, no process
    stopped, no load generator left."""
    state = stack.wait(lambda s: s if (not s.get("faults") and all(n["status"] == "up" for n in s["nodes"])
                                       and sum(s["gateway"]["healthy_by_zone"].values())
                                       == sum(len(n["replicas"]) for n in s["nodes"])) else None,
                       60, "the stack whole again")
    for n in state["nodes"]:
        for pid in n["pids"]:
            try:
                assert psutil.Process(pid).status() != psutil.STATUS_STOPPED, f"{n['name']} pid {pid} still paused"
            except psutil.NoSuchProcess:
                pass
    assert not _load_generators(), "a locust process was left running"


def _load_generators() -> list[int]:
    out = []
    for p in psutil.process_iter(["cmdline", "environ"]):
        try:
            cmd = " ".join(p.info["cmdline"] or [])
            if ("locust" in cmd and "mlqa" in cmd and p.ppid() in (1, os.getpid())
                    and (p.info["environ"] or {}).get("MLQA_TEST_SESSION") == os.environ["MLQA_TEST_SESSION"]):
                out.append(p.pid)
        except (psutil.Error, TypeError):
            continue
    return out


# ------------------------------------------------------------------ the done-when, as a new user runs it
def test_zone_outage_brings_up_its_own_stack_passes_and_draws_the_timeline(tmp_path):
    proc = subprocess.run(MLQA + ["chaos", "run", str(EXPERIMENTS / "zone-outage.yaml"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads((tmp_path / "results.json").read_text())
    (row,) = doc["checks"]
    assert row["id"] == "chaos.experiment[zone_outage]" and row["status"] == "passed"
    m = row["metrics"]
    assert m["availability"] >= 0.99 and m["time_to_detect"] <= 2 and m["time_to_recover"] <= 30
    for key in ("p50_steady", "p99_steady", "p99_fault", "p99_after", "p99_ratio", "requests_lost",
                "faults_injected", "faults_reverted"):
        assert key in m
    assert m["faults_injected"] == m["faults_reverted"] == 1
    ev = row["evidence"]
    assert ev["leftovers"] == [] and ev["timeline"]["bands"][0]["label"] == "zone-outage zone-a"
    html = (tmp_path / "report.html").read_text()
    assert "Timeline: Zone outage under load" in html and 'class="band' in html
    assert (tmp_path / "chaos" / "zone_outage.journal.jsonl").is_file()
    # the stack it brought up is gone: no supervisor of a chaos scratch stack left
    left = [p.pid for p in psutil.process_iter(["cmdline"])
            if "mlqa-chaos-stack-" in " ".join(p.info["cmdline"] or [])]
    assert left == []


def test_the_one_zone_twin_fails_naming_the_breached_threshold(tmp_path):
    (tmp_path / "one-zone.yaml").write_text("version: 1\nzones: [zone-a]\nnodes_per_zone: 2\ngpus_per_node: 0\n")
    twin = variant(EXPERIMENTS / "zone-outage.yaml", tmp_path / "twin.yaml",
                   ("target: {stack: local}", "target: {stack: local, topology: one-zone.yaml}\n"
                                              "allow_total_outage: true"))
    proc = subprocess.run(MLQA + ["chaos", "run", str(twin), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert re.search(r"availability = [\d.]+% breaches `availability >= 99%`", proc.stderr)
    (row,) = json.loads((tmp_path / "out" / "results.json").read_text())["checks"]
    assert row["status"] == "failed" and row["evidence"]["leftovers"] == []


# ------------------------------------------------------------------ each shipped experiment and its twin
# node-pause passes on the default topology in the mlqa.yaml test below (the shipped file, run by the gate)
ATTACHED = ["replica-kill.yaml", "network-partition.yaml", "node-kill.yaml", "gpu-xid.yaml", "disk-full.yaml"]


@pytest.mark.parametrize("name", ATTACHED)
def test_shipped_experiment_passes_on_the_default_topology(name, default_stack, tmp_path):
    result = run_experiment(EXPERIMENTS / name, attach=default_stack.state_dir, out=tmp_path)
    assert result.status == "passed", result.message
    assert result.metrics["faults_injected"] == result.metrics["faults_reverted"] >= 1
    assert result.evidence["leftovers"] == []
    assert_whole(default_stack)


@pytest.mark.parametrize("name, edit, breached", [
    # a checkpoint interval longer than the job: a lost node or GPU costs every step so far
    ("node-kill.yaml", ("checkpoint_every: 25,", "checkpoint_every: 150,"), "training_steps_lost_max = "),
    ("gpu-xid.yaml", ("checkpoint_every: 25,", "checkpoint_every: 150,"), "training_steps_lost_max = "),
    # a training loop that lets a failed checkpoint write end its worker
    ("disk-full.yaml", ("checkpoint_every: 25,", "checkpoint_every: 25, checkpoint_write_errors: fatal,"),
     "training_restarts = "),
])
def test_each_training_twin_fails(name, edit, breached, default_stack, tmp_path):
    twin = variant(EXPERIMENTS / name, tmp_path / "twin.yaml", edit)
    result = run_experiment(twin, attach=default_stack.state_dir)
    assert result.status == "failed", result.message
    assert breached in result.message, result.message
    assert_whole(default_stack)


@pytest.mark.parametrize("name, breached", [("replica-kill.yaml", "requests_lost"),
                                            ("network-partition.yaml", "availability"),
                                            ("node-pause.yaml", "time_to_detect = never breaches")])
def test_the_fragile_twin_fails_each_serving_claim(name, breached, fragile):
    result = run_experiment(EXPERIMENTS / name, attach=fragile.state_dir)
    assert result.status == "failed", result.message
    assert breached in result.message
    assert_whole(fragile)


# ------------------------------------------------------------------ rollback on every way out
def _runner(exp: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(MLQA + ["chaos", "run", str(exp), "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _long_pause(src_stack: Stack, tmp_path: Path) -> Path:
    return variant(EXPERIMENTS / "node-pause.yaml", tmp_path / "long-pause.yaml",
                   ("target: {stack: local}", f"target: {{stack: local, state_dir: {src_stack.state_dir}}}"),
                   ("duration: 6s", "duration: 300s"))


def _wait_injected(out: Path, proc: subprocess.Popen) -> None:
    journal = out / "chaos" / "node_pause.journal.jsonl"
    for _ in range(1200):
        if journal.exists() and '"op": "injected"' in journal.read_text():
            return
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        time.sleep(0.1)
    raise AssertionError("the fault was never injected")


def test_a_live_runner_holds_the_target_and_after_its_kill_9_recover_leaves_the_stack_whole(default_stack, tmp_path):
    proc = _runner(_long_pause(default_stack, tmp_path), tmp_path / "out")
    try:
        _wait_injected(tmp_path / "out", proc)
        assert any(f["kind"] == "node-paused" for f in default_stack.state()["faults"])
        second = subprocess.run(MLQA + ["chaos", "run", str(tmp_path / "long-pause.yaml"), "--out",
                                        str(tmp_path / "out2")], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "another chaos runner holds" in second.stderr, second.stderr
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert any(f["kind"] == "node-paused" for f in default_stack.state()["faults"]), "nothing to recover"
        rec = subprocess.run(MLQA + ["chaos", "recover"], capture_output=True, text=True, timeout=120)
        assert rec.returncode == 0, rec.stdout + rec.stderr
        assert "reverted node-pause zone-c-node-1" in rec.stdout
        assert_whole(default_stack)
        again = subprocess.run(MLQA + ["chaos", "recover"], capture_output=True, text=True, timeout=120)
        assert again.returncode == 0 and "reverted" not in again.stdout
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for p in _load_generators():
            os.kill(p, signal.SIGKILL)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_mid_fault_roll_back_first(sig, code, default_stack, tmp_path):
    proc = _runner(_long_pause(default_stack, tmp_path), tmp_path / "out")
    try:
        _wait_injected(tmp_path / "out", proc)
        proc.send_signal(sig)
        proc.wait(timeout=120)
        assert proc.returncode == code, proc.stderr.read()[-2000:]
        assert default_stack.state()["faults"] == []
        assert_whole(default_stack)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_a_selector_that_matches_nothing_live_is_a_file_line_error(default_stack, tmp_path):
    exp = variant(EXPERIMENTS / "zone-outage.yaml", tmp_path / "typo.yaml",
                  ("target: {stack: local}", f"target: {{stack: local, state_dir: {default_stack.state_dir}}}"),
                  ("zone: zone-a", "zone: zone-q"))
    proc = subprocess.run(MLQA + ["chaos", "run", str(exp), "--out", str(tmp_path / "o")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    line = next(i for i, t in enumerate(exp.read_text().splitlines(), 1) if "zone-q" in t)
    assert f"typo.yaml:{line}: zone-outage: no zone `zone-q` in the live target" in proc.stderr
    assert "zone-a, zone-b, zone-c" in proc.stderr
    assert default_stack.state()["faults"] == []


# ------------------------------------------------------------------ in the gate and in pytest
def test_experiments_in_mlqa_yaml_join_the_model_checks_in_one_decision(toy_project, default_stack, tmp_path,
                                                                        pytester):
    exp = EXPERIMENTS / "node-pause.yaml"          # the shipped file: its pass on the default topology
    cfg = toy_project(f"- data.duplicates: {{max_fraction: 0.05}}\n"
                      f"- chaos.experiment[node_pause]: {{file: {exp}, state_dir: {default_stack.state_dir}}}")
    proc = subprocess.run(MLQA + ["gate", str(cfg), "--stage", "production", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    decision = json.loads((tmp_path / "out" / "decision.json").read_text())
    assert decision["decision"] == "promote"
    assert {c["id"] for c in decision["checks"]} == {"data.duplicates", "chaos.experiment[node_pause]"}
    (row,) = [r for r in json.loads((tmp_path / "out" / "results.json").read_text())["checks"]
              if r["id"] == "chaos.experiment[node_pause]"]
    assert row["status"] == "passed" and row["evidence"]["leftovers"] == []
    assert row["metrics"]["faults_injected"] == row["metrics"]["faults_reverted"] == 1
    res = pytester.runpytest_subprocess("--collect-only", "-q", "--mlqa-config", str(cfg), "-p", "no:cacheprovider")
    res.stdout.fnmatch_lines(["*mlqa.yaml::chaos.experiment[[]node_pause[]]"])
    assert_whole(default_stack)


def test_the_mlqa_chaos_fixture_runs_an_experiment_from_a_hand_written_test(pytester, tmp_path):
    exp = variant(EXPERIMENTS / "node-pause.yaml", tmp_path / "pause.yaml", ("duration: 6s", "duration: 2s"))
    pytester.makepyfile(test_resilience=f"""
        def test_a_hung_node_is_survived(mlqa_chaos, mlqa_stack):
            result = mlqa_chaos({str(exp)!r})
            assert result.id == "chaos.experiment[node_pause]"
            assert result.status == "passed", result.message
            assert mlqa_stack.state()["faults"] == []
    """)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    res.assert_outcomes(passed=1)


# ------------------------------------------------------------------ a user's own service, named by its pid file
PROCESSES = """\
version: 1
name: own_service
target:
  processes: {{app: {{pid_file: app.pid}}}}
steady_state:
  - http: {{url: "http://127.0.0.1:{port}/", interval: 0.2s, timeout: 0.5s}}
method:
{method}
verdict:
  - time_to_recover <= 20s
  - probes_failed_after == 0
"""


@pytest.fixture
def own_service(tmp_path):
    """A user's service: a plain HTTP server on 127.0.0.1 that writes its pid file; nothing
    supervises it (killed, it stays dead)."""
    from servers import free_port
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    (tmp_path / "app.pid").write_text(f"{proc.pid}\n")
    import httpx
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    try:
        yield port, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _busy_left() -> list[int]:
    out = []
    for p in psutil.process_iter():
        try:
            if "MLQA_CHAOS_STRESS" in p.environ():
                out.append(p.pid)
        except (psutil.Error, OSError):
            continue
    return out


def test_a_hung_and_a_stressed_own_service_recovers_and_nothing_is_left(own_service, tmp_path):
    port, proc = own_service
    exp = tmp_path / "own.yaml"
    exp.write_text(PROCESSES.format(port=port, method=(
        "  - {fault: node-pause, select: {node: app}, at: 1s, duration: 2s}\n"
        "  - {fault: cpu-stress, select: {node: app}, cpus: 1, at: 1s, duration: 2s}")))
    result = run_experiment(exp, out=tmp_path / "out")
    assert result.status == "passed", result.message
    assert result.metrics["faults_injected"] == result.metrics["faults_reverted"] == 2
    assert psutil.Process(proc.pid).status() != psutil.STATUS_STOPPED and not _busy_left()


def test_an_own_service_killed_with_nothing_to_restart_it_fails(own_service, tmp_path):
    port, proc = own_service
    exp = tmp_path / "own.yaml"
    exp.write_text(PROCESSES.format(port=port, method="  - {fault: process-kill, select: {component: app}, at: 1s, "
                                                      "duration: 1s}").replace("verdict:",
                                                                               "timing: {recover_timeout: 4s}\n"
                                                                               "verdict:"))
    result = run_experiment(exp, out=tmp_path / "out")
    assert result.status == "failed", result.message
    assert "time_to_recover = never breaches" in result.message
    proc.wait(timeout=10)
