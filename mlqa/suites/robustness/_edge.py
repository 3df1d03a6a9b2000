"""Inputs at the edges of the schema: predictions must come back valid."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...tables import kind
from ...judge import judge
from ...params import PositiveInt
from ._common import probe, sample

UNSEEN = "__mlqa_unseen__"


def edge_values(series: pd.Series) -> tuple[list, list]:
    """(values a model must handle, invalid values it may reject cleanly)."""
    if kind(series) == "numeric":
        v = pd.to_numeric(series, errors="coerce").dropna()
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
        span = (hi - lo) or 1.0
        return [lo, hi, 0.0, -1.0, lo - span, hi + span, 1e12, -1e12, np.nan], ["not a number", np.inf]
    return [UNSEEN, "", " ", np.nan, "x" * 500, "Ωmega-ß-漢字"], [12345.678]


def _problem(ctx: CheckContext, p, X: pd.DataFrame) -> str | None:
    """Why the predictions on X are not valid, or None."""
    try:
        pred = p.model.predict(X) if not (p.classification and p.model.has_proba) else None
        p.calls += 1
        p.rows += len(X)
        if p.classification and p.model.has_proba:
            proba = p.model.predict_proba(X)
            if proba.shape[0] != len(X) or not np.isfinite(proba).all():
                return "probabilities contain NaN or inf"
            if (proba < -1e-9).any() or (proba > 1 + 1e-9).any():
                return "probabilities outside [0, 1]"
            if not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6):
                return "probabilities do not sum to 1"
            return None
        if len(pred) != len(X):
            return f"{len(pred)} predictions for {len(X)} rows"
        if ctx.task == "regression" and not np.isfinite(np.asarray(pred, dtype=float)).all():
            return "predictions contain NaN or inf"
        classes = p.model.classes
        if classes is not None and not pd.Series(pred).isin(classes).all():
            return "a prediction is not one of the model's classes"
        return None
    except Exception as exc:  # noqa: BLE001
        return f"raised {type(exc).__name__}: {str(exc)[:200]}"


@check("robustness.edge_inputs", requires=("model", "test"))
def edge_inputs(ctx: CheckContext, *, rows: PositiveInt = 20, wrong_dtypes: bool = True) -> CheckResult:
    """Inputs generated from the data's schema plus edge values: extremes and values beyond
    the observed range, zero and -1, huge magnitudes and NaN for numeric features; unseen
    categories, empty and whitespace strings, very long and non-ASCII strings and NaN for
    categorical ones. Predictions must come back valid: no exception, no NaN or inf,
    probabilities in [0, 1] summing to 1. With `wrong_dtypes`, a string in a numeric column
    (and a number in a categorical one) may be rejected with an exception, but must never
    come back as invalid output. No failure is allowed.

    Edge rows are predicted in one batch; only when it fails is the batch split to find
    the feature and value responsible.

    Parameters:
    rows: base rows from the test data each edge value is written into (seeded; default 20)
    wrong_dtypes: also try values of the wrong type (default true)
    """
    X = sample(ctx, rows)
    p = probe(ctx)
    must: list[tuple[str, object, pd.DataFrame]] = []
    invalid: list[tuple[str, object, pd.DataFrame]] = []
    for c in X.columns:
        ok_values, bad_values = edge_values(ctx.test.frame[c])
        for v in ok_values:
            must.append((c, v, X.assign(**{c: pd.Series([v] * len(X), dtype=object)}) if isinstance(v, str)
                         and kind(X[c]) != "numeric" else X.assign(**{c: v})))
        for v in bad_values:
            frame = X.copy().astype({c: object})
            frame[c] = v
            invalid.append((c, v, frame))
    failures = []
    whole = pd.concat([f for _, _, f in must], ignore_index=True)
    if _problem(ctx, p, whole) is not None:
        for c in X.columns:  # split by feature, then by value, only where it fails
            group = [(col, v, f) for col, v, f in must if col == c]
            if _problem(ctx, p, pd.concat([f for _, _, f in group], ignore_index=True)) is None:
                continue
            for col, v, f in group:
                why = _problem(ctx, p, f)
                if why is not None:
                    failures.append({"feature": col, "value": repr(v)[:40], "kind": "edge value", "problem": why})
    silent = []
    if wrong_dtypes:
        for c, v, f in invalid:
            why = _problem(ctx, p, f)
            if why is not None and not why.startswith("raised"):
                silent.append({"feature": c, "value": repr(v), "kind": "wrong dtype", "problem": why})
    rows_out = failures + silent
    tried = len(must) + (len(invalid) if wrong_dtypes else 0)
    return judge({"invalid_cases": float(len(rows_out)), "cases": float(tried)},
                 {"invalid_cases": ("<=", 0.0)},
                 detail=("; ".join(f"{r['feature']}={r['value']}: {r['problem']}" for r in rows_out[:3])
                         if rows_out else f"{tried} edge cases over {len(X.columns)} features"),
                 evidence={"failures": rows_out, "cases": tried, "rows": len(X), **p.counts()})
