"""A hostile model author against the model worker (mlqa/_model_process.py): each test is
one attack that got through, with its clean twin where one makes sense.

The models are `python:` factories in a module written next to each toy project's
mlqa.yaml (the model controls its whole worker process, so it can patch the worker's own
code: `mlqa._model_worker._reply`, `time.perf_counter`)."""
from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlqa
from mlqa._model_process import Limits, ModelProcess, WorkerError
from mlqa.deadline import Deadline, active
from mlqa.errors import SubjectError
from mlqa.procs import pid_alive

pytestmark = pytest.mark.slow

ATTACKS = '''
import os, struct, time
import numpy as np


class Good:
    classes_ = np.array([0, 1])

    def _p(self, X):
        p = np.clip(np.asarray(X["x"], dtype=float), 0.0, 1.0)
        return np.c_[1 - p, p]

    def predict_proba(self, X):
        return self._p(X)

    def predict(self, X):
        return (self._p(X)[:, 1] > 0.5).astype(int)


class Slow(Good):
    def predict_proba(self, X):
        time.sleep(0.2)
        return self._p(X)


def good():
    return Good()


def slow():
    return Slow()


def slow_stops_the_clock():
    time.perf_counter = lambda: 0.0  # the worker's stopwatch now reads 0 ms for every call
    return Slow()


def _with_classes(classes):
    m = Good()
    m.classes_ = classes
    return m


def classes_as_strings():  # the data's labels are the ints 0 and 1
    return _with_classes(np.array(["0", "1"]))


def classes_unknown():
    return _with_classes(np.array([0, 7]))


def classes_millions():  # a 5 MB reply that mlqa turns into a list of 5 million objects
    return _with_classes(np.zeros(5_000_000, dtype=bool))


def _raw_reply(head, payload=b""):
    import mlqa._model_worker as w

    def _reply(fd, header, arrays):
        data = struct.pack(">QI", 4 + len(head) + len(payload), len(head)) + head + payload
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    w._reply = _reply  # every reply, the load's included


def deep_json_reply():
    _raw_reply(b"[" * 100_000 + b"]" * 100_000)
    return Good()


def zero_itemsize_reply():
    _raw_reply(b'{"ok": true, "arrays": [{"dtype": "<U0", "shape": [100000000000], "nbytes": 0}]}')
    return Good()


def huge_empty_shape_reply():
    _raw_reply(b'{"ok": true, "arrays": [{"dtype": "<f8", "shape": [0, 1000000000000000000000000000000], '
               b'"nbytes": 0}]}')
    return Good()


def ok_without_arrays():
    import mlqa._model_worker as w
    reply = w._reply

    def _reply(fd, header, arrays):
        reply(fd, header, [] if "elapsed_s" in header else arrays)
    w._reply = _reply
    return Good()


def escapes_the_kill():
    """A grandchild in a session of its own, orphaned (its parent exits): not in the
    worker's process group, and no longer the worker's descendant."""
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(w, str(os.getpid()).encode())
            for _ in range(600):  # bounded: gone by itself after 60 s at most
                time.sleep(0.1)
            os._exit(0)
        os._exit(0)
    os.waitpid(middle, 0)  # reaped: the grandchild is re-parented away from the worker
    pid = int(os.read(r, 32))
    open(os.path.join(os.path.dirname(__file__), "escaped.pid"), "w").write(str(pid))
    return Good()
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("attacks")
    rng = np.random.default_rng(0)
    x = rng.random(400)
    frame = pd.DataFrame({"x": x, "group": rng.choice(["a", "b"], 400), "label": (x > 0.5).astype(int)})
    frame.iloc[:300].to_csv(root / "train.csv", index=False)
    frame.iloc[300:].to_csv(root / "test.csv", index=False)
    (root / "attack_models.py").write_text(ATTACKS)
    return root


def _gate(root: Path, name: str, check: str) -> tuple[str, list[dict]]:
    path = root / f"{name}.yaml"
    path.write_text(textwrap.dedent(f"""\
        version: 1
        model: {{python: "attack_models:{name}", limits: {{processes: 64}}}}
        data: {{train: train.csv, test: test.csv, label: label, positive_label: 1, sensitive: [group]}}
        checks:
          - {check}
        gates:
          production: {{blocking: ["*"]}}
        """))
    out = root / f"out-{name}"
    decision = mlqa.gate(path, "production", out=out)
    return decision.decision, json.loads((out / "results.json").read_text())["checks"]


def _process(root: Path, name: str) -> ModelProcess:
    return ModelProcess({"kind": "python", "ref": f"attack_models:{name}", "base": str(root)}, Limits(), name=name)


# ------------------------------------------------------------------ latency measured by the model
LATENCY = "latency.inference: {batch_sizes: [1], repeats: 5, max_seconds: 3, max_p95_ms: 50, timeout: 60}"


@pytest.mark.parametrize("name, decision", [("good", "promote"), ("slow", "block")])
def test_latency_gate_clean_twins(project, name, decision):
    assert _gate(project, name, LATENCY)[0] == decision


def test_a_slow_model_cannot_pass_the_latency_gate_by_stopping_the_workers_clock(project):
    """Each call sleeps 200 ms; the worker reports `elapsed_s` 0 because the model replaced
    `time.perf_counter` in its own process. mlqa believed it: p95_ms = 0, promote."""
    decision, results = _gate(project, "slow_stops_the_clock", LATENCY)
    assert decision == "block", results


# ------------------------------------------------------------------ classes_ the data never holds
FAIRNESS = "fairness.demographic_parity: {max_difference: 0.3, timeout: 30}"


def test_fairness_clean_twin_promotes(project):
    assert _gate(project, "good", FAIRNESS)[0] == "promote"


@pytest.mark.parametrize("name", ["classes_as_strings", "classes_unknown"])
def test_classes_outside_the_datas_labels_break_the_contract(project, name):
    """`pred` is built from `classes_` and the argmax of predict_proba, which no contract
    check compares with the data's labels: every row predicts a label the data never holds,
    the selection rate is 0 in every group, and demographic parity passed (promote)."""
    decision, results = _gate(project, name, FAIRNESS)
    assert decision == "block" and results[0]["status"] == "error", results
    assert "contract" in results[0]["message"], results


# ------------------------------------------------------------------ replies the parser lets through
@pytest.mark.parametrize("name, during", [
    ("deep_json_reply", "load"),  # RecursionError out of json.loads
    ("zero_itemsize_reply", "load"),  # ValueError out of numpy.frombuffer (dtype <U0)
    ("huge_empty_shape_reply", "load"),  # ValueError out of numpy.empty
    ("ok_without_arrays", "predict"),  # IndexError in RemoteModel._raw_predict
])
def test_a_reply_that_breaks_the_parser_is_a_worker_error_and_the_worker_is_killed(project, name, during):
    """parse_reply turned only some malformed replies into WireError; these escaped as
    RecursionError/ValueError/IndexError, the worker was not killed, and after a failed
    load the next call waited for a reply that never came (the check's whole timeout)."""
    from mlqa.subjects import RemoteModel
    proc = _process(project, name)
    pid = proc.pid
    try:
        with active(Deadline(20)):
            model = RemoteModel(proc, name=name)
            with pytest.raises(WorkerError, match="wire format"):
                model.predict(pd.DataFrame({"x": np.linspace(0, 1, 10)}))
            with pytest.raises(WorkerError):  # and again at once, not after a deadline
                started = time.monotonic()
                model.predict(pd.DataFrame({"x": np.linspace(0, 1, 10)}))
            assert time.monotonic() - started < 10
        for _ in range(100):
            if not pid_alive(pid):
                break
            time.sleep(0.05)
        assert not pid_alive(pid), "the worker that broke the wire format still runs"
    finally:
        proc.close()


# ------------------------------------------------------------------ memory in mlqa's process
def test_a_model_with_millions_of_classes_is_refused_before_mlqa_builds_them(project):
    """A 5 MB reply became 5 million Python objects in mlqa's process (about 9x the bytes;
    with the 1 GiB reply limit that is ~9 GiB in the gate's process, beyond any worker
    limit). mlqa should refuse a `classes_` far larger than any label set."""
    proc = _process(project, "classes_millions")
    try:
        with active(Deadline(60)):
            with pytest.raises(SubjectError, match="classes"):
                proc.info()
    finally:
        proc.close()


def test_clean_twin_classes_load(project):
    proc = _process(project, "good")
    try:
        with active(Deadline(60)):
            assert proc.info()["classes"] == [0, 1]
    finally:
        proc.close()


# ------------------------------------------------------------------ processes left behind
def test_a_setsid_double_forked_grandchild_dies_with_the_worker(project):
    """README: the timeout kills 'the worker's whole process group (and anything it
    forked)'. A grandchild that calls setsid and whose parent exits is in neither the
    group nor the worker's /proc descendants: it outlived close() (and the gate)."""
    pidfile = project / "escaped.pid"
    pidfile.unlink(missing_ok=True)
    proc = _process(project, "escapes_the_kill")
    escaped = None
    try:
        with active(Deadline(60)):
            proc.info()
        escaped = int(pidfile.read_text())
        assert pid_alive(escaped)
        proc.close()
        for _ in range(100):  # bounded: 5 s
            if not pid_alive(escaped):
                break
            time.sleep(0.05)
        assert not pid_alive(escaped), f"pid {escaped}, forked by the model, outlived its worker"
    finally:
        proc.close()
        if escaped is not None:
            try:
                os.kill(escaped, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_a_forged_extra_reply_is_caught_by_its_sequence_number(tmp_path):
    """A model writing its own reply frame to the reply pipe cannot shift later answers
    onto the wrong requests: every reply carries the number of its request."""
    from mlqa._model_process import ModelProcess
    from mlqa.subjects import RemoteModel
    (tmp_path / "forger.py").write_text(
        "import numpy as np\n"
        "from mlqa._worker_wire import encode_array, reply_frame\n"
        "class M:\n"
        "    def predict(self, X):\n"
        "        spec, data = encode_array(np.zeros(len(X)))\n"
        "        import os\n"
        "        os.write(3, reply_frame({'ok': True, 'seq': 0, 'arrays': [spec]}, data))\n"
        "        return np.ones(len(X))\n")
    proc = ModelProcess({"kind": "python", "ref": "forger:M", "base": str(tmp_path)})
    try:
        with active(Deadline(30)), pytest.raises(WorkerError, match="wire format.*reply to request 0"):
            RemoteModel(proc).predict([[1], [2]])
    finally:
        proc.close()
