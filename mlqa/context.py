"""`CheckContext`: what every check receives as its first argument.

It holds the run's subjects (one attribute per row of the subject table,
`mlqa.subjects.SUBJECTS`: model, baseline, train, test, endpoint, image), the label semantics, the run's seed, the check's
`deadline`, and caches shared by every check of the run — predictions, bootstrap weights,
measurements — so that ten checks on the same model and split predict once.
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .deadline import Deadline
from .errors import ConfigError, SubjectError
from .subjects import Dataset, Model, subject_kinds, subject_names

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .config import Config, DataConfig


def bootstrap_weights(n: int, replicates: int, seed: int) -> "np.ndarray":
    """Multinomial count weights: row b counts how often each of the n rows is drawn in
    bootstrap replicate b (float32; counts <= n are exact)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    W = np.empty((replicates, n), dtype=np.float32)
    for b in range(replicates):
        W[b] = np.bincount(rng.integers(0, n, size=n, dtype=np.int32), minlength=n)
    return W


@dataclass(frozen=True)
class Predictions:
    """Predictions of one model on one split. `proba` columns follow `classes`."""

    pred: "np.ndarray"
    proba: "np.ndarray | None"
    classes: list | None

    def positive_scores(self, positive: Any) -> "np.ndarray | None":
        if self.proba is None or self.classes is None or positive not in self.classes:
            return None
        return self.proba[:, self.classes.index(positive)]


class _Shared:
    """The caches every check of one run shares (copies of a context share one)."""

    def __init__(self) -> None:
        self.cache: dict = {}
        self.lock = threading.Lock()


class CheckContext:
    """The subjects, label semantics, seed, deadline and shared caches a check works with.

    Subjects are attributes (`ctx.model`, `ctx.test`, ...; None when not declared) and
    `ctx.subject(name)` for any row of the subject table. `ctx.deadline` says how long the
    check may run and when it must stop (see `mlqa.deadline`); outside a session it never
    expires. Build one from a config with `build_context`, or directly in a test:
    ``CheckContext(model=Model(clf), test=Dataset(...), positive_label=1)``.
    """

    def __init__(self, *, task: str = "classification", positive_label: Any = None,
                 sensitive: tuple[str, ...] = (), seed: int = 0, config: "Config | None" = None,
                 subject_errors: dict[str, str] | None = None, deadline: Deadline | None = None,
                 **subjects: Any) -> None:
        known = subject_names()
        unknown = sorted(set(subjects) - set(known))
        if unknown:
            raise TypeError(f"CheckContext got unknown subject(s) {unknown}; subjects: {', '.join(known)}")
        self._subjects: dict[str, Any] = {name: subjects.get(name) for name in known}
        self.task = task
        self.positive_label = positive_label
        self.sensitive = tuple(sensitive)
        self.seed = seed
        self.config = config
        #: subjects that were declared but could not be loaded, with the reason
        self.subject_errors: dict[str, str] = dict(subject_errors or {})
        self.deadline = deadline or Deadline.never()
        self._shared = _Shared()

    # ------------------------------------------------------------------ subjects
    @property
    def model(self) -> Model | None:
        return self._subjects.get("model")

    @property
    def baseline(self) -> Model | None:
        return self._subjects.get("baseline")

    @property
    def train(self) -> Dataset | None:
        return self._subjects.get("train")

    @property
    def test(self) -> Dataset | None:
        return self._subjects.get("test")

    @property
    def endpoint(self) -> dict[str, Any] | None:
        return self._subjects.get("endpoint")

    @property
    def image(self) -> str | None:
        return self._subjects.get("image")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in subject_names():  # `ctx.endpoint = {...}` in a test replaces that subject
            self._subjects[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:  # subjects a row of SUBJECTS adds
        if name.startswith("_"):
            raise AttributeError(name)
        if name in subject_names():
            return self._subjects.get(name)
        raise AttributeError(f"CheckContext has no attribute {name!r}")

    def subject(self, name: str) -> Any:
        """The subject `name` (None when not declared)."""
        if name not in subject_names():
            raise KeyError(f"unknown subject {name!r}; subjects: {', '.join(subject_names())}")
        return self._subjects.get(name)

    def has(self, subject: str) -> bool:
        return self._subjects.get(subject) is not None

    def for_check(self, deadline: Deadline) -> "CheckContext":
        """This context with a check's own deadline. The caches stay shared; the subjects
        are the check's own copy of the table (a check that replaces a subject does not
        change what later checks test)."""
        view = copy.copy(self)
        object.__setattr__(view, "_subjects", dict(self._subjects))
        view.subject_errors = dict(self.subject_errors)
        view.deadline = deadline
        return view

    # ------------------------------------------------------------------ shared caches
    def bootstrap(self, n: int, replicates: int) -> "np.ndarray":
        """Bootstrap count weights (replicates x n) for this run's seed, computed once."""
        key = ("bootstrap", n, replicates, self.seed)
        with self._shared.lock:
            if key not in self._shared.cache:
                self._shared.cache[key] = bootstrap_weights(n, replicates, self.seed)
            return self._shared.cache[key]

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()` once per run for `key`, so checks that need the same measurement (the
        capacity a cost is priced from) share it. Computed outside the lock: a long
        measurement never stalls the prediction cache."""
        key = ("memo", *key)
        with self._shared.lock:
            if key in self._shared.cache:
                return self._shared.cache[key]
        value = compute()
        with self._shared.lock:
            return self._shared.cache.setdefault(key, value)

    def predictions(self, which: str = "model", split: str = "test") -> Predictions:
        """Cached predictions of `which` (model | baseline) on `split` (train | test).

        Computed once per key; a check computing one never holds the cache of the others
        (a check killed at its deadline leaves nothing locked: the next asks afresh)."""
        key = (which, split)
        with self._shared.lock:
            if key in self._shared.cache:
                return self._shared.cache[key]
            slot = self._shared.cache.setdefault(("computing", key), threading.Lock())
        while not slot.acquire(timeout=0.05):
            self.deadline.check()
        try:
            with self._shared.lock:
                if key in self._shared.cache:
                    return self._shared.cache[key]
            value = self._predict(which, split)
            with self._shared.lock:
                self._shared.cache[key] = value
            return value
        finally:
            slot.release()

    def _predict(self, which: str, split: str) -> Predictions:
        model: Model | None = self.subject(which)
        data: Dataset | None = self.subject(split)
        if model is None or data is None:
            raise SubjectError(f"no {which if model is None else split} to predict with")
        X = data.X
        proba = model.predict_proba(X) if (self.task == "classification" and model.has_proba) else None
        classes = model.classes
        if proba is not None and classes is not None:
            import numpy as np
            pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
            pred = pred.astype(np.asarray(classes).dtype)
        else:
            pred = model.predict(X)
        return Predictions(pred=pred, proba=proba, classes=classes)

    # ------------------------------------------------------------------ label semantics
    @property
    def labels(self) -> list:
        """Sorted distinct labels over the available splits."""
        import pandas as pd
        ys = [d.y for d in (self.train, self.test) if d is not None and d.label is not None]
        if not ys:
            return []
        return sorted(pd.unique(pd.concat(ys)).tolist(), key=str)

    @property
    def is_binary(self) -> bool:
        return self.task == "classification" and len(self.labels) == 2

    def __repr__(self) -> str:
        have = ", ".join(k for k, v in self._subjects.items() if v is not None) or "no subjects"
        return f"CheckContext({have}; task={self.task}, seed={self.seed}, {self.deadline!r})"


@dataclass(frozen=True)
class DataBundle:
    """The data a config declares, for hand-written tests (the `mlqa_data` fixture)."""

    train: Dataset | None
    test: Dataset | None
    label: str | None
    positive_label: Any
    sensitive: tuple[str, ...]

    @classmethod
    def from_context(cls, ctx: CheckContext) -> "DataBundle":
        label = (ctx.test or ctx.train).label if (ctx.test or ctx.train) else None
        return cls(train=ctx.train, test=ctx.test, label=label,
                   positive_label=ctx.positive_label, sensitive=ctx.sensitive)


def build_context(config: "Config") -> CheckContext:
    """Load the subjects a config declares, row by row of the subject table. A subject
    that cannot be loaded — or whose factory raises, or calls `sys.exit` — is recorded in
    `subject_errors` (the checks needing it are `error`, so the gate blocks); an
    inconsistent label declaration is a `ConfigError`."""
    subjects: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for kind in subject_kinds():
        try:
            subjects[kind.name] = kind.build(config, kind.name)
        except SubjectError as exc:
            errors[kind.name] = str(exc)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a user's factory that crashes or exits
            errors[kind.name] = (f"building it raised {type(exc).__name__}: {exc} "
                                 f"(declared in {config.path.name})")
    ctx = CheckContext(seed=config.seed, sensitive=config.data.sensitive, config=config,
                       subject_errors=errors, **subjects)
    ctx.task = config.data.task or _infer_task(ctx)
    ctx.positive_label = _positive_label(ctx, config.data, config.path)
    _bind_contract(ctx)
    from ._data_sanity import check_data
    check_data(ctx, config)  # empty, one-class or train-as-test data: a ConfigError (exit 2)
    _await_models(ctx)
    return ctx


def _infer_task(ctx: CheckContext) -> str:
    """From the label column where there is one (many distinct floats: regression), else
    from the model (probabilities or classes: classification). The data decides first, so
    that a model still loading in its worker is not waited for."""
    for d in (ctx.train, ctx.test):
        if d is not None and d.label is not None and d.label in d.frame.columns:
            y = d.y
            if y.dtype.kind in "fc" and y.nunique() > 20:
                return "regression"
            return "classification"
    try:
        if ctx.model is not None and (ctx.model.has_proba or ctx.model.classes is not None):
            return "classification"
    except SubjectError:  # the model did not load: its checks say so
        pass
    return "classification"


def _await_models(ctx: CheckContext, within_s: float = 60.0) -> None:
    """Wait (a bounded while) for the models loading in their workers, so no check measures
    anything while a worker is still busy loading; the load overlapped the data reading. A
    model that fails to load, or takes longer, is the error of the checks that call it."""
    from .deadline import Cancelled, Deadline
    wait = Deadline(within_s)
    for name in ("model", "baseline"):
        process = getattr(ctx.subject(name), "process", None)
        if process is not None:
            try:
                process.info(wait)
            except (SubjectError, Cancelled):
                pass


def _bind_contract(ctx: CheckContext) -> None:
    """Tell each model what the data says its answers must look like; the one-time
    agreement check runs on up to SAMPLE_ROWS rows of the test data (else train)."""
    from ._contract import SAMPLE_ROWS, Expectation
    data = ctx.test if ctx.test is not None else ctx.train
    if data is None:
        return
    frame = data.X
    if len(frame) > SAMPLE_ROWS:
        frame = frame.sample(SAMPLE_ROWS, random_state=ctx.seed)
    labels = tuple(ctx.labels) if ctx.task == "classification" else ()
    for name in ("model", "baseline"):
        model = ctx.subject(name)
        if isinstance(model, Model):
            model.expect(Expectation(task=ctx.task, labels=labels, sample=frame))


def _positive_label(ctx: CheckContext, data: "DataConfig", path: Path) -> Any:
    labels = ctx.labels
    if ctx.task != "classification" or not labels:
        return data.positive_label
    if data.positive_label is not None:
        if data.positive_label not in labels:
            shown = ", ".join(repr(v) for v in labels[:10])
            raise ConfigError(f"positive_label {data.positive_label!r} is not a value of "
                              f"`{data.label}` (values: {shown})", file=path,
                              line=data.lines.get("positive_label"),
                              hint="quote it if the column holds strings: positive_label: \">50K\"")
        return data.positive_label
    if len(labels) == 2 and set(labels) <= {0, 1, True, False}:
        return 1
    if len(labels) == 2:
        raise ConfigError(f"binary label `{data.label}` has values {labels!r}: say which one is "
                          f"positive", file=path, line=data.lines.get("label"),
                          hint=f"add `positive_label: {labels[1]!r}` under data:")
    return None
