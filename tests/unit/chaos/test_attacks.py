"""Attacks on the chaos engine: hostile experiment files, NaN figures, hostile /metrics text,
hostile journals, and process selectors that reach the runner itself. Each defect has a
failing test; most have a passing clean twin beside it. Fast: no network, no stack."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from experiment_texts import BASE, TRAINING

from mlqa.chaos import load_experiment, recover
from mlqa.chaos._prom import Series, _quantile, holds, parse_expr, parse_scrape
from mlqa.chaos._spec import ProbeSpec, ProcessRef
from mlqa.errors import ConfigError

PROCS = """\
version: 1
name: procs
target:
  processes: {app: {pid_file: app.pid}}
steady_state:
  - command: {run: [/bin/true]}
method:
  - fault: cpu-stress
    select: {node: app}
    at: 1s
    duration: 2s
verdict:
  - probes_failed_after == 0
"""



def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _edit(base: str, old: str, new: str) -> str:
    assert old in base
    return base.replace(old, new, 1)


def _config_error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        load_experiment(_write(tmp_path, text))
    assert err.value.line is not None, "a ConfigError must name the line"
    return err.value


# ---------------------------------------------------------------- validator: non-finite numbers

@pytest.mark.parametrize("old,new", [
    ("at: 2s", "at: .nan"),
    ("at: 2s", "at: .inf"),
    ("duration: 6s", "duration: .nan"),
    ("duration: 6s", "duration: .inf"),
    ("rate: 40/s", "rate: .inf"),
    ("rate: 40/s", "rate: 40/s, window: .nan"),
    ("verdict:", "timing: {steady: .nan}\nverdict:"),
    ("verdict:", "timing: {recover_timeout: .inf}\nverdict:"),
])
def test_non_finite_durations_and_rates_are_config_errors(tmp_path, old, new):
    """Attack: `.nan`/`.inf` YAML floats as at/duration/rate/window/timing; expected: ConfigError at the line (NaN `at` never fires, NaN/inf length makes the method loop forever)."""
    _config_error(tmp_path, _edit(BASE, old, new))


def test_finite_durations_load_clean_twin(tmp_path):
    """Clean twin: finite at/duration/rate/timing load and keep their values."""
    exp = load_experiment(_write(tmp_path, _edit(BASE, "verdict:", "timing: {steady: 2s, recover_timeout: 30s}\nverdict:")))
    assert exp.method[0].at == 2.0 and exp.method[0].duration == 6.0 and exp.length_s == 8.0
    assert exp.timing.steady == 2.0 and exp.timing.recover_timeout == 30.0


@pytest.mark.parametrize("old,new", [
    ("rate: 40/s", "rate: 40/s, window: 0"),
    ("  - command: {run: [/bin/true]}", "  - command: {run: [/bin/true], interval: 0}"),
])
def test_zero_windows_and_poll_intervals_are_config_errors(tmp_path, old, new):
    """Attack: `window: 0` (the load SLOs can never hold) or `interval: 0` (a busy poll loop); expected: ConfigError."""
    base = BASE if old in BASE else PROCS
    _config_error(tmp_path, _edit(base, old, new))


# ---------------------------------------------------------------- validator: verdict thresholds

@pytest.mark.parametrize("verdict", ["availability >= -5%", "availability <= 200%",
                                     "time_to_recover <= 1e400", "time_to_recover <= 1e999s"])
def test_out_of_range_or_infinite_thresholds_are_config_errors(tmp_path, verdict):
    """Attack: a share outside 0..100% or an infinite threshold (passes even `never recovered` = inf); expected: ConfigError like a bare share above 1."""
    _config_error(tmp_path, _edit(BASE, "availability >= 99%", verdict))


@pytest.mark.parametrize("verdict,value", [("availability >= 0%", 0.0), ("availability >= 100%", 1.0),
                                           ("time_to_recover <= 90s", 90.0)])
def test_in_range_thresholds_load_clean_twin(tmp_path, verdict, value):
    """Clean twin: 0%, 100% and finite durations are accepted with the right value."""
    exp = load_experiment(_write(tmp_path, _edit(BASE, "availability >= 99%", verdict)))
    assert exp.verdict[0].value == value


def test_version_true_is_not_version_1(tmp_path):
    """Attack: `version: true` (True == 1 in Python); expected: ConfigError, as for any non-1 version."""
    _config_error(tmp_path, _edit(BASE, "version: 1", "version: true"))


# ---------------------------------------------------------------- validator: probes and stops

def test_a_command_probe_stdout_regex_that_does_not_compile_is_a_config_error(tmp_path):
    """Attack: `stdout: "("`; expected: ConfigError at validate time, not a probe that fails every sample at run time."""
    _config_error(tmp_path, _edit(PROCS, "run: [/bin/true]", 'run: [/bin/true], stdout: "("'))


def test_a_command_probe_with_a_valid_regex_clean_twin(tmp_path):
    """Clean twin: a regex that compiles is accepted."""
    exp = load_experiment(_write(tmp_path, _edit(PROCS, "run: [/bin/true]", 'run: [/bin/true], stdout: "^ok$"')))
    assert exp.steady_state[0].params["stdout"] == "^ok$"


def test_healthy_replicas_stop_condition_on_a_processes_target_is_a_config_error(tmp_path):
    """Attack: `healthy_replicas < 1` on a processes target (no gateway: never measured, so the stop never fires); expected: ConfigError."""
    _config_error(tmp_path, _edit(PROCS, "verdict:", 'stop_conditions: ["healthy_replicas < 1"]\nverdict:'))


def test_healthy_replicas_stop_condition_on_a_stack_clean_twin(tmp_path):
    """Clean twin: on a stack target the gateway reports healthy_replicas, so it loads."""
    exp = load_experiment(_write(tmp_path, _edit(BASE, "success_rate < 50% for 3s", "healthy_replicas < 1")))
    assert exp.stop_conditions[0].comparison.name == "healthy_replicas"


@pytest.mark.parametrize("probes", [
    "  - command: {run: [/bin/true], name: x}\n  - command: {run: [/bin/true], name: x}",
    "  - command: {run: [/bin/true], name: command_1}\n  - command: {run: [/bin/true]}",
])
def test_two_probes_with_the_same_name_are_a_config_error(tmp_path, probes):
    """Attack: two probes named alike (explicitly, or an explicit name equal to the generated `command_1`); expected: ConfigError."""
    _config_error(tmp_path, _edit(PROCS, "  - command: {run: [/bin/true]}", probes))


def test_at_step_beyond_the_jobs_steps_is_a_config_error(tmp_path):
    """Attack: `at_step: 100000` with `steps: 100` (can never be injected); expected: ConfigError at the line."""
    _config_error(tmp_path, _edit(TRAINING, "at_step: 40", "at_step: 100000"))


def test_at_step_within_the_job_clean_twin(tmp_path):
    """Clean twin: a step inside the job loads."""
    assert load_experiment(_write(tmp_path, TRAINING)).method[0].at_step == 40


# ---------------------------------------------------------------- validator: processes target

@pytest.mark.parametrize("old,new", [
    ("pid_file: app.pid", 'pid_file: ""'),                        # accepted, then TypeError in open()
    ("pid_file: app.pid", "pid: 99999999999999999999999"),       # accepted, then OverflowError in open()
    ("pid_file: app.pid", "port: 70000"),                         # no such TCP port
    ("fault: cpu-stress", "fault: cpu-stress\n    cpus: 0"),      # a fault that does nothing
    ("fault: cpu-stress", "fault: cpu-stress\n    cpus: 1000000"),  # a fork bomb
])
def test_impossible_process_refs_and_cpu_counts_are_config_errors(tmp_path, old, new):
    """Attack: empty pid_file, pid/port beyond the OS range, cpus 0 or 1e6; expected: ConfigError (not a traceback at run time, not a fork bomb)."""
    _config_error(tmp_path, _edit(PROCS, old, new))


def test_sound_processes_target_clean_twin(tmp_path):
    """Clean twin: a pid file, a real port and a small cpu count load."""
    exp = load_experiment(_write(tmp_path, _edit(PROCS, "fault: cpu-stress", "fault: cpu-stress\n    cpus: 2")))
    assert exp.target.processes[0].pid_file == tmp_path / "app.pid" and exp.method[0].params["cpus"] == 2


def test_an_empty_pid_file_ref_crashes_open_with_a_traceback():
    """Attack: the ref the validator lets through for `pid_file: ""` reaches the backend; expected: SelectorError, not TypeError."""
    from mlqa.chaos.backends import SelectorError
    from mlqa.chaos.backends.processes import LocalProcesses
    with pytest.raises(SelectorError):
        LocalProcesses.open((ProcessRef(name="app"),))


# ---------------------------------------------------------------- processes backend

def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_cpu_stress_on_processes_is_reverted_by_its_journaled_reverts():
    """Attack: cpu-stress on a processes target; the runner journals `reverts()` (action none) and drops inject()'s kill actions; expected: the journaled reverts stop the busy processes."""
    from mlqa.chaos.backends.processes import LocalProcesses
    child = _sleeper()
    busy: list[int] = []
    try:
        b = LocalProcesses({"app": {"pid": child.pid}})
        journaled = b.reverts("cpu-stress", ["app"])          # what _runner._inject journals and reverts
        got = b.inject("cpu-stress", ["app"], {"node": "app"}, {"cpus": 1})
        busy = [pid for a in got for pid, _ in a.get("pids", [])]
        for action in journaled:
            b.revert(action)
        time.sleep(0.2)
        assert busy and all(_gone(pid) for pid in busy), f"busy processes left running: {journaled}"
    finally:
        for pid in busy:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        child.kill()
        child.wait()


def _wait_gone(pids: list[int], within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if all(_gone(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("environ_readable", [True, False])
def test_a_resumed_runner_stops_busy_processes_it_did_not_start(monkeypatch, environ_readable):
    """Attack: the runner that injected cpu-stress dies; a fresh backend reverts the journaled
    `kill_tagged` without the Popen handles, in a container where /proc/PID/environ may be
    unreadable; expected: the busy processes are found by their tag and stopped."""
    from mlqa.chaos.backends import processes
    child = _sleeper()
    busy: list[int] = []
    first = None
    try:
        first = processes.LocalProcesses({"app": {"pid": child.pid}})
        journaled = first.reverts("cpu-stress", ["app"])
        got = first.inject("cpu-stress", ["app"], {"node": "app"}, {"cpus": 2})
        busy = [pid for a in got for pid, _ in a.get("pids", [])]
        if not environ_readable:
            def denied(self):
                raise psutil.AccessDenied(self.pid)
            monkeypatch.setattr(psutil.Process, "environ", denied)
        resumed = processes.LocalProcesses({"app": {"pid": child.pid}})
        for action in journaled:
            resumed.revert(action)
        assert busy and _wait_gone(busy), f"busy processes left running after {journaled}"
    finally:
        for pid in busy:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        for procs in (first._busy.values() if first else []):   # reap: no zombie left behind
            for p in procs:
                p.wait(timeout=5)
        child.kill()
        child.wait()


def test_kill_tagged_spares_a_process_with_another_tag():
    """Clean twin: a busy process of another experiment (another tag) survives the revert."""
    from mlqa.chaos.backends import processes
    child = _sleeper()
    other = processes.LocalProcesses({"app": {"pid": child.pid}})
    mine = processes.LocalProcesses({"app": {"pid": child.pid}})
    other.reverts("cpu-stress", ["app"])
    theirs = other.inject("cpu-stress", ["app"], {"node": "app"}, {"cpus": 1})
    try:
        for action in mine.reverts("cpu-stress", ["app"]):
            mine.revert(action)
        assert not any(_gone(pid) for a in theirs for pid, _ in a["pids"])
    finally:
        for action in [{"action": "kill_tagged", "tag": other._stress_tag}]:
            other.revert(action)
        child.kill()
        child.wait()


def test_a_named_ancestor_of_the_runner_never_puts_the_runner_in_the_blast_radius():
    """Attack: pid/pid_file naming the runner's parent (a shell, a supervisor): `_tree` includes the runner, so node-pause SIGSTOPs the runner itself; expected: refused or the runner excluded."""
    from mlqa.chaos.backends import SelectorError
    from mlqa.chaos.backends.processes import LocalProcesses
    try:
        b = LocalProcesses.open((ProcessRef(name="parent", pid=os.getppid()),))
    except SelectorError:
        return
    assert os.getpid() not in [pid for pid, _ in b._tree("parent")]


def test_a_named_child_is_in_the_tree_clean_twin():
    """Clean twin: naming a child process puts it (not the runner) in the tree."""
    from mlqa.chaos.backends.processes import LocalProcesses
    child = _sleeper()
    try:
        tree = [pid for pid, _ in LocalProcesses.open((ProcessRef(name="c", pid=child.pid),))._tree("c")]
        assert child.pid in tree and os.getpid() not in tree
    finally:
        child.kill()
        child.wait()


def test_a_revert_with_a_bare_pid_never_signals_an_unverified_process():
    """Attack: a journal revert `{action: kill, pids: [PID]}` without a start time (pid reuse unguarded); expected: the process is left alone."""
    from mlqa.chaos.backends.processes import LocalProcesses
    child = _sleeper()
    try:
        LocalProcesses({}).revert({"action": "kill", "pids": [child.pid]})
        time.sleep(0.1)
        assert child.poll() is None, "a pid without its start time was SIGKILLed"
    finally:
        child.kill()
        child.wait()


def test_a_revert_with_a_matching_start_time_clean_twin():
    """Clean twin: (pid, start time) of the same process is signalled; a wrong start time is not."""
    from mlqa.chaos.backends.processes import LocalProcesses
    child = _sleeper()
    try:
        started = psutil.Process(child.pid).create_time()
        LocalProcesses({}).revert({"action": "kill", "pids": [[child.pid, started + 5]]})
        time.sleep(0.1)
        assert child.poll() is None
        LocalProcesses({}).revert({"action": "kill", "pids": [[child.pid, started]]})
        child.wait(timeout=5)
        assert child.returncode == -9
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


# ---------------------------------------------------------------- prometheus: fail closed

class _Resp:
    def __init__(self, text: str) -> None:
        self.text = text

    def raise_for_status(self) -> None:
        pass


class _Client:
    def __init__(self, text: str) -> None:
        self.text = text

    def get(self, url, timeout=None):
        return _Resp(self.text)


def _prom_probe(expr: str, text: str):
    from mlqa.chaos._probes import PollProbe
    p = PollProbe(ProbeSpec(kind="prometheus", name="p", params={"url": "http://x/metrics", "expr": expr,
                                                                "interval": 1.0}), {})
    p._client = _Client(text)
    return p


@pytest.mark.parametrize("text", ["other_metric 5\n", "up NaN\n"])
def test_a_prometheus_probe_on_a_missing_or_nan_metric_does_not_hold(text):
    """Attack: the metric is absent (renamed, its process gone) or NaN; evaluate() gives NaN and sample() reports True; expected: not True (fail closed)."""
    ok, detail = _prom_probe("up >= 1", text).sample()
    assert ok is not True, detail


def test_a_prometheus_probe_on_a_present_metric_clean_twin():
    """Clean twin: `up 1` holds `up >= 1`, `up 0` does not."""
    assert _prom_probe("up >= 1", "up 1\n").sample()[0] is True
    assert _prom_probe("up >= 1", "up 0\n").sample()[0] is False


def test_histogram_quantile_of_nan_buckets_is_nan():
    """Attack: /metrics with NaN bucket counts; _quantile falls through to bounds[-2] (a finite 0.5) and `< 1` holds; expected: NaN, so the comparison does not hold."""
    e = parse_expr("histogram_quantile(0.99, m) < 1")
    s = Series(keep_s=10)
    s.add(time.time(), parse_scrape('m_bucket{le="0.1"} NaN\nm_bucket{le="0.5"} NaN\nm_bucket{le="+Inf"} NaN\n'))
    value = s.evaluate(e)
    assert math.isnan(value) and holds(e, value) is None, value


def test_histogram_quantile_of_sound_buckets_clean_twin():
    """Clean twin: cumulative buckets 0/10/10 give a quantile inside the (0.1, 0.5] bucket."""
    assert 0.1 < _quantile(0.99, {0.1: 0.0, 0.5: 10.0, math.inf: 10.0}) <= 0.5


# ---------------------------------------------------------------- verdict / stop conditions

def _run(tmp_path: Path, text: str):
    from mlqa.chaos._runner import Run
    run = Run(load_experiment(_write(tmp_path, text)), out_dir=None, state_root_dir=tmp_path / "state")
    run.t_start = run.t_method = time.time()
    return run


class _Load:
    kind = "load"
    name = "load"

    def __init__(self, values: list[float]) -> None:
        self.values = list(values)

    def live(self, now):
        return {"success_rate": self.values.pop(0) if self.values else float("nan")}

    def poll(self, now):
        pass


def test_a_stop_condition_whose_text_contains_another_does_not_crash_the_abort(tmp_path):
    """Attack: stops `success_rate < 0.9` and `success_rate < 0.95`, observed 0.92: the abort looks the condition up by substring and hits the first (KeyError); expected: stopped by the second, with its timing."""
    run = _run(tmp_path, _edit(BASE, "  - success_rate < 50% for 3s", "  - success_rate < 0.9\n  - success_rate < 0.95"))
    run.probes = [_Load([0.92])]
    run._method(backend=None)
    assert "0.95" in run.stopped and run.stop_timing["for_s"] == 0.0


def test_a_single_stop_condition_aborts_clean_twin(tmp_path):
    """Clean twin: one breached stop condition stops the method and records its timing."""
    run = _run(tmp_path, _edit(BASE, "  - success_rate < 50% for 3s", "  - success_rate < 0.95"))
    run.probes = [_Load([0.92])]
    run._method(backend=None)
    assert "0.95" in run.stopped and run.stop_timing["for_s"] == 0.0


def test_a_nan_live_figure_does_not_reset_a_stop_conditions_for_timer(tmp_path):
    """Attack: at a low rate every other 1 s live window has no request (NaN); each NaN resets `for 3s`, so a total outage never stops; expected: NaN neither confirms nor resets, the stop fires."""
    run = _run(tmp_path, BASE)
    load = _Load([0.0, float("nan")] * 5)
    since: dict[str, float] = {}
    fired = [run._stop_breached(load, float(t), since)[0] for t in range(10)]
    assert any(fired), "a success rate of 0% whenever measured never fired `success_rate < 50% for 3s`"


def test_a_steady_breach_fires_after_its_for_clean_twin(tmp_path):
    """Clean twin: success 0% every second fires `for 3s` at the fourth sample, not before."""
    run = _run(tmp_path, BASE)
    load = _Load([0.0] * 5)
    since: dict[str, float] = {}
    fired = [bool(run._stop_breached(load, float(t), since)[0]) for t in range(5)]
    assert fired == [False, False, False, True, True]


def _figures_with_probe_samples(tmp_path: Path, samples: list):
    from mlqa.chaos._probes import PollProbe
    from mlqa.chaos._verdict import figures
    run = _run(tmp_path, PROCS)
    probe = PollProbe(run.exp.steady_state[0], {})
    probe.samples = samples
    run.probes = [probe]
    run.t_recovered = 1000.0
    return figures(run)


def test_probes_failed_after_is_not_measured_without_a_sample_after_recovery(tmp_path):
    """Attack: no probe sample after recovery (interval longer than `after`, or a dead probe thread) counts as 0 failing, so `probes_failed_after == 0` passes; expected: NaN (not measured)."""
    figs = _figures_with_probe_samples(tmp_path, [(999.0, True, "exit 0")])
    assert math.isnan(figs["probes_failed_after"]), figs["probes_failed_after"]


def test_probes_failed_after_counts_a_failing_sample_clean_twin(tmp_path):
    """Clean twin: a failing sample after recovery counts 1; a passing one counts 0."""
    assert _figures_with_probe_samples(tmp_path, [(1001.0, False, "exit 1")])["probes_failed_after"] == 1.0
    assert _figures_with_probe_samples(tmp_path, [(1001.0, True, "exit 0")])["probes_failed_after"] == 0.0


# ---------------------------------------------------------------- recover: hostile journals

def _journal(tmp_path: Path, lines: list[dict | str]) -> Path:
    path = tmp_path / "chaos" / "journals" / "r1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines), encoding="utf-8")
    return path


GONE = {"backend": "nope"}


@pytest.mark.parametrize("lines", [
    [{"op": "begin", "run_id": "r1", "target": "garbage"}],
    [{"op": "begin", "run_id": "r1", "target": {"backend": "processes", "refs": "x"}}],
    [{"op": "begin", "run_id": "r1", "target": GONE}, {"op": "probe_processes", "pids": [["abc", 1]]}],
    [{"op": "begin", "run_id": "r1", "target": GONE}, {"op": "probe_processes", "pids": [5]}],
    [{"op": "begin", "run_id": "r1", "target": GONE}, {"op": "inject", "fault_id": "f0", "reverts": 5}],
])
def test_recover_survives_a_corrupt_journal(tmp_path, lines):
    """Attack: a journal whose lines are valid JSON of the wrong shape; expected: recover reports it and goes on, no traceback (exit 3)."""
    _journal(tmp_path, lines)
    report = recover(tmp_path)
    assert len(report) == 1


def test_recover_skips_a_torn_last_line_clean_twin(tmp_path):
    """Clean twin: a torn last line (the runner died mid-write) is ignored and the pending fault abandoned."""
    _journal(tmp_path, [{"op": "begin", "run_id": "r1", "target": GONE},
                        {"op": "inject", "fault_id": "f0", "label": "x", "reverts": []}, '{"op": "rev'])
    (item,) = recover(tmp_path)
    assert item["gone"] == ["x"] and item["failed"] == []
