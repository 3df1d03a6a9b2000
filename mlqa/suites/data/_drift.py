"""Per-feature drift from train to test: PSI, with KS / chi-square p-values."""
from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd

from ...params import Columns, Fraction, NonNegative, PositiveInt, Range
from ...registry import check
from ...context import CheckContext
from ...tables import is_categorical
from .._frames import as_key
from ...judge import bar_chart, judge
from ._drift_dist import distribution_charts
from ._identifiers import identifier_columns

_EPS = 1e-4


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    p = expected / max(expected.sum(), 1)
    q = actual / max(actual.sum(), 1)
    p, q = np.clip(p, _EPS, None), np.clip(q, _EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric_counts(train: pd.Series, test: pd.Series, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts over train-quantile bins, plus one bin for missing values."""
    a = pd.to_numeric(train, errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(test, errors="coerce").to_numpy(dtype=float)
    fa = a[np.isfinite(a)]
    edges = np.unique(np.quantile(fa, np.linspace(0, 1, bins + 1)[1:-1])) if len(fa) else np.array([])
    ca = np.bincount(np.searchsorted(edges, fa, side="right"), minlength=len(edges) + 1)
    fb = b[np.isfinite(b)]
    cb = np.bincount(np.searchsorted(edges, fb, side="right"), minlength=len(edges) + 1)
    return np.r_[ca, (~np.isfinite(a)).sum()], np.r_[cb, (~np.isfinite(b)).sum()]


def categorical_counts(train: pd.Series, test: pd.Series) -> tuple[np.ndarray, np.ndarray, list]:
    ka, kb = as_key(train), as_key(test)
    cats = sorted(set(ka.unique()) | set(kb.unique()))
    va, vb = ka.value_counts(), kb.value_counts()
    return (np.array([va.get(c, 0) for c in cats], dtype=float),
            np.array([vb.get(c, 0) for c in cats], dtype=float), cats)


@check("data.drift", requires=("train", "test"))
def drift(ctx: CheckContext, *, max_psi: NonNegative = 0.2, bins: Annotated[int, Range(2)] = 10,
          min_p_value: Fraction | None = None, columns: Columns | None = None, top: PositiveInt = 5,
          exclude_identifiers: bool = True):
    """Per-feature distribution shift from train to test.

    PSI (population stability index) over train-decile bins for numeric features and
    over categories for categorical ones; the default limit 0.2 is the industry convention
    for a significant shift (below 0.1: none, 0.1-0.2: moderate). Kolmogorov-Smirnov
    (numeric) and chi-square (categorical) p-values are reported; they are judged only when
    `min_p_value` is set, because on large samples they flag shifts too small to matter.
    Identifier columns (keys such as a `customer_id` numbered on from train into test) are
    left out by default and listed: a key's values are new in every split by design.

    Parameters:
    max_psi: the highest PSI allowed for any feature (default 0.2)
    bins: quantile bins for numeric features (default 10)
    min_p_value: if set, a feature whose KS / chi-square p-value is below it also counts as drifted
    columns: features to compare (default: all features but identifiers)
    top: how many of the worst features the message names (default 5)
    exclude_identifiers: leave identifier columns out when `columns` is not given (default true)
    """
    from scipy import stats
    ids: dict[str, str] = {}
    if columns:
        cols = list(columns)
    else:
        cols = list(ctx.train.features)
        if exclude_identifiers:
            ids = {c: why for c, why in identifier_columns(ctx.train.frame, ctx.test.frame,
                                                          label=ctx.train.label).items() if c in cols}
            cols = [c for c in cols if c not in ids]
    if not cols:
        from ...results import CheckResult
        return CheckResult(status="error", message="no features to compare" + (
            f" once identifiers are left out ({', '.join(ids)}): name them in `columns`, or set "
            "`exclude_identifiers: false`" if ids else ": declare `data.features` or name them in `columns`"))
    table = []
    for col in cols:
        a, b = ctx.train.frame[col], ctx.test.frame[col]
        if is_categorical(a) or is_categorical(b):
            ca, cb, _ = categorical_counts(a, b)
            keep = (ca + cb) > 0
            try:
                p = float(stats.chi2_contingency(np.vstack([ca[keep], cb[keep]]))[1]) if keep.sum() > 1 else 1.0
            except ValueError:
                p = float("nan")
            test_name = "chi2"
        else:
            ca, cb = numeric_counts(a, b, bins)
            fa = pd.to_numeric(a, errors="coerce").dropna().to_numpy()
            fb = pd.to_numeric(b, errors="coerce").dropna().to_numpy()
            p = float(stats.ks_2samp(fa, fb).pvalue) if len(fa) and len(fb) else float("nan")
            test_name = "ks"
        table.append({"feature": col, "psi": round(psi(ca, cb), 6), "test": test_name,
                      "p_value": p})
    table.sort(key=lambda r: -r["psi"])
    drifted = [r["feature"] for r in table
               if r["psi"] > max_psi or (min_p_value is not None and r["p_value"] < min_p_value)]
    worst = table[0] if table else {"psi": 0.0, "feature": None}
    metrics = {"max_psi": worst["psi"], "drifted_features": float(len(drifted))}
    limits = {"max_psi": ("<=", max_psi),
              "drifted_features": ("<=", 0.0 if min_p_value is not None else None)}
    named = ", ".join(f"{r['feature']} (psi {r['psi']:.3f})" for r in table[:top])
    chart = bar_chart("PSI by feature (train -> test)", [r["feature"] for r in table[:15]],
                      [r["psi"] for r in table[:15]], threshold=max_psi, y_label="PSI")
    # what drifted, as the report shows it: train and test distributions of the worst few
    shown = distribution_charts(table, drifted, ctx.train.frame, ctx.test.frame)
    excluded = f"excluded as identifiers: {', '.join(ids)}" if ids else ""
    detail = "; ".join(p for p in (f"worst: {named}" if table else "", excluded) if p)
    return judge(metrics, limits, detail=detail,
                 evidence={"features": table, "drifted": drifted, "excluded_as_identifiers": ids,
                           "charts": [chart, *shown]})
