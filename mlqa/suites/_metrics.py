"""Model metrics computed from per-row weights, so that point estimates, bootstrap
replicates (multinomial count weights) and slices (0/1 masks) share one vectorised path.

`weighted(name, y, pred, score, proba, classes, positive, W)` returns one value per row of
W (shape (B, n)). With W = ones it equals scikit-learn's metric (tested property-based).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSIFICATION = ("accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc", "log_loss")
REGRESSION = ("rmse", "mae", "r2")
ALL = CLASSIFICATION + REGRESSION
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def higher_is_better(name: str) -> bool:
    return name not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Target:
    """Labels and one model's outputs on the same rows."""

    y: np.ndarray
    pred: np.ndarray
    proba: np.ndarray | None = None
    classes: list | None = None
    positive: object = None

    @property
    def score(self) -> np.ndarray | None:
        if self.proba is None or self.classes is None or self.positive not in self.classes:
            return None
        return self.proba[:, self.classes.index(self.positive)]


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _labels(t: Target) -> list:
    labels = list(t.classes) if t.classes is not None else sorted(set(t.y.tolist()) | set(t.pred.tolist()), key=str)
    return labels


def weighted(name: str, t: Target, W: np.ndarray) -> np.ndarray:
    """Metric `name` under each weight vector (rows of W). NaN where undefined."""
    W = np.atleast_2d(np.asarray(W))
    if W.dtype not in (np.float32, np.float64):
        W = W.astype(float)
    total = W.sum(axis=1)
    if name == "accuracy":
        return _div(W @ (t.pred == t.y).astype(W.dtype), total)
    if name in ("precision", "recall", "f1", "balanced_accuracy"):
        labels = _labels(t)
        binary = len(labels) == 2 and t.positive is not None and name != "balanced_accuracy"
        targets = [t.positive] if binary else labels
        per = []
        for c in targets:
            yc, pc = (t.y == c), (t.pred == c)
            tp = W @ (yc & pc).astype(W.dtype)
            fp = W @ (~yc & pc).astype(W.dtype)
            fn = W @ (yc & ~pc).astype(W.dtype)
            precision = np.nan_to_num(_div(tp, tp + fp))
            recall = _div(tp, tp + fn)
            if name == "precision":
                per.append(precision)
            elif name in ("recall", "balanced_accuracy"):
                per.append(recall)
            else:
                per.append(np.nan_to_num(_div(2 * tp, 2 * tp + fp + fn)))
        stacked = np.vstack(per)
        if name == "balanced_accuracy":
            return np.nanmean(np.where(np.isnan(stacked), np.nan, stacked), axis=0)
        return np.nan_to_num(stacked).mean(axis=0)
    if name == "log_loss":
        if t.proba is None or t.classes is None:
            raise ValueError("log_loss needs predict_proba")
        idx = np.array([t.classes.index(v) if v in t.classes else -1 for v in t.y])
        p = np.where(idx >= 0, t.proba[np.arange(len(idx)), np.maximum(idx, 0)], 0.0)
        loss = -np.log(np.clip(p, np.finfo(float).eps, 1.0))
        return _div(W @ loss, total)
    if name == "roc_auc":
        if t.proba is None or t.classes is None:
            raise ValueError("roc_auc needs predict_proba")
        if len(t.classes) == 2:
            return weighted_auc(t.score, t.y == t.positive, W)
        aucs = [weighted_auc(t.proba[:, i], t.y == c, W) for i, c in enumerate(t.classes)]
        return np.nanmean(np.vstack(aucs), axis=0)
    y = t.y.astype(float)
    e = t.pred.astype(float) - y
    if name == "mae":
        return _div(W @ np.abs(e), total)
    if name == "rmse":
        return np.sqrt(_div(W @ (e * e), total))
    if name == "r2":
        sse = W @ (e * e)
        sst = W @ (y * y) - _div((W @ y) ** 2, total)
        return 1.0 - _div(sse, sst)
    raise ValueError(f"unknown metric {name!r}; use one of {', '.join(ALL)}")


def weighted_auc(score: np.ndarray, positive: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted ROC AUC (ties count one half), vectorised over the rows of W.

    Rows are sorted once by score and grouped by distinct score; per replicate the
    positive and negative weight of each group is summed, and AUC is a cumulative sum."""
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    pos = positive[order].astype(W.dtype)
    neg = 1 - pos
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    out = np.empty(W.shape[0])
    for lo in range(0, W.shape[0], 64):
        w = W[lo:lo + 64][:, order]
        P = np.add.reduceat(w * pos, starts, axis=1).astype(float)
        N = np.add.reduceat(w * neg, starts, axis=1).astype(float)
        below = np.cumsum(N, axis=1) - N
        num = np.einsum("ij,ij->i", P, below + 0.5 * N)
        out[lo:lo + 64] = _div(num, P.sum(axis=1) * N.sum(axis=1))
    return out


def point(name: str, t: Target) -> float:
    return float(weighted(name, t, np.ones((1, len(t.y))))[0])


def metric_needs_proba(name: str) -> bool:
    return name in ("roc_auc", "log_loss")
