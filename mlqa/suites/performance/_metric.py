"""A metric against a floor or ceiling, the worst slice, and calibration."""
from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd

from ...params import Columns, Count, Finite, Fraction, NonNegative, PositiveInt, Range
from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from .. import _metrics
from ...tables import is_categorical
from .._frames import as_key
from ...judge import bar_chart, fmt, judge, line_chart
from .._targets import MetricName, check_metric_fits, target


def _one_bound(params: dict) -> None:
    if params.get("min") is None and params.get("max") is None:
        raise ValueError("set `min` (a floor) or `max` (a ceiling) for the metric")


@check("performance.metric", requires=("model", "test"), validate=_one_bound)
def metric(ctx: CheckContext, *, metric: MetricName, min: Finite | None = None,  # noqa: A002
           max: Finite | None = None, split: str = "test", n_bootstrap: Count = 200) -> CheckResult:  # noqa: A002
    """One metric of the model on a split, against a floor (`min`) and/or ceiling (`max`).

    There is no default bound: what is good enough is the team's call. The evidence holds
    a 95% bootstrap interval so that a reader sees how far the number can move.

    Parameters:
    metric: accuracy, balanced_accuracy, f1, precision, recall, roc_auc, log_loss, rmse, mae or r2
    min: the lowest acceptable value
    max: the highest acceptable value
    split: test (default) or train
    n_bootstrap: bootstrap replicates for the interval in the evidence (default 200; 0 = none)
    """
    why = check_metric_fits(ctx, metric)
    if why:
        return CheckResult(status="error", message=why)
    t = target(ctx, "model", split)
    value = _metrics.point(metric, t)
    evidence: dict = {"n": int(len(t.y)), "split": split}
    if n_bootstrap > 0:
        reps = _metrics.weighted(metric, t, ctx.bootstrap(len(t.y), n_bootstrap))
        lo, hi = np.nanquantile(reps, [0.025, 0.975])
        evidence["ci95"] = [round(float(lo), 6), round(float(hi), 6)]
    if ctx.task == "classification":
        labels = ctx.labels
        cm = pd.crosstab(pd.Series(t.y, name="actual"), pd.Series(t.pred, name="predicted"))
        evidence["confusion_matrix"] = {"labels": [str(x) for x in labels],
                                        "rows": [[int(cm.at[a, p]) if a in cm.index and p in cm.columns else 0
                                                  for p in labels] for a in labels]}
    return judge({metric: value}, {metric: [(">=", min), ("<=", max)]}, evidence=evidence)


def _slice_columns(ctx: CheckContext, columns: list[str] | None) -> list[str]:
    if columns:
        return columns
    frame = ctx.test.frame
    cats = [c for c in ctx.test.features if is_categorical(frame[c])]
    return list(dict.fromkeys(cats + list(ctx.sensitive)))


@check("performance.slices", requires=("model", "test"))
def slices(ctx: CheckContext, *, metric: MetricName = "accuracy", columns: Columns | None = None,
           min_slice_size: PositiveInt = 50, min: Finite | None = None,  # noqa: A002
           max_gap: NonNegative | None = 0.1, numeric_bins: Annotated[int, Range(2)] = 4) -> CheckResult:
    """The model's metric on every slice (one value of one column), and the worst slice.

    Aggregate scores hide the groups a model fails; this finds them. Slices smaller than
    `min_slice_size` (default 50) are listed but not judged: their metric is noise. The
    default limit is a gap of at most 0.1 between the overall metric and the worst slice.

    Parameters:
    metric: the metric per slice (default accuracy)
    columns: columns to slice by (default: categorical features and sensitive columns; numeric ones are binned)
    min_slice_size: smallest slice that is judged (default 50)
    min: the lowest acceptable metric on any judged slice
    max_gap: the largest acceptable shortfall of the worst slice against the overall metric (default 0.1)
    numeric_bins: quantile bins for numeric columns named in `columns` (default 4)
    """
    why = check_metric_fits(ctx, metric)
    if why:
        return CheckResult(status="error", message=why)
    t = target(ctx)
    frame = ctx.test.frame
    names, masks = [], []
    for col in _slice_columns(ctx, columns):
        s = frame[col]
        keys = as_key(s) if is_categorical(s) else as_key(pd.qcut(s, numeric_bins, duplicates="drop").astype(str))
        for value, idx in keys.groupby(keys, observed=True).indices.items():
            names.append((col, str(value)))
            m = np.zeros(len(frame))
            m[idx] = 1.0
            masks.append(m)
    if not masks:
        return CheckResult(status="error", message="no columns to slice by: name some in `columns`")
    W = np.vstack(masks)
    values = _metrics.weighted(metric, t, W)
    overall = _metrics.point(metric, t)
    hib = _metrics.higher_is_better(metric)
    table = [{"column": c, "value": v, "n": int(W[i].sum()), metric: float(values[i]),
              "judged": bool(W[i].sum() >= min_slice_size and np.isfinite(values[i]))}
             for i, (c, v) in enumerate(names)]
    judged = [r for r in table if r["judged"]]
    if not judged:
        return CheckResult(status="error", message=f"no slice has at least {min_slice_size} rows")
    judged.sort(key=lambda r: r[metric] if hib else -r[metric])
    worst = judged[0]
    gap = (overall - worst[metric]) if hib else (worst[metric] - overall)
    metrics = {"worst_slice_gap": float(gap), f"worst_slice_{metric}": float(worst[metric]),
               f"overall_{metric}": float(overall)}
    limits = {"worst_slice_gap": ("<=", max_gap),
              f"worst_slice_{metric}": ((">=" if hib else "<="), min)}
    table.sort(key=lambda r: (not r["judged"], r[metric] if hib else -r[metric]))
    chart = bar_chart(f"Worst slices by {metric}", [f"{r['column']}={r['value']}" for r in judged[:15]],
                      [r[metric] for r in judged[:15]], threshold=None if min is None else min)
    chart["limit_kind"] = "min"  # a slice below `min` is the one marked
    return judge(metrics, limits,
                 detail=f"worst slice {worst['column']}={worst['value']} (n={worst['n']}): "
                        f"{metric} {fmt(worst[metric])} vs {fmt(overall)} overall",
                 evidence={"slices": table[:60], "n_slices": len(table), "worst": worst,
                           "charts": [chart]})


@check("performance.calibration", requires=("model", "test"))
def calibration(ctx: CheckContext, *, max_ece: Fraction = 0.05, bins: PositiveInt = 10) -> CheckResult:
    """Expected calibration error: how far predicted probabilities are from observed rates.

    Binary models are judged on the positive class's probability, multi-class ones on the
    top-label confidence, over `bins` equal-width bins. Decisions that threshold or price a
    probability need it honest; 0.05 (the default limit) means a stated 70% is on average
    within 5 points of reality.

    Parameters:
    max_ece: the highest expected calibration error allowed (default 0.05)
    bins: equal-width probability bins (default 10)
    """
    if ctx.task != "classification" or not ctx.model.has_proba:
        return CheckResult(status="error", message="calibration needs a classifier with predict_proba")
    t = target(ctx)
    if ctx.is_binary:
        conf, hit = t.score, (t.y == ctx.positive_label).astype(float)
    else:
        conf, hit = t.proba.max(axis=1), (t.pred == t.y).astype(float)
    idx = np.clip((conf * bins).astype(int), 0, bins - 1)
    n = np.bincount(idx, minlength=bins).astype(float)
    mean_conf = np.bincount(idx, weights=conf, minlength=bins) / np.maximum(n, 1)
    observed = np.bincount(idx, weights=hit, minlength=bins) / np.maximum(n, 1)
    gaps = np.abs(mean_conf - observed)
    ece = float((n / n.sum() * gaps).sum())
    mce = float(gaps[n > 0].max()) if (n > 0).any() else float("nan")
    table = [{"bin": f"{i / bins:.1f}-{(i + 1) / bins:.1f}", "n": int(n[i]),
              "mean_predicted": round(float(mean_conf[i]), 4), "observed": round(float(observed[i]), 4)}
             for i in range(bins) if n[i] > 0]
    chart = line_chart("Reliability (predicted vs observed)",
                       [{"name": "model", "x": [r["mean_predicted"] for r in table],
                         "y": [r["observed"] for r in table]}],
                       x_label="mean predicted probability", y_label="observed frequency", diagonal=True)
    chart["diagonal_label"] = "perfectly calibrated"
    brier = float(np.mean((conf - hit) ** 2))
    return judge({"ece": ece, "max_calibration_error": mce, "brier": brier}, {"ece": ("<=", max_ece)},
                 evidence={"bins": table, "charts": [chart]})
