"""The joint view of two features in train and in test: how strongly they go together
(Spearman's rho, the correlation ratio or Cramér's V, by the kinds of the two) and a 2-D
binned table of shares of rows, so a reader sees which combinations of values became more
or less common. `data.multivariate_drift` draws it for the pair of features that explain
its domain classifier best: the place a relationship between columns broke."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...tables import is_categorical
from ._drift_dist import NAMES

#: levels per feature in the 2-D table: the most frequent categories (the rest as `other`)
#: or quantile bins of a numeric feature; missing values are a level of their own
LEVELS = 8
#: cells of the 2-D table kept in the evidence and drawn, the largest change in share first
CELLS_SHOWN = 12
MISSING = "<missing>"


def _numbers(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _keys(s: pd.Series) -> np.ndarray:
    return s.astype("string").fillna(MISSING).to_numpy(dtype=object)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation over rows where both are finite (NaN when constant)."""
    from scipy import stats
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(x[ok], y[ok]).statistic)


def correlation_ratio(groups: np.ndarray, y: np.ndarray) -> float:
    """eta: the share of the numeric variable's spread explained by the categories, as a
    square root (0: the categories say nothing about it; 1: they fix it)."""
    ok = np.isfinite(y)
    g, v = groups[ok], y[ok]
    if len(v) < 3:
        return float("nan")
    codes, inverse = np.unique(g.astype(str), return_inverse=True)
    n = np.bincount(inverse, minlength=len(codes)).astype(float)
    means = np.bincount(inverse, weights=v, minlength=len(codes)) / np.maximum(n, 1)
    total = float(((v - v.mean()) ** 2).sum())
    if total == 0:
        return float("nan")
    between = float((n * (means - v.mean()) ** 2).sum())
    return float(np.sqrt(min(between / total, 1.0)))


def cramers_v(a: np.ndarray, b: np.ndarray) -> float:
    """Cramér's V of two categorical variables (0: independent; 1: each fixes the other)."""
    _, ia = np.unique(a.astype(str), return_inverse=True)
    _, ib = np.unique(b.astype(str), return_inverse=True)
    r, c = ia.max(initial=0) + 1, ib.max(initial=0) + 1
    if len(ia) < 3 or min(r, c) < 2:
        return float("nan")
    table = np.bincount(ia * c + ib, minlength=r * c).reshape(r, c).astype(float)
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / table.sum()
    chi2 = float(((table - expected) ** 2 / np.where(expected > 0, expected, 1)).sum())
    return float(np.sqrt(chi2 / (table.sum() * (min(r, c) - 1))))


def association(a: pd.Series, b: pd.Series) -> tuple[str, float]:
    """(measure, value) for two columns of one split, by their kinds."""
    ca, cb = is_categorical(a), is_categorical(b)
    if ca and cb:
        return "Cramér's V", cramers_v(_keys(a), _keys(b))
    if ca or cb:
        cat, num = (a, b) if ca else (b, a)
        return "correlation ratio", correlation_ratio(_keys(cat), _numbers(num))
    return "Spearman rho", spearman(_numbers(a), _numbers(b))


def _label(v: float) -> str:
    return f"{v:.6g}"


def levels(train: pd.Series, test: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's level (a text label) in both splits, over levels fitted on both together."""
    if is_categorical(train) or is_categorical(test):
        ka, kb = _keys(train), _keys(test)
        counts = pd.Series(np.concatenate([ka, kb])).value_counts()
        ranked = sorted(counts.index, key=lambda k: (-counts[k], str(k)))
        keep = set(ranked[:LEVELS - 1]) if len(ranked) > LEVELS else set(ranked)

        def lab(k: np.ndarray) -> np.ndarray:
            return np.array([str(v) if v in keep else "other" for v in k], dtype=object)
        return lab(ka), lab(kb)
    xa, xb = _numbers(train), _numbers(test)
    both = np.concatenate([xa, xb])
    fin = both[np.isfinite(both)]
    distinct = np.unique(fin)
    if len(distinct) <= LEVELS:
        def lab(x: np.ndarray) -> np.ndarray:
            return np.array([_label(v) if np.isfinite(v) else MISSING for v in x], dtype=object)
        return lab(xa), lab(xb)
    edges = np.unique(np.quantile(fin, np.linspace(0, 1, LEVELS + 1)[1:-1]))
    # each bin named by the smallest and largest value it holds: "9", "10..11", "13..16"
    idx = np.searchsorted(edges, fin, side="right")
    names = {}
    for i in np.unique(idx):
        lo, hi = fin[idx == i].min(), fin[idx == i].max()
        names[int(i)] = _label(lo) if lo == hi else f"{_label(lo)}..{_label(hi)}"

    def lab(x: np.ndarray) -> np.ndarray:
        at = np.searchsorted(edges, np.nan_to_num(x), side="right")
        return np.array([names.get(int(i), MISSING) if np.isfinite(v) else MISSING for i, v in zip(at, x)],
                        dtype=object)
    return lab(xa), lab(xb)


def joint_view(a: str, b: str, train: pd.DataFrame, test: pd.DataFrame) -> dict:
    """The association of `a` and `b` in each split, the cells of their 2-D binned table
    whose share of rows changed most, and a chart of those cells (train beside test)."""
    measure, in_train = association(train[a], train[b])
    _, in_test = association(test[a], test[b])
    la_tr, la_te = levels(train[a], test[a])
    lb_tr, lb_te = levels(train[b], test[b])
    share_tr = pd.Series(list(zip(la_tr, lb_tr))).value_counts(normalize=True)
    share_te = pd.Series(list(zip(la_te, lb_te))).value_counts(normalize=True)
    cells = []
    for key in set(share_tr.index) | set(share_te.index):
        p, q = float(share_tr.get(key, 0.0)), float(share_te.get(key, 0.0))
        cells.append({a: key[0], b: key[1], "train_share": round(p, 6), "test_share": round(q, 6),
                      "change": round(q - p, 6)})
    cells.sort(key=lambda r: (-abs(r["change"]), str(r[a]), str(r[b])))
    shown = cells[:CELLS_SHOWN]

    def rounded(v: float) -> float | None:
        return None if math.isnan(v) else round(v, 4)
    summary = {"feature_a": a, "feature_b": b, "measure": measure,
               "train": rounded(in_train), "test": rounded(in_test)}
    chart = {"type": "bars", "title": f"{a} x {b}: shares of rows per combination, train vs test "
                                      f"({measure} {_show(in_train)} -> {_show(in_test)})",
             "x": [f"{r[a]} | {r[b]}" for r in shown],
             "series": [{"name": NAMES[0], "y": [r["train_share"] for r in shown]},
                        {"name": NAMES[1], "y": [r["test_share"] for r in shown]}],
             "y_label": "share of rows"}
    return {"association": summary, "cells": shown, "cell_count": len(cells), "chart": chart}


def _show(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.2f}"
