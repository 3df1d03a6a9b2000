"""Groups and their rates: fairlearn's `MetricFrame` per group (intersectional when
several sensitive columns are given: ``Female|Black``), and bootstrap intervals of each
between-group difference from the suite-wide weighted metrics (one vectorised pass per
replicate set)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...results import CheckResult
from ...context import CheckContext
from ...judge import bar_chart, fmt, judge
from .._targets import target

_RATES = ("selection_rate", "tpr", "fpr")


def sensitive_columns(ctx: CheckContext, sensitive: list[str] | None) -> list[str]:
    cols = list(sensitive or ctx.sensitive)
    if not cols:
        raise ValueError("no sensitive columns: set `data.sensitive` or the check's `sensitive`")
    return cols


def group_keys(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    parts = [frame[c].astype("string").fillna("<missing>") for c in cols]
    key = parts[0]
    for p in parts[1:]:
        key = key + "|" + p
    return key.rename("|".join(cols))


def group_table(ctx: CheckContext, cols: list[str], min_group_size: int):
    """(groups, masks (G x n), y_pos, pred_pos, table rows) using fairlearn's MetricFrame."""
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    if ctx.task != "classification" or not ctx.is_binary:
        raise ValueError("fairness rates need a binary classifier (data.positive_label)")
    t = target(ctx)
    y_pos = (t.y == ctx.positive_label).astype(int)
    p_pos = (t.pred == ctx.positive_label).astype(int)
    keys = group_keys(ctx.test.frame, cols)
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


def group_rates(masks: np.ndarray, y_pos: np.ndarray, p_pos: np.ndarray, W: np.ndarray) -> dict[str, np.ndarray]:
    """Per-replicate, per-group rates: arrays (B x G)."""
    M = masks.T.astype(W.dtype)                                  # n x G
    n = W @ M
    pos = W @ (M * y_pos[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"selection_rate": (W @ (M * p_pos[:, None])) / n,
                "tpr": (W @ (M * (y_pos & p_pos)[:, None])) / pos,
                "fpr": (W @ (M * ((1 - y_pos) & p_pos)[:, None])) / (n - pos)}


def spread(rates: np.ndarray) -> np.ndarray:
    return np.nanmax(rates, axis=-1) - np.nanmin(rates, axis=-1)


def judge_gaps(ctx: CheckContext, *, kinds: tuple[str, ...], sensitive: list[str] | None,
               max_difference: float | None, min_ratio: float | None, min_group_size: int,
               use_upper_bound: bool, confidence: float, n_bootstrap: int) -> CheckResult:
    try:
        cols = sensitive_columns(ctx, sensitive)
        groups, masks, y_pos, p_pos, rows, overall = group_table(ctx, cols, min_group_size)
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
    point = group_rates(m, y_pos, p_pos, np.ones((1, m.shape[1]), dtype=np.float32))
    reps = group_rates(m, y_pos, p_pos, ctx.bootstrap(m.shape[1], n_bootstrap))
    diff_point = max(float(spread(point[k])[0]) for k in kinds)
    diff_reps = np.nanmax(np.vstack([spread(reps[k]) for k in kinds]), axis=0)
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
    judged_rows = [r for r in rows if r["judged"]]
    gaps = {k: {**_extremes(k, judged_rows), "difference": float(spread(point[k])[0])} for k in kinds}
    kind = max(kinds, key=lambda k: gaps[k]["difference"])  # the gap that is judged
    if len(kinds) > 1:
        metrics.update({f"{k}_difference": gaps[k]["difference"] for k in kinds})
    # one chart per rate, the judged one first: the chart shows the gap the message names
    charts = [bar_chart(f"{_TITLES[k]} by {'|'.join(cols)}" + (
                  f" (gap {fmt(gaps[k]['difference'])}{', judged' if k == kind else ''})" if len(kinds) > 1 else ""),
                        [r["group"] for r in rows][:30], [r[k] for r in rows][:30], y_label=k)
              for k in sorted(kinds, key=lambda k: k != kind)]
    small = [r["group"] for r in rows if not r["judged"]]
    top, bottom = gaps[kind]["highest"], gaps[kind]["lowest"]
    what = kind if len(kinds) == 1 else (
        f"{kind} gap judged (the larger of " + " and ".join(f"{k} gap {fmt(gaps[k]['difference'])}" for k in kinds)
        + ")")
    return judge(metrics, limits,
                 detail=f"{what}: {top['group']} {fmt(top[kind])} vs {bottom['group']} {fmt(bottom[kind])} "
                        f"({confidence:.0%} interval of the difference {fmt(float(lo))} .. {fmt(float(hi))})"
                        + (f"; {len(small)} groups under {min_group_size} rows not judged" if small else ""),
                 evidence={"sensitive": cols, "groups": rows, "overall": overall, "not_judged": small,
                           "judged_rate": kind,
                           "gaps": {k: {"difference": g["difference"], "highest": g["highest"]["group"],
                                        "lowest": g["lowest"]["group"]} for k, g in gaps.items()},
                           "n_bootstrap": n_bootstrap, "charts": charts})


_TITLES = {"selection_rate": "Selection rate", "tpr": "True-positive rate", "fpr": "False-positive rate"}


def _extremes(kind: str, rows: list[dict]) -> dict:
    """The judged groups with the highest and the lowest `kind` rate."""
    finite = [r for r in rows if np.isfinite(r[kind])] or rows
    return {"highest": max(finite, key=lambda r: r[kind]), "lowest": min(finite, key=lambda r: r[kind])}


