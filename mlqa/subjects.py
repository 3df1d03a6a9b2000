"""Subjects adapt what users have — models, data sets — to what checks need.

`Model` wraps any object with ``predict`` (and optionally ``predict_proba``) or a plain
callable; `Dataset` is a frame with its label and features; `CheckContext` is what a check
receives: the subjects, the run's seed, and a cache of predictions so that ten checks on
the same model and split predict once.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, SubjectError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    from .config import Config, DataConfig, ModelRef


def read_columns(path: Path) -> list[str]:
    """Column names of a CSV or Parquet file, reading only its header."""
    import pandas as pd
    if _is_parquet(path):
        import pyarrow.parquet as pq
        return list(pq.read_schema(path).names)
    sep = "\t" if ".tsv" in path.name else ","
    return [str(c) for c in pd.read_csv(path, nrows=0, sep=sep).columns]


def read_frame(path: Path) -> "pd.DataFrame":
    import pandas as pd
    if _is_parquet(path):
        return pd.read_parquet(path)
    sep = "\t" if ".tsv" in path.name else ","
    return pd.read_csv(path, sep=sep, low_memory=False)


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() in (".parquet", ".pq")


@dataclass(frozen=True)
class Dataset:
    """One split: the frame, its label column and the feature columns the model sees."""

    name: str
    frame: "pd.DataFrame"
    label: str | None
    features: tuple[str, ...]
    source: Path | None = None

    @property
    def X(self) -> "pd.DataFrame":
        return self.frame.loc[:, list(self.features)]

    @property
    def y(self) -> "pd.Series":
        if self.label is None:
            raise SubjectError(f"the {self.name} data has no label: set `data.label` in mlqa.yaml")
        return self.frame[self.label]

    def __len__(self) -> int:
        return len(self.frame)


class Model:
    """Any object with `predict` (and `predict_proba` for probabilistic classifiers),
    or a plain callable ``f(X) -> predictions``."""

    def __init__(self, obj: Any, *, name: str = "model", source: Path | None = None) -> None:
        if isinstance(obj, Model):
            obj = obj.obj
        if not hasattr(obj, "predict") and not callable(obj):
            raise SubjectError(f"the {name} has no `predict` method and is not callable "
                               f"({type(obj).__name__}); wrap it in an object with predict(X)")
        self.obj = obj
        self.name = name
        self.source = source

    @property
    def has_proba(self) -> bool:
        return hasattr(self.obj, "predict_proba")

    @property
    def classes(self) -> list | None:
        classes = getattr(self.obj, "classes_", None)
        return None if classes is None else list(classes)

    def predict(self, X: "pd.DataFrame") -> "np.ndarray":
        import numpy as np
        fn = self.obj.predict if hasattr(self.obj, "predict") else self.obj
        return np.asarray(fn(X))

    def predict_proba(self, X: "pd.DataFrame") -> "np.ndarray":
        import numpy as np
        if not self.has_proba:
            raise SubjectError(f"the {self.name} has no predict_proba")
        return np.asarray(self.obj.predict_proba(X), dtype=float)


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


@dataclass
class CheckContext:
    """What a check receives: subjects, the label semantics, a seed and a prediction cache."""

    model: Model | None = None
    baseline: Model | None = None
    train: Dataset | None = None
    test: Dataset | None = None
    task: str = "classification"
    positive_label: Any = None
    sensitive: tuple[str, ...] = ()
    seed: int = 0
    endpoint: dict[str, Any] | None = None
    image: str | None = None
    config: "Config | None" = None
    #: subjects that were declared but could not be loaded, with the reason
    subject_errors: dict[str, str] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bootstrap(self, n: int, replicates: int) -> "np.ndarray":
        """Bootstrap count weights (replicates x n) for this run's seed, computed once."""
        from .suites._metrics import bootstrap_weights
        key = ("bootstrap", n, replicates, self.seed)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = bootstrap_weights(n, replicates, self.seed)
            return self._cache[key]

    def memo(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()` once per run for `key`, so checks that need the same measurement (the
        capacity a cost is priced from) share it. Computed outside the lock: a long
        measurement never stalls the prediction cache."""
        key = ("memo", *key)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = compute()
        with self._lock:
            return self._cache.setdefault(key, value)

    def has(self, subject: str) -> bool:
        return getattr(self, subject, None) is not None

    def predictions(self, which: str = "model", split: str = "test") -> Predictions:
        """Cached predictions of `which` (model | baseline) on `split` (train | test)."""
        key = (which, split)
        with self._lock:
            if key not in self._cache:
                model: Model | None = getattr(self, which)
                data: Dataset | None = getattr(self, split)
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
                self._cache[key] = Predictions(pred=pred, proba=proba, classes=classes)
            return self._cache[key]

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
    """Load the subjects a config declares. Errors are `ConfigError`/`SubjectError`."""
    from ._model_loading import load_model_file, load_python_ref
    data = config.data

    errors: dict[str, str] = {}

    def model(ref: "ModelRef | None", name: str) -> Model | None:
        if ref is None:
            return None
        try:
            if ref.python:
                return Model(load_python_ref(ref.python, config.dir), name=name)
            assert ref.path is not None
            return Model(load_model_file(ref.path, ref.format, ref.trusted), name=name, source=ref.path)
        except SubjectError as exc:
            errors[name] = f"{config.path.name}:{ref.line}: {exc}"
            return None

    splits = {}
    for key in ("train", "test"):
        if getattr(data, key):
            try:
                splits[key] = _dataset(key, getattr(data, key), data)
            except Exception as exc:  # unreadable file: every check needing it is an error
                errors[key] = f"cannot read {getattr(data, key)}: {exc}"
    ctx = CheckContext(model=model(config.model, "model"), baseline=model(config.baseline, "baseline"),
                       train=splits.get("train"), test=splits.get("test"), seed=config.seed,
                       sensitive=data.sensitive, endpoint=config.endpoint, image=config.image,
                       config=config, subject_errors=errors)
    ctx.task = data.task or _infer_task(ctx)
    ctx.positive_label = _positive_label(ctx, data, config.path)
    return ctx


def _dataset(name: str, path: Path, data: "DataConfig") -> Dataset:
    frame = read_frame(path)
    if data.features is not None:
        features = tuple(data.features)
    else:
        features = tuple(c for c in frame.columns if c != data.label)
    return Dataset(name=name, frame=frame, label=data.label, features=features, source=path)


def _infer_task(ctx: CheckContext) -> str:
    if ctx.model is not None and (ctx.model.has_proba or ctx.model.classes is not None):
        return "classification"
    for d in (ctx.train, ctx.test):
        if d is not None and d.label is not None:
            y = d.y
            if y.dtype.kind in "fc" and y.nunique() > 20:
                return "regression"
            return "classification"
    return "classification"


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
