"""Fairness suite: demographic parity, equalized odds, equal opportunity, group performance.

Per-group rates come from fairlearn's `MetricFrame`; bootstrap intervals of each
difference reuse the suite-wide weighted metrics (one vectorised pass per replicate set).
Several sensitive columns mean intersectional groups (``Female|Black``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._types import Columns
from ..registry import check
from ..results import CheckResult
from ..subjects import CheckContext
from . import _metrics
from ._judge import bar_chart, fmt, judge
from .performance._common import MetricName, check_metric_fits, target

_RATES = ("selection_rate", "tpr", "fpr")


def _sensitive(ctx: CheckContext, sensitive: list[str] | None) -> list[str]:
    cols = list(sensitive or ctx.sensitive)
    if not cols:
        raise ValueError("no sensitive columns: set `data.sensitive` or the check's `sensitive`")
    return cols


def _group_keys(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    parts = [frame[c].astype("string").fillna("<missing>") for c in cols]
    key = parts[0]
    for p in parts[1:]:
        key = key + "|" + p
    return key.rename("|".join(cols))


def _group_table(ctx: CheckContext, cols: list[str], min_group_size: int):
    """(groups, masks (G x n), y_pos, pred_pos, table rows) using fairlearn's MetricFrame."""
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    if ctx.task != "classification" or not ctx.is_binary:
        raise ValueError("fairness rates need a binary classifier (data.positive_label)")
    t = target(ctx)
    y_pos = (t.y == ctx.positive_label).astype(int)
    p_pos = (t.pred == ctx.positive_label).astype(int)
    keys = _group_keys(ctx.test.frame, cols)
    frame = MetricFrame(metrics={"selection_rate": selection_rate, "tpr": true_positive_rate,
                                 "fpr": false_positive_rate, "accuracy": lambda a, b: float(np.mean(a == b)),
                                 "n": lambda a, b: len(a)},
                        y_true=y_pos, y_pred=p_pos, sensitive_features=keys)
    by = frame.by_group
    groups = [str(g) for g in by.index]
    key_arr = keys.to_numpy()
    masks = np.vstack([(key_arr == g).astype(np.float32) for g in groups])
    rows = [{"group": g, "n": int(by.loc[g, "n"]), "selection_rate": float(by.loc[g, "selection_rate"]),
             "tpr": float(by.loc[g, "tpr"]), "fpr": float(by.loc[g, "fpr"]),
             "accuracy": float(by.loc[g, "accuracy"]), "base_rate": float(y_pos[key_arr == g].mean()),
             "positives": int(y_pos[key_arr == g].sum()), "negatives": int((1 - y_pos[key_arr == g]).sum())}
            for g in groups]
    overall = {"selection_rate": float(frame.overall["selection_rate"]), "tpr": float(frame.overall["tpr"]),
               "fpr": float(frame.overall["fpr"])}
    return groups, masks, y_pos, p_pos, rows, overall


def _rates(masks: np.ndarray, y_pos: np.ndarray, p_pos: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """Per-replicate, per-group rates: arrays (B x G)."""
    M = masks.T.astype(W.dtype)                                  # n x G
    n = W @ M
    pos = W @ (M * y_pos[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"selection_rate": (W @ (M * p_pos[:, None])) / n,
                "tpr": (W @ (M * (y_pos & p_pos)[:, None])) / pos,
                "fpr": (W @ (M * ((1 - y_pos) & p_pos)[:, None])) / (n - pos)}


def _spread(rates: np.ndarray) -> np.ndarray:
    return np.nanmax(rates, axis=-1) - np.nanmin(rates, axis=-1)


def _fairness(ctx: CheckContext, *, kinds: tuple[str, ...], sensitive: list[str] | None,
              max_difference: float | None, min_ratio: float | None, min_group_size: int,
              use_upper_bound: bool, confidence: float, n_bootstrap: int, title: str) -> CheckResult:
    try:
        cols = _sensitive(ctx, sensitive)
        groups, masks, y_pos, p_pos, rows, overall = _group_table(ctx, cols, min_group_size)
    except ValueError as exc:
        return CheckResult(status="error", message=str(exc))
    # a rate is judged on groups with enough rows in its denominator: all rows for the
    # selection rate, positives for TPR, negatives for FPR
    need = {"selection_rate": "n", "tpr": "positives", "fpr": "negatives"}
    judged = np.array([all(r[need[k]] >= min_group_size for k in kinds) for r in rows])
    for r, j in zip(rows, judged):
        r["judged"] = bool(j)
    if judged.sum() < 2:
        return CheckResult(status="error", message=f"fewer than two groups of {'|'.join(cols)} have "
                                                   f"at least {min_group_size} rows: nothing to compare",
                           evidence={"groups": rows})
    m = masks[judged]
    point = _rates(m, y_pos, p_pos, np.ones((1, m.shape[1]), dtype=np.float32))
    reps = _rates(m, y_pos, p_pos, ctx.bootstrap(m.shape[1], n_bootstrap))
    diff_point = max(float(_spread(point[k])[0]) for k in kinds)
    diff_reps = np.nanmax(np.vstack([_spread(reps[k]) for k in kinds]), axis=0)
    lo, hi = np.nanquantile(diff_reps, [1 - confidence, confidence])
    metrics = {"difference": diff_point, "difference_upper": float(hi), "difference_lower": float(lo)}
    limits: dict = {}
    if max_difference is not None:
        limits["difference_upper" if use_upper_bound else "difference"] = ("<=", max_difference)
    if min_ratio is not None:
        sr = point["selection_rate"][0]
        ratio_reps = np.nanmin(reps["selection_rate"], axis=1) / np.nanmax(reps["selection_rate"], axis=1)
        metrics["ratio"] = float(np.nanmin(sr) / np.nanmax(sr))
        metrics["ratio_lower"] = float(np.nanquantile(ratio_reps, 1 - confidence))
        limits["ratio_lower" if use_upper_bound else "ratio"] = (">=", min_ratio)
    kind = kinds[0]
    judged_rows = [r for r in rows if r["judged"]]
    top, bottom = max(judged_rows, key=lambda r: r[kind]), min(judged_rows, key=lambda r: r[kind])
    chart = bar_chart(f"{title} by {'|'.join(cols)}", [r["group"] for r in rows][:30],
                      [r[kind] for r in rows][:30], y_label=kind)
    small = [r["group"] for r in rows if not r["judged"]]
    return judge(metrics, limits,
                 detail=f"{kind}: {top['group']} {fmt(top[kind])} vs {bottom['group']} {fmt(bottom[kind])} "
                        f"({confidence:.0%} interval of the difference {fmt(float(lo))} .. {fmt(float(hi))})"
                        + (f"; {len(small)} groups under {min_group_size} rows not judged" if small else ""),
                 evidence={"sensitive": cols, "groups": rows, "overall": overall, "not_judged": small,
                           "seed": ctx.seed, "n_bootstrap": n_bootstrap, "charts": [chart]})


_SENS_DOC = "sensitive column(s); several mean intersectional groups (default: data.sensitive)"


@check("fairness.demographic_parity", requires=("model", "test"))
def demographic_parity(ctx: CheckContext, *, sensitive: Columns | None = None,
                       max_difference: float | None = 0.1, min_ratio: float | None = None,
                       min_group_size: int = 30, use_upper_bound: bool = False,
                       confidence: float = 0.95, n_bootstrap: int = 500) -> CheckResult:
    """Selection rate (share predicted positive) per group: largest minus smallest, and
    optionally smallest over largest (the four-fifths rule: `min_ratio: 0.8`).

    The default limit, a difference of at most 0.1, is the common starting point for
    demographic parity audits. Groups smaller than `min_group_size` are listed, not
    judged; `use_upper_bound` judges the bootstrap interval's bound instead of the point
    value, so a small group can neither hide nor invent a disparity. (For TPR and FPR the
    group size that counts is the group's positives or negatives, the rate's denominator.)

    Parameters:
    sensitive: sensitive column(s); several mean intersectional groups (default: data.sensitive)
    max_difference: largest allowed gap in selection rate between groups (default 0.1)
    min_ratio: smallest allowed ratio of the lowest to the highest selection rate (e.g. 0.8)
    min_group_size: groups with fewer rows (in the rate's denominator) are reported but not judged (default 30)
    use_upper_bound: judge the interval bound (upper for differences, lower for ratios) instead of the point value
    confidence: one-sided confidence of the bootstrap bounds (default 0.95)
    n_bootstrap: bootstrap replicates (default 500)
    """
    return _fairness(ctx, kinds=("selection_rate",), sensitive=sensitive, max_difference=max_difference,
                     min_ratio=min_ratio, min_group_size=min_group_size, use_upper_bound=use_upper_bound,
                     confidence=confidence, n_bootstrap=n_bootstrap, title="Selection rate")


@check("fairness.equalized_odds", requires=("model", "test"))
def equalized_odds(ctx: CheckContext, *, sensitive: Columns | None = None, max_difference: float = 0.1,
                   min_group_size: int = 30, use_upper_bound: bool = False, confidence: float = 0.95,
                   n_bootstrap: int = 500) -> CheckResult:
    """The larger of the between-group gaps in true-positive rate and in false-positive rate.

    Equal error rates across groups; the default limit is 0.1.

    Parameters:
    sensitive: sensitive column(s); several mean intersectional groups (default: data.sensitive)
    max_difference: largest allowed gap in TPR or FPR between groups (default 0.1)
    min_group_size: groups with fewer positives (or negatives, for FPR) are reported but not judged (default 30)
    use_upper_bound: judge the interval's upper bound instead of the point value
    confidence: one-sided confidence of the bootstrap bounds (default 0.95)
    n_bootstrap: bootstrap replicates (default 500)
    """
    return _fairness(ctx, kinds=("tpr", "fpr"), sensitive=sensitive, max_difference=max_difference,
                     min_ratio=None, min_group_size=min_group_size, use_upper_bound=use_upper_bound,
                     confidence=confidence, n_bootstrap=n_bootstrap, title="True-positive rate")


@check("fairness.equal_opportunity", requires=("model", "test"))
def equal_opportunity(ctx: CheckContext, *, sensitive: Columns | None = None, max_difference: float = 0.1,
                      min_group_size: int = 30, use_upper_bound: bool = False, confidence: float = 0.95,
                      n_bootstrap: int = 500) -> CheckResult:
    """The between-group gap in true-positive rate: qualified people of every group are
    recognised equally often. The default limit is 0.1.

    Parameters:
    sensitive: sensitive column(s); several mean intersectional groups (default: data.sensitive)
    max_difference: largest allowed gap in TPR between groups (default 0.1)
    min_group_size: groups with fewer positives (or negatives, for FPR) are reported but not judged (default 30)
    use_upper_bound: judge the interval's upper bound instead of the point value
    confidence: one-sided confidence of the bootstrap bounds (default 0.95)
    n_bootstrap: bootstrap replicates (default 500)
    """
    return _fairness(ctx, kinds=("tpr",), sensitive=sensitive, max_difference=max_difference,
                     min_ratio=None, min_group_size=min_group_size, use_upper_bound=use_upper_bound,
                     confidence=confidence, n_bootstrap=n_bootstrap, title="True-positive rate")


@check("fairness.group_performance", requires=("model", "test"))
def group_performance(ctx: CheckContext, *, metric: MetricName = "accuracy", sensitive: Columns | None = None,
                      min: float | None = None, max_gap: float | None = 0.1,  # noqa: A002
                      min_group_size: int = 30) -> CheckResult:
    """A performance metric per sensitive group: the worst group against a floor (`min`)
    and the best-minus-worst gap against `max_gap` (default 0.1).

    Parameters:
    metric: the metric per group (default accuracy)
    sensitive: sensitive column(s); several mean intersectional groups (default: data.sensitive)
    min: the lowest acceptable metric for any judged group
    max_gap: the largest acceptable gap between the best and the worst judged group (default 0.1)
    min_group_size: groups with fewer rows are reported but not judged (default 30)
    """
    why = check_metric_fits(ctx, metric)
    if why:
        return CheckResult(status="error", message=why)
    try:
        cols = _sensitive(ctx, sensitive)
    except ValueError as exc:
        return CheckResult(status="error", message=str(exc))
    keys = _group_keys(ctx.test.frame, cols).to_numpy()
    groups = sorted(set(keys.tolist()))
    masks = np.vstack([(keys == g).astype(np.float32) for g in groups])
    values = _metrics.weighted(metric, target(ctx), masks)
    hib = _metrics.higher_is_better(metric)
    rows = [{"group": g, "n": int(masks[i].sum()), metric: float(values[i]),
             "judged": bool(masks[i].sum() >= min_group_size and np.isfinite(values[i]))}
            for i, g in enumerate(groups)]
    judged = [r for r in rows if r["judged"]]
    if not judged:
        return CheckResult(status="error", message=f"no group has at least {min_group_size} rows")
    ranked = sorted(judged, key=lambda r: r[metric] if hib else -r[metric])
    worst, best = ranked[0], ranked[-1]
    gap = abs(best[metric] - worst[metric])
    chart = bar_chart(f"{metric} by {'|'.join(cols)}", [r["group"] for r in rows][:30],
                      [r[metric] for r in rows][:30], threshold=min)
    return judge({"gap": gap, f"worst_group_{metric}": worst[metric]},
                 {"gap": ("<=", max_gap), f"worst_group_{metric}": ((">=" if hib else "<="), min)},
                 detail=f"worst {worst['group']} {fmt(worst[metric])}, best {best['group']} {fmt(best[metric])}",
                 evidence={"sensitive": cols, "groups": rows, "charts": [chart]})

