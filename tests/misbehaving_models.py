"""Models that misbehave, one way each, as `python:` factories (`misbehaving_models:NAME`).

Each factory returns a binary classifier of the toy data (one feature `x`, label 1 when
x > 0.5) that is correct except for its one defect; `good` has none — the clean twin every
planted defect is measured against. Used by tests/unit/test_model_process.py and
tests/integration/test_misbehaving_models.py. Copied next to a test's mlqa.yaml.
"""
import os
import re
import signal
import sys
import time

import numpy as np


class Good:
    classes_ = np.array([0, 1])

    def _p(self, X):
        x = np.asarray(X["x"] if hasattr(X, "columns") else np.asarray(X)[:, 0], dtype=float)
        p = np.clip(x, 0.0, 1.0)
        return np.c_[1 - p, p]

    def predict_proba(self, X):
        return self._p(X)

    def predict(self, X):
        return (self._p(X)[:, 1] > 0.5).astype(int)


def _with(**methods):
    return type("Misbehaving", (Good,), methods)()


def _proba(fn):
    def predict_proba(self, X):
        return fn(Good._p(self, X))
    return predict_proba


def _raise(self, X):
    raise RuntimeError("model bug")


def _nan_rows(p):
    p = p.copy()
    p[::7] = np.nan
    return p


def _sleep(self, X):
    time.sleep(10_000)


def _gil(self, X):  # catastrophic backtracking: the regex engine holds the GIL throughout
    re.match(r"(a+)+$", "a" * 64 + "b")


def _busy(self, X):
    while True:
        pass


def _memory(self, X):
    chunks = []
    while True:
        chunks.append(bytes(256 << 20))  # calloc: address space, not resident pages


def _fork_bomb(self, X):
    while True:
        try:
            if os.fork() == 0:
                time.sleep(10_000)
                os._exit(0)
        except OSError:
            time.sleep(0.01)


def _junk_fds(self, X):
    for fd in range(3, 1024):  # the worker may hold any of them open (1024: its open-files limit)
        try:
            os.write(fd, b"\xff" * 64)
        except OSError:
            pass
    return Good.predict(self, X)


FACTORIES = {
    "good": lambda: Good(),
    "predict_raises": lambda: _with(predict=_raise),
    "proba_raises": lambda: _with(predict_proba=_raise),
    "proba_nan_rows": lambda: _with(predict_proba=_proba(_nan_rows)),
    "proba_inf": lambda: _with(predict_proba=_proba(lambda p: np.where(p > 0.9, np.inf, p))),
    "proba_above_one": lambda: _with(predict_proba=_proba(lambda p: p * 1.5)),
    "proba_negative": lambda: _with(predict_proba=_proba(lambda p: p - 0.2)),
    "proba_not_summing": lambda: _with(predict_proba=_proba(lambda p: np.c_[p[:, 0], p[:, 1] * 0.5])),
    "proba_three_columns": lambda: _with(predict_proba=_proba(lambda p: np.c_[p * 0.5, p[:, :1] * 0])),
    "proba_one_dimensional": lambda: _with(predict_proba=_proba(lambda p: p[:, 1])),
    "proba_strings": lambda: _with(predict_proba=_proba(lambda p: p.astype(str))),
    "predict_short": lambda: _with(predict=lambda self, X: Good.predict(self, X)[:-3]),
    "predict_wrong_labels": lambda: _with(predict=lambda self, X: np.where(Good.predict(self, X) == 1, "yes", "no")),
    "predict_disagrees": lambda: _with(predict=lambda self, X: 1 - Good.predict(self, X)),
    "predict_objects": lambda: _with(predict=lambda self, X: np.array([{"label": 1}] * len(X), dtype=object)),
    "exits": lambda: _with(predict=lambda self, X: os._exit(0)),
    "sys_exit": lambda: _with(predict_proba=lambda self, X: sys.exit(0)),
    "segfault": lambda: _with(predict_proba=lambda self, X: os.kill(os.getpid(), signal.SIGSEGV)),
    "hangs": lambda: _with(predict_proba=_sleep),
    "holds_gil": lambda: _with(predict_proba=_gil),
    "busy_loop": lambda: _with(predict_proba=_busy),
    "eats_memory": lambda: _with(predict_proba=_memory),
    "fork_bomb": lambda: _with(predict_proba=_fork_bomb),
    "junk_on_fds": lambda: _with(predict_proba=lambda self, X: (_junk_fds(self, X), Good._p(self, X))[1]),
}


def _load_exits():
    os._exit(3)


def _load_raises():
    raise ValueError("cannot load")


LOAD_FAILURES = {"load_exits": _load_exits, "load_raises": _load_raises}

for _name, _factory in {**FACTORIES, **LOAD_FAILURES}.items():
    globals()[_name] = _factory
