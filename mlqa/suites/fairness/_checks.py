"""The fairness checks: demographic parity, equalized odds, equal opportunity and
performance per group."""
from __future__ import annotations

import numpy as np

from ...context import CheckContext
from ...judge import bar_chart, fmt, judge
from ...params import Columns, Confidence, Finite, Fraction, NonNegative, PositiveInt
from ...registry import check
from ...results import CheckResult
from .. import _metrics
from .._targets import MetricName, check_metric_fits, target
from ._groups import group_keys, judge_gaps, sensitive_columns

_SENS_DOC = "sensitive column(s); several mean intersectional groups (default: data.sensitive)"


@check("fairness.demographic_parity", requires=("model", "test"))
def demographic_parity(ctx: CheckContext, *, sensitive: Columns | None = None,
                       max_difference: Fraction | None = 0.1, min_ratio: Fraction | None = None,
                       min_group_size: PositiveInt = 30, use_upper_bound: bool = False,
                       confidence: Confidence = 0.95, n_bootstrap: PositiveInt = 500) -> CheckResult:
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
    return judge_gaps(ctx, kinds=("selection_rate",), sensitive=sensitive, max_difference=max_difference,
                      min_ratio=min_ratio, min_group_size=min_group_size, use_upper_bound=use_upper_bound,
                      confidence=confidence, n_bootstrap=n_bootstrap)


@check("fairness.equalized_odds", requires=("model", "test"))
def equalized_odds(ctx: CheckContext, *, sensitive: Columns | None = None, max_difference: Fraction = 0.1,
                   min_group_size: PositiveInt = 30, use_upper_bound: bool = False,
                   confidence: Confidence = 0.95, n_bootstrap: PositiveInt = 500) -> CheckResult:
    """The larger of the between-group gaps in true-positive rate and in false-positive rate
    (the equalized-odds difference).

    Equal error rates across groups; the default limit is 0.1. The message names the gap
    that is judged (TPR or FPR, whichever is larger) and gives both; the evidence has both
    gaps with their highest and lowest groups, and a chart of each rate, the judged first.

    Parameters:
    sensitive: sensitive column(s); several mean intersectional groups (default: data.sensitive)
    max_difference: largest allowed gap in TPR or FPR between groups (default 0.1)
    min_group_size: groups with fewer positives (or negatives, for FPR) are reported but not judged (default 30)
    use_upper_bound: judge the interval's upper bound instead of the point value
    confidence: one-sided confidence of the bootstrap bounds (default 0.95)
    n_bootstrap: bootstrap replicates (default 500)
    """
    return judge_gaps(ctx, kinds=("tpr", "fpr"), sensitive=sensitive, max_difference=max_difference,
                      min_ratio=None, min_group_size=min_group_size, use_upper_bound=use_upper_bound,
                      confidence=confidence, n_bootstrap=n_bootstrap)


@check("fairness.equal_opportunity", requires=("model", "test"))
def equal_opportunity(ctx: CheckContext, *, sensitive: Columns | None = None, max_difference: Fraction = 0.1,
                      min_group_size: PositiveInt = 30, use_upper_bound: bool = False,
                      confidence: Confidence = 0.95, n_bootstrap: PositiveInt = 500) -> CheckResult:
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
    return judge_gaps(ctx, kinds=("tpr",), sensitive=sensitive, max_difference=max_difference,
                      min_ratio=None, min_group_size=min_group_size, use_upper_bound=use_upper_bound,
                      confidence=confidence, n_bootstrap=n_bootstrap)


@check("fairness.group_performance", requires=("model", "test"))
def group_performance(ctx: CheckContext, *, metric: MetricName = "accuracy", sensitive: Columns | None = None,
                      min: Finite | None = None, max_gap: NonNegative | None = 0.1,  # noqa: A002
                      min_group_size: PositiveInt = 30) -> CheckResult:
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
        cols = sensitive_columns(ctx, sensitive)
    except ValueError as exc:
        return CheckResult(status="error", message=str(exc))
    keys = group_keys(ctx.test.frame, cols).to_numpy()
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
    chart["limit_kind"] = "min" if hib else "max"  # which side of the limit is the bad one
    return judge({"gap": gap, f"worst_group_{metric}": worst[metric]},
                 {"gap": ("<=", max_gap), f"worst_group_{metric}": ((">=" if hib else "<="), min)},
                 detail=f"worst {worst['group']} {fmt(worst[metric])}, best {best['group']} {fmt(best[metric])}",
                 evidence={"sensitive": cols, "groups": rows, "charts": [chart]})

