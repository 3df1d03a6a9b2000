"""Models run in worker processes: what a misbehaving model can and cannot do to mlqa.

Real worker processes (forked, and started as fresh interpreters), real models from
tests/misbehaving_models.py; every defect has the clean twin `good`."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlqa import _model_process
from mlqa._contract import ContractError, Expectation
from mlqa._model_process import Limits, ModelCallError, ModelProcess, WorkerError
from mlqa.deadline import Cancelled, Deadline, active
from mlqa.errors import SubjectError
from mlqa.procs import pid_alive
from mlqa.subjects import RemoteModel

TESTS = Path(__file__).resolve().parents[1]
X = pd.DataFrame({"x": np.linspace(0, 1, 50)})
Y = (X["x"] > 0.5).astype(int)


@pytest.fixture(params=["fork", "exec"])
def start(request, monkeypatch):
    """Start a model from misbehaving_models by name, forked or as a fresh interpreter."""
    monkeypatch.setattr(_model_process, "FORK", request.param == "fork")
    started: list[ModelProcess] = []

    def make(name: str, limits: Limits = Limits(), expect: bool = True) -> RemoteModel:
        proc = ModelProcess({"kind": "python", "ref": f"misbehaving_models:{name}", "base": str(TESTS)},
                            limits, name=name)
        started.append(proc)
        model = RemoteModel(proc, name=name)
        if expect:
            model.expect(Expectation(task="classification", labels=(0, 1), sample=X))
        return model
    yield make
    for proc in started:
        proc.close()


def _gone(pid: int | None) -> bool:
    return pid is None or not pid_alive(pid)


def test_good_model_answers_like_in_process(start):
    model = start("good")
    assert model.classes == [0, 1] and model.has_proba
    assert model.predict(X).tolist() == Y.tolist()
    assert np.allclose(model.predict_proba(X)[:, 1], X["x"])
    with pytest.raises(SubjectError, match="runs in a worker process"):  # no object on this side
        model.obj


@pytest.mark.parametrize("name, says", [
    ("predict_raises", "predict raised RuntimeError: model bug"),
    ("proba_raises", "predict_proba raised RuntimeError"),
    ("predict_objects", "Python objects"),
    ("sys_exit", "SystemExit"),
])
def test_model_errors_come_back_as_errors(start, name, says):
    model = start(name)
    with pytest.raises(ModelCallError, match=says.replace("(", r"\(")):
        model.predict_proba(X)


@pytest.mark.parametrize("name, says", [
    ("proba_nan_rows", "NaN/inf in 8 rows"),
    ("proba_inf", "NaN/inf"),
    ("proba_above_one", "outside \\[0, 1\\]"),
    ("proba_negative", "outside \\[0, 1\\]"),
    ("proba_not_summing", "do not sum to 1"),
    ("proba_three_columns", "3 columns for 2 classes"),
    ("proba_one_dimensional", "shape \\(50,\\)"),
    ("proba_strings", "<U"),
    ("predict_short", "47 values for 50 rows"),
    ("predict_wrong_labels", "labels 'no', 'yes'"),
    ("predict_disagrees", "predict and predict_proba disagree"),
])
def test_answers_out_of_contract_are_refused(start, name, says):
    with pytest.raises(ContractError, match=says):
        start(name).predict_proba(X)


@pytest.mark.parametrize("name", ["exits", "segfault", "junk_on_fds"])
def test_a_worker_that_dies_or_corrupts_the_wire_is_an_error_and_is_replaced(start, name):
    model = start(name)
    pid = model.process.pid
    with pytest.raises(WorkerError):
        model.predict_proba(X)
    assert _gone(pid) and model.process.pid is None
    with pytest.raises(WorkerError):  # the next call starts a fresh worker, which fails the same way
        model.predict_proba(X)
    assert model.process.restarts == 1


@pytest.mark.parametrize("name", ["hangs", "holds_gil", "busy_loop", "fork_bomb"])
def test_a_deadline_kills_the_worker_and_later_calls_get_a_fresh_one(start, name):
    model = start(name, Limits(processes=64), expect=False)
    model.predict(X)  # loads: only predict_proba misbehaves
    pid = model.process.pid
    before = _descendants(pid)
    deadline = Deadline(1.0)
    with active(deadline), pytest.raises(Cancelled):
        model.predict_proba(X)
    assert _gone(pid)
    assert all(_gone(p) for p in before | _descendants(pid))
    assert model.predict(X).tolist() == Y.tolist()  # a fresh worker answers
    assert model.process.pid != pid


def _descendants(pid: int | None) -> set[int]:
    from mlqa.procs import descendants
    try:
        return descendants([pid]) if pid else set()
    except OSError:
        return set()


def test_memory_is_capped(start):
    model = start("eats_memory", Limits(memory_bytes=3 << 30))
    with pytest.raises((ModelCallError, WorkerError), match="MemoryError|killed"):
        model.predict_proba(X)


@pytest.mark.parametrize("name", ["load_exits", "load_raises"])
def test_a_model_that_cannot_load_is_an_error_every_time_without_retrying(start, name):
    model = start(name, expect=False)
    with pytest.raises(WorkerError, match="could not be loaded"):
        model.predict(X)
    with pytest.raises(WorkerError, match="could not be loaded"):
        model.classes
    assert model.process.restarts == 0


def test_the_model_does_not_see_secrets(start, monkeypatch, tmp_path):
    monkeypatch.setenv("MLQA_DEPLOY_TOKEN", "s3cret")
    monkeypatch.setenv("PLAIN_SETTING", "visible")
    (tmp_path / "env_model.py").write_text(
        "import os\nimport numpy as np\n"
        "class M:\n"
        "    def predict(self, X):\n"
        "        return np.array([os.environ.get('MLQA_DEPLOY_TOKEN', 'absent'),\n"
        "                         os.environ.get('PLAIN_SETTING', 'absent')])\n")
    proc = ModelProcess({"kind": "python", "ref": "env_model:M", "base": str(tmp_path)})
    try:
        assert RemoteModel(proc).predict([[1], [2]]).tolist() == ["absent", "visible"]
    finally:
        proc.close()


def _logistic_regression(folder: Path) -> ModelProcess:
    """A worker holding a scikit-learn logistic regression of y = x > 0.5."""
    (folder / "sk_model.py").write_text(
        "import numpy as np\nfrom sklearn.linear_model import LogisticRegression\n"
        "def make():\n"
        "    x = np.linspace(0, 1, 40).reshape(-1, 1)\n"
        "    return LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))\n")
    return ModelProcess({"kind": "python", "ref": "sk_model:make", "base": str(folder)})


def test_clones_fit_in_the_worker(tmp_path):
    proc = _logistic_regression(tmp_path)
    try:
        model = RemoteModel(proc)
        x = np.linspace(0, 1, 40).reshape(-1, 1)
        clone = model.fit_clone(x, (x[:, 0] < 0.5).astype(int))  # learns the opposite
        assert clone.predict(x[:3]).tolist() == [1, 1, 1] and model.predict(x[:3]).tolist() == [0, 0, 0]
        clone.close()
        assert model.predict(x[-1:]).tolist() == [1]
    finally:
        proc.close()


def test_closing_kills_the_worker(start):
    model = start("good")
    model.predict(X)
    pid = model.process.pid
    model.close()
    assert _gone(pid)


def test_a_killed_worker_is_reported_with_its_signal(start):
    model = start("good")
    model.predict(X)
    os.kill(model.process.pid, signal.SIGKILL)
    with pytest.raises(WorkerError, match="SIGKILL"):
        model.predict(X)
    assert model.predict(X).tolist() == Y.tolist()


def test_timing_is_measured_where_the_model_runs(start):
    model = start("good")
    out, seconds, peak = model.timed("predict_proba", X, trace_memory=True)
    assert out.shape == (50, 2) and 0 < seconds < 60 and peak > 0
    with pytest.raises(ContractError):
        start("proba_nan_rows", expect=False).timed("predict_proba", X)


def test_a_worker_does_not_outlive_mlqa_killed_with_sigkill(tmp_path):
    """mlqa dies by SIGKILL while the model holds the GIL (its watcher thread cannot run):
    the worker goes too."""
    import subprocess
    import sys
    import time
    marker = tmp_path / "busy"
    (tmp_path / "gil_model.py").write_text(
        "import pathlib, re\n"
        "class M:\n"
        "    def predict(self, X):\n"
        f"        pathlib.Path({str(marker)!r}).touch()\n"
        "        re.match(r'(a+)+$', 'a' * 64 + 'b')\n")
    script = tmp_path / "driver.py"
    script.write_text(
        "from mlqa._model_process import ModelProcess\n"
        f"p = ModelProcess({{'kind': 'python', 'ref': 'gil_model:M', 'base': {str(tmp_path)!r}}})\n"
        "p.info()\n"
        "print(p.pid, flush=True)\n"
        "p.call('predict', X=[[1]])\n")
    driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(driver.stdout.readline())
        for _ in range(600):  # bounded wait until the model is inside its GIL-holding call
            if marker.exists():
                break
            time.sleep(0.05)
        assert marker.exists() and pid_alive(worker)
    finally:
        driver.kill()
        driver.wait()
    for _ in range(200):  # the kernel sends the parent-death signal at once
        if not pid_alive(worker):
            break
        time.sleep(0.05)
    alive = pid_alive(worker)
    if alive:
        os.kill(worker, signal.SIGKILL)
    assert not alive


def test_a_clone_from_before_a_restart_is_an_error_not_another_models_answers(tmp_path):
    proc = _logistic_regression(tmp_path)
    try:
        model = RemoteModel(proc)
        x = np.linspace(0, 1, 40).reshape(-1, 1)
        old = model.fit_clone(x, (x[:, 0] < 0.5).astype(int))
        os.kill(proc.pid, signal.SIGKILL)
        with pytest.raises(WorkerError):
            model.predict(x[:2])
        model.fit_clone(x, (x[:, 0] > 0.5).astype(int))  # the new worker's first clone
        with pytest.raises(WorkerError, match="restarted"):
            old.predict(x[:2])
    finally:
        proc.close()


def test_kills_at_deadlines_do_not_use_up_the_restarts(start):
    model = start("hangs", expect=False)
    for _ in range(_model_process.MAX_RESTARTS + 2):
        with active(Deadline(0.3)), pytest.raises(Cancelled):
            model.predict_proba(X)
    assert model.predict(X).tolist() == Y.tolist() and model.process.restarts == 0


def test_a_closed_model_stays_closed(start):
    model = start("good")
    model.predict(X)
    model.close()
    with pytest.raises(WorkerError, match="closed"):
        model.predict(X)
    assert model.process.pid is None


def test_a_constant_predict_that_contradicts_certain_probabilities_breaks_the_contract():
    from mlqa._contract import agreement_breach
    proba = np.array([[0.02, 0.98], [0.6, 0.4], [0.7, 0.3]])
    assert "says 0 for every row" in agreement_breach(np.array([0, 0, 0]), proba, [0, 1])
    assert agreement_breach(np.array([0, 0, 0]), np.array([[0.4, 0.6], [0.6, 0.4]]), [0, 1][:2]) is None


def test_the_one_time_contract_check_never_waits_past_a_deadline():
    """An in-process model stuck in the agreement check holds its lock: another check waits
    only until its own deadline."""
    import threading
    from mlqa.subjects import Model
    release = threading.Event()

    class Stuck:
        classes_ = np.array([0, 1])

        def predict(self, X):
            release.wait(30)
            return (np.asarray(X["x"]) > 0.5).astype(int)

        def predict_proba(self, X):
            p = np.asarray(X["x"], dtype=float)
            return np.c_[1 - p, p]

    model = Model(Stuck())
    model.expect(Expectation(task="classification", labels=(0, 1), sample=X))
    first = threading.Thread(target=model.predict, args=(X,), daemon=True)
    first.start()
    try:
        with active(Deadline(0.3)), pytest.raises(Cancelled):
            model.predict(X)
    finally:
        release.set()
        first.join(30)
