"""Shared machinery of the robustness checks: seeded row samples, batched and counted
predictions, and flip / change measures."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...context import CheckContext
from ...subjects import Model
from ...tables import is_categorical, kind


@dataclass
class Probe:
    """Predicts in batches and counts calls and rows, for the evidence."""

    model: Model
    classification: bool
    positive: object = None
    calls: int = 0
    rows: int = 0
    _classes: list | None = field(default=None, repr=False)

    def outputs(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """(prediction, positive-class score or None) for every row, in one call."""
        self.calls += 1
        self.rows += len(X)
        if self.classification and self.model.has_proba:
            proba = self.model.predict_proba(X)
            classes = self.model.classes or list(range(proba.shape[1]))
            pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
            score = proba[:, classes.index(self.positive)] if self.positive in classes else proba.max(axis=1)
            return pred, score
        pred = self.model.predict(X)
        return pred, (pred.astype(float) if not self.classification else None)

    def counts(self) -> dict:
        return {"predict_calls": self.calls, "rows_predicted": self.rows}


def probe(ctx: CheckContext) -> Probe:
    return Probe(ctx.model, ctx.task == "classification", ctx.positive_label)


def sample(ctx: CheckContext, rows: int) -> pd.DataFrame:
    """A seeded sample of test features (all of them when there are fewer rows)."""
    X = ctx.test.X
    if len(X) > rows:
        X = X.sample(n=rows, random_state=ctx.seed)
    return X.reset_index(drop=True)


def numeric_features(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if kind(X[c]) == "numeric"]


def text_features(X: pd.DataFrame) -> list[str]:
    """Categorical columns that hold free text (long, mostly distinct values with spaces)."""
    out = []
    for c in X.columns:
        if not is_categorical(X[c]):
            continue
        s = X[c].dropna().astype(str)
        if len(s) and s.str.len().mean() > 15 and s.str.contains(" ").mean() > 0.5 and s.nunique() > 0.5 * len(s):
            out.append(c)
    return out


def changed(ctx: CheckContext, base_pred: np.ndarray, base_score: np.ndarray | None,
            pred: np.ndarray, score: np.ndarray | None) -> np.ndarray:
    """Per row: 1.0 when a class flips (classification), else the relative change (regression)."""
    if ctx.task == "classification":
        return (np.asarray(pred) != np.asarray(base_pred)).astype(float)
    base = base_pred.astype(float)
    return np.abs(pred.astype(float) - base) / (np.abs(base) + 1e-12)


def stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def limit_for(ctx: CheckContext, max_flip_rate: float, max_relative_change: float) -> tuple[str, float]:
    if ctx.task == "classification":
        return "flip_rate", max_flip_rate
    return "relative_change", max_relative_change
