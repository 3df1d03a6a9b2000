"""Declared invariances (features that must not matter, counterfactual swaps) and
declared monotonic directions."""
from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd

from ...params import Columns, Fraction, NonNegative, PositiveInt, Range
from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import bar_chart, judge
from ._common import changed, limit_for, probe, sample, stack


def _needs_declaration(params: dict) -> None:
    if not params.get("features") and not params.get("swap"):
        raise ValueError("declare what must not matter: `features: [col]` and/or `swap: {col: any}`")


@check("robustness.invariance", requires=("model", "test"), validate=_needs_declaration)
def invariance(ctx: CheckContext, *, features: Columns = [], swap: dict[str, Any] = {},  # noqa: B006
               rows: PositiveInt = 1000, max_flip_rate: Fraction = 0.01, max_relative_change: NonNegative = 0.01) -> CheckResult:
    """Transformations that must not change the prediction.

    `features: [col]`: each listed feature is replaced by another value observed in the
    data (a permutation across rows). `swap: {col: any}`: a counterfactual test — every row
    is predicted again with `col` set to each other observed value (`{col: value}` swaps
    to that one value). By default at most 1% of predictions may change.

    Parameters:
    features: features whose value must not matter (replaced by other observed values)
    swap: column -> `any` (every other observed value) or one value: counterfactual swaps
    rows: test rows sampled (seeded; default 1000)
    max_flip_rate: classifiers: highest share of predictions that may change (default 0.01)
    max_relative_change: regressors: highest mean relative change (default 0.01)
    """
    X = sample(ctx, rows)
    rng = np.random.default_rng(ctx.seed)
    variants: list[tuple[str, pd.DataFrame]] = []
    for c in features:
        variants.append((f"{c} permuted", X.assign(**{c: rng.permutation(X[c].to_numpy())})))
    for c, to in swap.items():
        if c not in X.columns:
            return CheckResult(status="error", message=f"swap column `{c}` is not a feature")
        values = [v for v in pd.unique(ctx.test.frame[c].dropna())] if to == "any" else [to]
        for v in values:
            mask = (X[c] != v).to_numpy()
            if mask.any():
                variants.append((f"{c} -> {v}", X[mask].assign(**{c: v})))
    p = probe(ctx)
    pred, score = p.outputs(stack([X] + [v for _, v in variants]))
    n = len(X)
    base = pd.Series(pred[:n])
    name, limit = limit_for(ctx, max_flip_rate, max_relative_change)
    table, flips, total, offset, examples = [], 0.0, 0, n, []
    for label, frame in variants:
        idx = frame.index.to_numpy()
        block = pred[offset:offset + len(frame)]
        delta = changed(ctx, base.to_numpy()[idx], None, block, None)
        offset += len(frame)
        flips += float(delta.sum())
        total += len(frame)
        table.append({"transformation": label, "rows": len(frame), name: float(delta.mean())})
        for j in np.flatnonzero(delta > (0 if ctx.task == "classification" else limit))[:2]:
            if len(examples) < 5:
                examples.append({"transformation": label, "row": int(idx[j]),
                                 "before": str(base.iloc[idx[j]]), "after": str(block[j])})
    value = flips / max(total, 1)
    table.sort(key=lambda r: -r[name])
    return judge({name: value}, {name: ("<=", limit)},
                 detail=f"worst: {table[0]['transformation']} ({table[0][name]:.3f})" if table else "",
                 evidence={"transformations": table, "examples": examples, "rows": n,
                           **p.counts(), "charts": [bar_chart(f"{name} per transformation",
                                                              [r["transformation"] for r in table[:20]],
                                                              [r[name] for r in table[:20]], threshold=limit)]})


def _needs_direction(params: dict) -> None:
    if not params.get("increasing") and not params.get("decreasing"):
        raise ValueError("declare `increasing: [col]` and/or `decreasing: [col]`")


@check("robustness.monotonic", requires=("model", "test"), validate=_needs_direction)
def monotonic(ctx: CheckContext, *, increasing: Columns = [], decreasing: Columns = [],  # noqa: B006
              rows: PositiveInt = 500, grid: Annotated[int, Range(2)] = 7, tolerance: NonNegative = 1e-6,
              max_violation_rate: Fraction = 0.0) -> CheckResult:
    """Declared directions: raising an `increasing` feature must not lower the score (the
    positive-class probability, or the prediction of a regressor); raising a `decreasing`
    one must not raise it. Each sampled row is swept over a grid of the feature's observed
    quantiles. By default no violation (beyond `tolerance`) is allowed.

    Parameters:
    increasing: features along which the score must not decrease
    decreasing: features along which the score must not increase
    rows: test rows sampled (seeded; default 500)
    grid: quantile points each feature is swept over (default 7)
    tolerance: score changes smaller than this are not violations (default 1e-6)
    max_violation_rate: highest share of row sweeps with a violation (default 0)
    """
    X = sample(ctx, rows)
    p = probe(ctx)
    plans, frames = [], []
    for c, sign in [(c, 1) for c in increasing] + [(c, -1) for c in decreasing]:
        values = pd.to_numeric(ctx.test.frame[c], errors="coerce").dropna()
        points = np.unique(np.quantile(values, np.linspace(0.02, 0.98, grid)))
        for v in points:
            frames.append(X.assign(**{c: v}))
        plans.append((c, sign, points))
    pred, score = p.outputs(stack(frames))
    if score is None:
        return CheckResult(status="error", message="monotonicity needs a score (predict_proba or a regressor)")
    n, offset = len(X), 0
    table, examples, violated, sweeps = [], [], 0, 0
    for c, sign, points in plans:
        S = score[offset:offset + n * len(points)].reshape(len(points), n).T * sign   # rows x grid
        offset += n * len(points)
        drops = S[:, :-1] - S[:, 1:]                       # > 0 where the score goes the wrong way
        bad = (drops > tolerance).any(axis=1)
        violated += int(bad.sum())
        sweeps += n
        table.append({"feature": c, "direction": "increasing" if sign > 0 else "decreasing",
                      "violation_rate": float(bad.mean()), "max_wrong_way_change": float(max(drops.max(), 0))})
        for r in np.flatnonzero(bad)[:3]:
            j = int(drops[r].argmax())
            examples.append({"feature": c, "row": int(r), "from": float(points[j]), "to": float(points[j + 1]),
                             "score_before": float(S[r, j] * sign), "score_after": float(S[r, j + 1] * sign)})
    rate = violated / max(sweeps, 1)
    return judge({"violation_rate": rate}, {"violation_rate": ("<=", max_violation_rate)},
                 detail="; ".join(f"{t['feature']} {t['direction']}: {t['violation_rate']:.3f}" for t in table),
                 evidence={"features": table, "examples": examples[:10], "rows": n, **p.counts()})
