"""Noise on numeric features (and typos on text), and features set missing."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...params import Columns, Fraction, NonNegative, Positive, PositiveInt
from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import bar_chart, judge, line_chart
from ._common import changed, limit_for, numeric_features, probe, sample, stack, text_features

CURVE = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5)


def perturb_text(values: pd.Series, rng: np.random.Generator) -> pd.Series:
    """One of: a typo (swapped neighbours), case change, doubled whitespace, dropped punctuation."""
    def one(text: object) -> object:
        if not isinstance(text, str) or len(text) < 2:
            return text
        op = rng.integers(4)
        if op == 0:
            i = int(rng.integers(len(text) - 1))
            return text[:i] + text[i + 1] + text[i] + text[i + 2:]
        if op == 1:
            return text.swapcase()
        if op == 2:
            return text.replace(" ", "  ", 1) if " " in text else " " + text
        return "".join(ch for ch in text if ch not in ",.;:!?") or text
    return values.map(one)


def _noisy(X: pd.DataFrame, cols: list[str], std: pd.Series, scale: float, rng: np.random.Generator,
           text_cols: list[str]) -> pd.DataFrame:
    out = X.copy()
    for c in cols:
        noise = rng.normal(0.0, 1.0, len(X)) * scale * std[c]
        out[c] = pd.to_numeric(X[c], errors="coerce").astype(float) + noise
    for c in text_cols:
        out[c] = perturb_text(X[c], rng)
    return out


@check("robustness.noise", requires=("model", "test"))
def noise(ctx: CheckContext, *, scale: Positive = 0.05, repeats: PositiveInt = 3, rows: PositiveInt = 1000,
          max_flip_rate: Fraction = 0.05, max_relative_change: NonNegative = 0.05,
          columns: Columns | None = None) -> CheckResult:
    """Gaussian noise on numeric features, scaled by each feature's standard deviation
    (and typos, case, whitespace and punctuation changes on text columns): how often the
    prediction flips (classifiers) or how much it moves (regressors).

    A model whose decision hangs on a twentieth of a standard deviation (the default
    `scale`) is fragile; by default at most 5% of predictions may flip. Evidence: the flip
    rate per feature (that feature alone perturbed) and a curve of flip rate against the
    noise scale. All variants are predicted in one batch.

    Parameters:
    scale: noise standard deviation as a fraction of each feature's standard deviation (default 0.05)
    repeats: noise draws per row (default 3)
    rows: test rows sampled (seeded; default 1000)
    max_flip_rate: classifiers: highest share of predictions that may change (default 0.05)
    max_relative_change: regressors: highest mean relative change of the prediction (default 0.05)
    columns: features to perturb (default: every numeric and text feature)
    """
    X = sample(ctx, rows)
    cols = [c for c in (columns or numeric_features(X)) if c in numeric_features(X)]
    texts = [c for c in (columns or text_features(X)) if c in text_features(X)]
    if not cols and not texts:
        return CheckResult(status="error", message="no numeric or text features to perturb")
    std = X[cols].apply(pd.to_numeric, errors="coerce").std().fillna(0.0) if cols else pd.Series(dtype=float)
    rng = np.random.default_rng(ctx.seed)
    plans: list[tuple[str, object]] = []
    frames = [X]
    for r in range(repeats):
        frames.append(_noisy(X, cols, std, scale, rng, texts))
        plans.append(("all", scale))
        for c in cols + texts:
            frames.append(_noisy(X, [c] if c in cols else [], std, scale, rng, [c] if c in texts else []))
            plans.append((c, scale))
        for s in CURVE:
            if s != scale:
                frames.append(_noisy(X, cols, std, s, rng, texts))
                plans.append(("curve", s))
    p = probe(ctx)
    try:
        pred, score = p.outputs(stack(frames))
    except Exception as exc:  # noqa: BLE001 - the model crashed on perturbed inputs
        return CheckResult(status="failed", message=f"the model raised {type(exc).__name__} on noisy inputs: {exc}",
                           evidence=p.counts())
    n = len(X)
    base_pred, base_score = pred[:n], (score[:n] if score is not None else None)
    per_feature: dict[str, list[float]] = {}
    curve: dict[float, list[float]] = {}
    overall: list[float] = []
    for i, (what, s) in enumerate(plans):
        block = slice((i + 1) * n, (i + 2) * n)
        delta = changed(ctx, base_pred, base_score, pred[block], score[block] if score is not None else None)
        if what == "all":
            overall.append(float(delta.mean()))
            curve.setdefault(s, []).append(float(delta.mean()))
        elif what == "curve":
            curve.setdefault(s, []).append(float(delta.mean()))
        else:
            per_feature.setdefault(what, []).append(float(delta.mean()))
    name, limit = limit_for(ctx, max_flip_rate, max_relative_change)
    value = float(np.mean(overall))
    table = sorted(({"feature": f, name: float(np.mean(v))} for f, v in per_feature.items()),
                   key=lambda r: -r[name])
    xs = sorted(curve)
    charts = [bar_chart(f"{name} per feature (scale {scale})", [r["feature"] for r in table],
                        [r[name] for r in table], threshold=limit),
              line_chart(f"{name} against noise scale", [{"name": name, "x": list(xs),
                                                          "y": [float(np.mean(curve[x])) for x in xs]}],
                         x_label="noise scale (x feature std)", y_label=name)]
    worst = ", ".join(f"{r['feature']} ({r[name]:.3f})" for r in table[:3])
    return judge({name: value}, {name: ("<=", limit)}, detail=f"most sensitive: {worst}",
                 evidence={"features": table, "curve": [{"scale": x, name: float(np.mean(curve[x]))} for x in xs],
                           "rows": n, "repeats": repeats, "scale": scale,
                           **p.counts(), "charts": charts})


def _accepts_nan(p, X: pd.DataFrame) -> bool:
    try:
        pred, _ = p.outputs(X.head(5).assign(**{c: np.nan for c in X.columns}))
        return len(pred) == 5
    except Exception:  # noqa: BLE001
        return False


@check("robustness.missing", requires=("model", "test"))
def missing(ctx: CheckContext, *, rows: PositiveInt = 1000, max_flip_rate: Fraction = 0.2,
            max_relative_change: NonNegative = 0.2, columns: Columns | None = None) -> CheckResult:
    """Each feature in turn set missing (NaN; or the column's most frequent value when the
    model cannot take NaN): the model must not crash, and predictions should not hinge on
    one feature being present. Default limit: at most 20% of predictions change when any
    single feature is missing.

    Parameters:
    rows: test rows sampled (seeded; default 1000)
    max_flip_rate: classifiers: highest share of predictions that may change for any one feature (default 0.2)
    max_relative_change: regressors: highest mean relative change for any one feature (default 0.2)
    columns: features to blank (default: all features)
    """
    X = sample(ctx, rows)
    cols = columns or list(X.columns)
    p = probe(ctx)
    nan_ok = _accepts_nan(p, X)
    frames, fills = [X], {}
    for c in cols:
        fill = np.nan if nan_ok else X[c].mode(dropna=True).iloc[0]
        fills[c] = "NaN" if nan_ok else fill
        frames.append(X.assign(**{c: fill}))
    try:
        pred, score = p.outputs(stack(frames))
    except Exception as exc:  # noqa: BLE001
        crashing = []
        for c in cols:  # find the feature(s) the model cannot do without
            try:
                p.outputs(frames[cols.index(c) + 1])
            except Exception:  # noqa: BLE001
                crashing.append(c)
        return CheckResult(status="failed", message=f"the model raised {type(exc).__name__} with "
                           f"{', '.join(crashing) or 'a feature'} missing: {exc}",
                           metrics={"crashes": float(len(crashing))}, thresholds={"crashes": "<= 0"},
                           evidence={"crashing_features": crashing, **p.counts()})
    n = len(X)
    name, limit = limit_for(ctx, max_flip_rate, max_relative_change)
    table = []
    for i, c in enumerate(cols):
        block = slice((i + 1) * n, (i + 2) * n)
        delta = changed(ctx, pred[:n], None, pred[block], score[block] if score is not None else None)
        table.append({"feature": c, "filled_with": str(fills[c]), name: float(delta.mean())})
    table.sort(key=lambda r: -r[name])
    worst = table[0]
    return judge({f"max_{name}": worst[name], "crashes": 0.0},
                 {f"max_{name}": ("<=", limit), "crashes": ("<=", 0.0)},
                 detail=f"most reliant on {worst['feature']} ({worst[name]:.3f})",
                 evidence={"features": table, "missing_as": "NaN" if nan_ok else "most frequent value",
                           "rows": n, **p.counts(),
                           "charts": [bar_chart(f"{name} with one feature missing", [r["feature"] for r in table],
                                                [r[name] for r in table], threshold=limit)]})
