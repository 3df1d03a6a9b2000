"""Shared fixtures: the real UCI Adult data of the example, its models, config writers."""
from __future__ import annotations

import os
import signal
import textwrap
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

# No per-example deadline: a loaded CI machine (2 shared cores) must not turn a slow example
# into a failure; hypothesis still bounds the number of examples.
settings.register_profile("mlqa", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mlqa")

# Every process this session starts inherits the mark, so leak checks count only their own
# (make test runs two pytest lanes side by side).
os.environ.setdefault("MLQA_TEST_SESSION", f"{os.getpid()}-{uuid.uuid4().hex[:8]}")

# A shell without job control starts background jobs (`make test &`, nohup) with SIGINT
# ignored, and every child inherits that: Ctrl-C tests would then test nothing and fail.
# Ctrl-C is what they exercise, so this session takes SIGINT back (children get SIG_DFL).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
CREDIT = ROOT / "examples" / "credit"
SKOPS_TRUSTED = ["functools.partial",
                 "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
                 "sklearn.utils.validation.check_array"]


@pytest.fixture(scope="session")
def adult_train() -> pd.DataFrame:
    return pd.read_csv(CREDIT / "data" / "train.csv.gz")


@pytest.fixture(scope="session")
def adult_test() -> pd.DataFrame:
    return pd.read_csv(CREDIT / "data" / "test.csv.gz")


@pytest.fixture(scope="session")
def credit_models():
    """(champion, challenger) of the example, loaded through mlqa's own skops path."""
    from mlqa._model_loading import load_model_file
    return (load_model_file(CREDIT / "champion.skops", trusted=tuple(SKOPS_TRUSTED)),
            load_model_file(CREDIT / "model.skops", trusted=tuple(SKOPS_TRUSTED)))


@pytest.fixture
def write_config(tmp_path: Path):
    """write_config(yaml_text, **files) -> path of mlqa.yaml in a fresh folder."""
    def write(text: str, name: str = "mlqa.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path
    return write


@pytest.fixture
def small_csvs(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny train/test pair with a numeric, a categorical and a binary label column."""
    frame = pd.DataFrame({"age": [25, 32, 47, 51, 38, 29, 60, 44] * 5,
                          "city": ["a", "b", "a", "c", "b", "a", "c", "b"] * 5,
                          "label": [0, 1, 0, 1, 1, 0, 1, 0] * 5})
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    frame.to_csv(train, index=False)
    frame.sample(frac=1.0, random_state=0).to_csv(test, index=False)
    return train, test


def make_context(train: pd.DataFrame | None, test: pd.DataFrame | None, *, label: str = "income",
                 positive=">50K", model=None, baseline=None, sensitive=(), seed: int = 0,
                 task: str = "classification"):
    """A CheckContext over in-memory frames (no config file), for calling checks directly."""
    from mlqa.context import CheckContext
    from mlqa.subjects import Dataset, Model
    def ds(name, frame):
        if frame is None:
            return None
        return Dataset(name=name, frame=frame, label=label,
                       features=tuple(c for c in frame.columns if c != label))
    return CheckContext(model=Model(model) if model is not None else None,
                        baseline=Model(baseline, name="baseline") if baseline is not None else None,
                        train=ds("train", train), test=ds("test", test), task=task,
                        positive_label=positive, sensitive=tuple(sensitive), seed=seed)


@pytest.fixture(scope="session")
def make_ctx():
    return make_context


@pytest.fixture(scope="session")
def credit_train_module():
    """examples/credit/train.py as a module (to retrain the example's models in tests)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("credit_train", CREDIT / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytest_plugins = ["pytester"]

TOY_MODEL = '''
import numpy as np


class Threshold:
    """Predicts 1 when x > 0.5 (the label's true rule, with a little noise in the data)."""
    classes_ = np.array([0, 1])

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(np.clip(-(X["x"].to_numpy() - 0.5) * 12, -50, 50)))
        return np.c_[1 - p, p]

    def predict(self, X):
        return (X["x"].to_numpy() > 0.5).astype(int)


def factory():
    return Threshold()
'''

ACME_CHECKS = '''
import mlqa


@mlqa.check("acme.ok")
def ok(ctx, *, value: float = 1.0):
    """Always passes."""
    return mlqa.CheckResult(status="passed", metrics={"value": value}, thresholds={"value": ">= 0"})


@mlqa.check("acme.fails")
def fails(ctx, *, value: float = 2.0):
    """Always fails, with evidence."""
    return mlqa.CheckResult(status="failed", metrics={"value": value}, thresholds={"value": "<= 1"},
                            message=f"value = {value}, above the limit 1", evidence={"rows": [{"a": 1}]})


@mlqa.check("acme.raises")
def raises(ctx):
    """Crashes."""
    raise RuntimeError("disk on fire")
'''


@pytest.fixture
def toy_project(tmp_path):
    """A small, fast project: data, a python-referenced model and a checks plugin.

    Returns write(checks_yaml, gates_yaml) -> path of its mlqa.yaml."""
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.random(400)
    frame = pd.DataFrame({"x": x, "group": rng.choice(["a", "b"], 400),
                          "label": ((x + rng.normal(0, 0.05, 400)) > 0.5).astype(int)})
    frame.iloc[:300].to_csv(tmp_path / "train.csv", index=False)
    frame.iloc[300:].to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "toy_model.py").write_text(TOY_MODEL)
    (tmp_path / "acme_checks.py").write_text(ACME_CHECKS)

    def write(checks: str, gates: str = 'production: {blocking: ["*"]}', name: str = "mlqa.yaml") -> Path:
        text = ("version: 1\nplugins: [acme_checks]\nmodel: {python: \"toy_model:factory\"}\n"
                "data: {train: train.csv, test: test.csv, label: label, positive_label: 1}\n"
                "checks:\n" + textwrap.indent(textwrap.dedent(checks).strip("\n"), "  ") + "\n"
                "gates:\n" + textwrap.indent(textwrap.dedent(gates).strip("\n"), "  ") + "\n")
        path = tmp_path / name
        path.write_text(text)
        return path
    return write


FAULT_CHECKS = '''
import pathlib
import mlqa


@mlqa.check("acme.holds_a_fault")
def holds_a_fault(ctx, *, marker: str):
    """Creates a marker file (the 'fault') and removes it in finally, polling its deadline."""
    path = pathlib.Path(marker)
    path.write_text("injected")
    try:
        while True:
            ctx.deadline.sleep(0.05)
    finally:
        path.unlink()
'''


def add_fault_check(cfg: Path) -> None:
    """Give a toy_project config a second plugin with `acme.holds_a_fault` (named for its
    folder: plugin modules are cached by name)."""
    name = f"fault_checks_{cfg.parent.name}".replace("-", "_")
    (cfg.parent / f"{name}.py").write_text(FAULT_CHECKS)
    cfg.write_text(cfg.read_text().replace("plugins: [acme_checks]", f"plugins: [acme_checks, {name}]"))


def luhn_complete(body: str) -> str:
    """`body` with the check digit that makes it a Luhn-valid card number."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)
