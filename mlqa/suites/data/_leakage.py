"""Label leakage: a single feature that predicts the label almost perfectly."""
from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd

from ...params import Columns, Fraction, PositiveInt, Range
from ...registry import check
from ...context import CheckContext
from ...subjects import Dataset
from ...tables import is_categorical
from .._frames import as_key
from ...judge import bar_chart, judge
from .._metrics import weighted_auc


def _encode(fit: pd.Series, apply: pd.Series, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket ids for both series: categories, or train-quantile bins; missing is a bucket."""
    if is_categorical(fit) or is_categorical(apply):
        kf, ka = as_key(fit), as_key(apply)
        cats = {c: i for i, c in enumerate(pd.unique(kf))}
        unseen = len(cats)
        return kf.map(cats).to_numpy(dtype=int), ka.map(cats).fillna(unseen).to_numpy(dtype=int)
    a = pd.to_numeric(fit, errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(apply, errors="coerce").to_numpy(dtype=float)
    fa = a[np.isfinite(a)]
    edges = np.unique(np.quantile(fa, np.linspace(0, 1, bins + 1)[1:-1])) if len(fa) else np.array([])
    miss = len(edges) + 1

    def ids(v: np.ndarray) -> np.ndarray:
        out = np.searchsorted(edges, np.nan_to_num(v), side="right")
        return np.where(np.isfinite(v), out, miss)
    return ids(a), ids(b)


def _target_score(fit_ids: np.ndarray, fit_y: np.ndarray, apply_ids: np.ndarray) -> np.ndarray:
    """Smoothed mean of `fit_y` per bucket (unseen buckets get the prior)."""
    size = int(max(fit_ids.max(initial=0), apply_ids.max(initial=0))) + 1
    n = np.bincount(fit_ids, minlength=size).astype(float)
    s = np.bincount(fit_ids, weights=fit_y, minlength=size)
    prior = float(fit_y.mean()) if len(fit_y) else 0.0
    return ((s + prior) / (n + 1.0))[apply_ids]


def _split(ctx: CheckContext) -> tuple[Dataset, Dataset]:
    if ctx.train is not None and ctx.test is not None:
        return ctx.train, ctx.test
    data = ctx.train or ctx.test
    rng = np.random.default_rng(ctx.seed)
    mask = rng.random(len(data)) < 0.5
    return (Dataset(name="fit", frame=data.frame[mask], label=data.label, features=data.features),
            Dataset(name="eval", frame=data.frame[~mask], label=data.label, features=data.features))


@check("data.label_leakage", requires=("test",))
def label_leakage(ctx: CheckContext, *, max_auc: Fraction = 0.95, max_r2: Annotated[float, Range(None, 1.0)] = 0.95,
                  bins: Annotated[int, Range(2)] = 20, columns: Columns | None = None, top: PositiveInt = 5):
    """Predictive power of each feature alone, to catch a leaked copy of the label.

    Each feature is bucketed (categories, or 20 train-quantile bins), the label's mean per
    bucket is learnt on train and scored on test (or on a seeded half split when there is
    one split). For classification the score is the one-vs-rest ROC AUC, judged against
    `max_auc` (default 0.95: a single honest feature almost never separates classes that
    well); for regression the R^2 of the bucket means, against `max_r2`.

    Parameters:
    max_auc: highest single-feature ROC AUC allowed, classification (default 0.95)
    max_r2: highest single-feature R^2 allowed, regression (default 0.95)
    bins: quantile bins for numeric features (default 20)
    columns: features to test (default: all features)
    top: how many of the most predictive features the message names (default 5)
    """
    fit, ev = _split(ctx)
    if fit.label is None:
        return judge({}, {}, detail="no label").with_(status="error", message="needs `data.label`")
    cols = columns or list(fit.features)
    regression = ctx.task == "regression"
    yf, ye = fit.y.to_numpy(), ev.y.to_numpy()
    classes = [ctx.positive_label] if ctx.is_binary else sorted(pd.unique(yf).tolist(), key=str)
    ones = np.ones((1, len(ye)))
    table = []
    for col in cols:
        fid, eid = _encode(fit.frame[col], ev.frame[col], bins)
        if regression:
            pred = _target_score(fid, yf.astype(float), eid)
            sse = float(((ye - pred) ** 2).sum())
            sst = float(((ye - ye.mean()) ** 2).sum()) or float("nan")
            score = 1 - sse / sst
        else:
            aucs = []
            for c in classes:
                pos = ye == c
                if pos.all() or not pos.any():
                    continue
                score = _target_score(fid, (yf == c).astype(float), eid)
                aucs.append(float(weighted_auc(score, pos, ones)[0]))
            score = float(np.mean(aucs)) if aucs else float("nan")
        table.append({"feature": col, ("r2" if regression else "auc"): round(score, 6)})
    key = "r2" if regression else "auc"
    table.sort(key=lambda r: -(r[key] if r[key] == r[key] else -1))
    worst = table[0][key] if table else 0.0
    name = "max_r2" if regression else "max_auc"
    limit = max_r2 if regression else max_auc
    named = ", ".join(f"{r['feature']} ({key} {r[key]:.3f})" for r in table[:top])
    chart = bar_chart(f"Single-feature {key.upper()} against the label", [r["feature"] for r in table[:15]],
                      [r[key] for r in table[:15]], threshold=limit)
    return judge({name: worst}, {name: ("<=", limit)}, detail=f"most predictive: {named}",
                 evidence={"features": table, "charts": [chart]})
