"""The model's outputs between the splits, and the features it does not use: prediction
drift from train to test, and high-variation features the model ignores."""
from __future__ import annotations

import itertools
from typing import Annotated

import numpy as np
import pandas as pd

from ...context import CheckContext, Predictions
from ...judge import bar_chart, judge
from ...params import Count, Fraction, NonNegative, PositiveInt, Range
from ...registry import check
from ...results import CheckResult
from ...tables import is_categorical
from ..data import categorical_counts, psi

def _decile_counts(a: np.ndarray, b: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of a and b over the quantile bins of a (the reference), and the edges."""
    edges = np.unique(np.quantile(a, np.linspace(0, 1, bins + 1)[1:-1])) if len(a) else np.array([])
    ca = np.bincount(np.searchsorted(edges, a, side="right"), minlength=len(edges) + 1)
    cb = np.bincount(np.searchsorted(edges, b, side="right"), minlength=len(edges) + 1)
    return ca.astype(float), cb.astype(float), edges


# ------------------------------------------------------------------ prediction drift
def _train_predictions(ctx: CheckContext, rows: int) -> Predictions:
    """The model's predictions on train: the run's shared ones when train has at most
    `rows` rows, else on a seeded sample of `rows` (a decile PSI needs no more)."""
    if len(ctx.train.frame) <= rows:
        return ctx.predictions("model", "train")

    def compute() -> Predictions:
        X = ctx.train.X.sample(n=rows, random_state=ctx.seed)
        model = ctx.model
        proba = model.predict_proba(X) if ctx.task == "classification" and model.has_proba else None
        classes = model.classes
        if proba is not None and classes is not None:
            pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)].astype(np.asarray(classes).dtype)
        else:
            pred = np.asarray(model.predict(X))
        return Predictions(pred=pred, proba=proba, classes=classes)
    return ctx.memo(("train-predictions-sample", rows, ctx.seed), compute)


@check("performance.prediction_drift", requires=("model", "train", "test"))
def prediction_drift(ctx: CheckContext, *, max_psi: NonNegative = 0.1, max_ks: Fraction | None = None,
                     bins: Annotated[int, Range(2)] = 10, rows: PositiveInt = 10_000) -> CheckResult:
    """Shift of the model's outputs from train to test (deepchecks' Prediction Drift).

    What drifts: the positive class's probability for a binary classifier with
    probabilities, the predicted value of a regressor (both over train-decile bins, with
    the Kolmogorov-Smirnov statistic), and the predicted class's distribution otherwise.
    The outputs summarise every feature the way the model weighs them, so a shift in what
    the model will decide shows here even when each feature's own drift is small. Judged
    on PSI against 0.1, the conventional edge of a moderate shift, which on Adult falls
    where deepchecks' own default (the score's KS statistic at 0.15) does: the weakest
    caught is a test set with 40% of its rows replaced by married men (PSI 0.11, KS 0.15;
    30% gives PSI 0.06 and passes). The KS statistic is judged too when `max_ks` is set.
    Train predictions are made on a seeded sample of `rows` train rows; test predictions
    are the run's shared ones.

    Parameters:
    max_psi: the highest PSI of the model's outputs allowed (default 0.1)
    max_ks: if set, the highest KS statistic of the score (or predicted value) allowed
    bins: quantile bins of the score or predicted value (default 10)
    rows: train rows predicted (seeded sample; default 10000)
    """
    from scipy import stats
    for d in (ctx.train, ctx.test):
        if len(d.frame) == 0:
            return CheckResult(status="error", message=f"the {d.name} data is empty")
    pa, pb = _train_predictions(ctx, rows), ctx.predictions("model", "test")
    score_a = score_b = None
    if ctx.task == "regression":
        score_a, score_b = pa.pred.astype(float), pb.pred.astype(float)
        what = "predicted value"
    elif ctx.is_binary and pa.proba is not None:
        score_a, score_b = pa.positive_scores(ctx.positive_label), pb.positive_scores(ctx.positive_label)
        what = f"probability of {ctx.positive_label!r}"
    metrics: dict[str, float] = {}
    evidence: dict = {}
    if score_a is not None and score_b is not None:
        if not (np.isfinite(score_a).all() and np.isfinite(score_b).all()):
            return CheckResult(status="error", message=f"the model's {what} is not finite on some rows")
        ca, cb, edges = _decile_counts(score_a, score_b, bins)
        ks = stats.ks_2samp(score_a, score_b)
        metrics.update(psi=psi(ca, cb), ks_statistic=float(ks.statistic), p_value=float(ks.pvalue))
        detail = (f"{what}: mean {score_a.mean():.4g} on train, {score_b.mean():.4g} on test; "
                  f"KS {ks.statistic:.3f}")
        labels = [f"<= {edges[0]:.3g}"] + [f"{lo:.3g}-{hi:.3g}" for lo, hi in itertools.pairwise(edges)] \
            + [f"> {edges[-1]:.3g}"] if len(edges) else ["all"]
        evidence["bins"] = [{"bin": lab, "train_share": round(float(x / ca.sum()), 6),
                             "test_share": round(float(y / cb.sum()), 6)} for lab, x, y in zip(labels, ca, cb)]
        evidence["charts"] = [{"type": "bars", "title": f"Model's {what}: train vs test (PSI {metrics['psi']:.3f})",
                               "x": labels, "y_label": "share of rows",
                               "series": [{"name": "train", "y": [r["train_share"] for r in evidence["bins"]]},
                                          {"name": "test", "y": [r["test_share"] for r in evidence["bins"]]}]}]
    else:
        what = "predicted class"
        ca, cb, cats = categorical_counts(pd.Series(pa.pred), pd.Series(pb.pred))
        metrics["psi"] = psi(ca, cb)
        sa, sb = ca / ca.sum(), cb / cb.sum()
        evidence["classes"] = [{"class": c, "train_share": round(float(x), 6), "test_share": round(float(y), 6)}
                               for c, x, y in zip(cats, sa, sb)]
        worst = int(np.argmax(np.abs(sb - sa)))
        detail = f"predicted {cats[worst]!r}: {sa[worst]:.1%} on train, {sb[worst]:.1%} on test"
        evidence["charts"] = [{"type": "bars", "title": f"Predicted classes: train vs test (PSI {metrics['psi']:.3f})",
                               "x": cats, "y_label": "share of rows",
                               "series": [{"name": "train", "y": [float(x) for x in sa]},
                                          {"name": "test", "y": [float(y) for y in sb]}]}]
    evidence["output"] = what
    return judge(metrics, {"psi": ("<=", max_psi), "ks_statistic": ("<=", max_ks)}, detail=detail,
                 evidence=evidence)


# ------------------------------------------------------------------ unused features
def _variation(values: pd.Series, bins: int = 10) -> float:
    """How much a feature varies, 0 (constant) .. 1 (evenly spread): the entropy of its
    categories (or train-decile bins; missing is one more value) over the entropy of as
    many equally likely values (at most `bins`)."""
    if is_categorical(values):
        counts = values.astype("string").fillna("<missing>").value_counts().to_numpy(dtype=float)
        most = min(len(counts), bins)
    else:
        v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        f = v[np.isfinite(v)]
        edges = np.unique(np.quantile(f, np.linspace(0, 1, bins + 1)[1:-1])) if len(f) else np.array([])
        # side="left": a point mass at an edge (a column of mostly zeros) stays one bin
        counts = np.r_[np.bincount(np.searchsorted(edges, f, side="left"), minlength=len(edges) + 1),
                       (~np.isfinite(v)).sum()].astype(float)
        most = bins
    counts = counts[counts > 0]
    if len(counts) < 2:
        return 0.0
    p = counts / counts.sum()
    return float(min(-(p * np.log(p)).sum() / np.log(most), 1.0))


def _outputs(ctx: CheckContext, X: pd.DataFrame) -> np.ndarray:
    """The model's outputs per row as a matrix: probabilities, the predicted value, or a
    one-hot of the predicted class."""
    model = ctx.model
    if ctx.task == "classification" and model.has_proba:
        return np.asarray(model.predict_proba(X), dtype=float)
    pred = np.asarray(model.predict(X))
    if ctx.task == "regression":
        return pred.astype(float).reshape(len(X), -1)
    codes = pd.factorize(pd.Series(pred).astype(str))[0]
    return np.eye(codes.max() + 1)[codes] if len(codes) else np.zeros((0, 1))


@check("performance.unused_features", requires=("model", "test"))
def unused_features(ctx: CheckContext, *, min_importance: NonNegative = 0.1, min_variation: Fraction = 0.5,
                    max_unused: Count = 0, rows: PositiveInt = 500, repeats: PositiveInt = 2) -> CheckResult:
    """Features the model barely uses although they vary (deepchecks' Unused Features:
    "high variance unused features").

    Importance is by permutation and needs no label: each feature in turn is shuffled
    across a seeded sample of test rows and the model's outputs are compared with those on
    the intact rows — the mean change of the probabilities (half their L1 distance), of
    the predicted value over its standard deviation (regression), or the share of flipped
    classes (no probabilities). A feature is unused when its importance is below
    `min_importance` times the mean feature's (default 0.1: with 14 features, under 0.7%
    of the total; deepchecks cuts at 0.2 of its label-based importance, but on the credit
    model `sex`, which does move predictions, measures 0.23-0.35 of the mean across
    seeds). Of those, the ones that vary — normalised entropy
    of their categories or deciles at least `min_variation` (default 0.5; a constant or a
    97%-one-value column is below) — are counted: a varying input the model ignores is dead
    weight in the serving contract, or a signal the training lost (a join that filled the
    column only at serving time, a column dropped by the pipeline). By default none is
    allowed; the credit model uses every Adult feature. Weakest caught: one random column
    the model never reads. All permuted rows are predicted in one batch.

    Parameters:
    min_importance: importance below this multiple of the mean feature's counts as unused (default 0.1)
    min_variation: normalised entropy from which an unused feature counts as varying (default 0.5)
    max_unused: how many varying unused features are allowed (default 0)
    rows: test rows sampled (seeded; default 500)
    repeats: shuffles per feature (default 2)
    """
    X = ctx.test.X
    if len(X) == 0 or X.shape[1] == 0:
        return CheckResult(status="error", message="the test data has no rows or no features")
    if len(X) > rows:
        X = X.sample(n=rows, random_state=ctx.seed)
    X = X.reset_index(drop=True)
    cols = list(X.columns)
    rng = np.random.default_rng(ctx.seed)
    frames = [X]
    for _ in range(repeats):
        for c in cols:
            frames.append(X.assign(**{c: X[c].to_numpy()[rng.permutation(len(X))]}))
    out = _outputs(ctx, pd.concat(frames, ignore_index=True))
    n = len(X)
    base = out[:n]
    scale = 1.0
    if ctx.task == "regression":
        scale = float(base.std()) or 1.0
    importance = np.zeros(len(cols))
    for r in range(repeats):
        for j in range(len(cols)):
            block = out[(1 + r * len(cols) + j) * n:(2 + r * len(cols) + j) * n]
            diff = np.abs(block - base).sum(axis=1)
            importance[j] += float(diff.mean()) / (2.0 if ctx.task == "classification" else scale)
    importance /= repeats
    mean = float(importance.mean())
    full = ctx.test.X
    table = []
    for j, c in enumerate(cols):
        ratio = float(importance[j] / mean) if mean > 0 else 0.0
        variation = _variation(full[c])
        unused = ratio < min_importance
        table.append({"feature": c, "importance": round(float(importance[j]), 6),
                      "importance_ratio": round(ratio, 4), "variation": round(variation, 4),
                      "unused": unused, "varying_unused": unused and variation >= min_variation})
    table.sort(key=lambda r: -r["importance"])
    flagged = [r["feature"] for r in table if r["varying_unused"]]
    quiet = [r["feature"] for r in table if r["unused"] and not r["varying_unused"]]
    if mean <= 0:
        return CheckResult(status="error", message=f"no feature changed the model's output on {n} test rows "
                           f"(is the model constant?); raise `rows`", evidence={"features": table})
    detail = (f"varying but unused: {', '.join(flagged)}" if flagged else "every varying feature is used")
    if quiet:
        detail += f"; unused, little variation: {', '.join(quiet)}"
    chart = bar_chart("Permutation importance relative to the mean feature", [r["feature"] for r in table],
                      [r["importance_ratio"] for r in table], threshold=min_importance, y_label="x mean importance")
    chart["limit_kind"] = "min"
    return judge({"unused_features": float(len(flagged)), "min_importance_ratio": float(min(r["importance_ratio"]
                                                                                         for r in table))},
                 {"unused_features": ("<=", float(max_unused))}, detail=detail,
                 evidence={"features": table, "unused": flagged, "unused_low_variation": quiet,
                           "rows": n, "repeats": repeats, "predicted_rows": len(out), "charts": [chart]})
