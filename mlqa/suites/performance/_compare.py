"""The model against simpler models, and the challenger against the current champion."""
from __future__ import annotations

from typing import Literal

import numpy as np

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from .. import _metrics
from ...tables import is_categorical
from ...judge import fmt, judge
from ...params import Confidence, Finite, PositiveInt
from .._targets import MetricName, check_metric_fits, default_metric, target


def _simple_model(kind: str, ctx: CheckContext, seed: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
    classification = ctx.task == "classification"
    if kind == "dummy":
        return DummyClassifier(strategy="prior") if classification else DummyRegressor()
    frame = ctx.train.X
    cats = [c for c in frame.columns if is_categorical(frame[c])]
    nums = [c for c in frame.columns if c not in cats]
    if kind == "tree":
        enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                             encoded_missing_value=-2)
        pre = ColumnTransformer([("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="<missing>"), enc), cats),
                                 ("num", SimpleImputer(strategy="median"), nums)])
        est = (DecisionTreeClassifier(max_depth=3, random_state=seed) if classification
               else DecisionTreeRegressor(max_depth=3, random_state=seed))
        return make_pipeline(pre, est)
    pre = ColumnTransformer([
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="<missing>"),
                              OneHotEncoder(handle_unknown="ignore", min_frequency=20)), cats),
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums)])
    est = LogisticRegression(max_iter=300) if classification else LinearRegression()
    return make_pipeline(pre, est)


@check("performance.simple_baseline", requires=("model", "train", "test"))
def simple_baseline(ctx: CheckContext, *, metric: MetricName | None = None, min_margin: Finite = 0.0,
                    simple: list[Literal["dummy", "tree", "linear"]] = ["dummy", "tree"]) -> CheckResult:  # noqa: B006
    """The model must beat simple models trained on the same data (ML Test Score:
    "a simpler model is not better").

    Simple models: `dummy` (class prior / mean), `tree` (depth-3 decision tree), `linear`
    (logistic or linear regression on one-hot / scaled features). The margin of the model
    over the best of them must be at least `min_margin` (default 0: merely not worse).

    Parameters:
    metric: the metric compared (default roc_auc for binary classifiers with probabilities, accuracy otherwise, r2 for regression)
    min_margin: how much better than the best simple model the model must be (default 0.0)
    simple: which simple models to train (default [dummy, tree])
    """
    name = metric or default_metric(ctx)
    why = check_metric_fits(ctx, name)
    if why:
        return CheckResult(status="error", message=why)
    hib = _metrics.higher_is_better(name)
    model_score = _metrics.point(name, target(ctx))
    rows = [{"model": "model", name: model_score}]
    X, y = ctx.train.X, ctx.train.y
    for kind in simple:
        est = _simple_model(kind, ctx, ctx.seed).fit(X, y)
        proba = est.predict_proba(ctx.test.X) if hasattr(est, "predict_proba") and ctx.task == "classification" else None
        classes = list(est.classes_) if hasattr(est, "classes_") else None
        pred = np.asarray(classes, dtype=object)[proba.argmax(1)].astype(np.asarray(classes).dtype) \
            if proba is not None else est.predict(ctx.test.X)
        t = _metrics.Target(y=ctx.test.y.to_numpy(), pred=np.asarray(pred), proba=proba,
                            classes=classes, positive=ctx.positive_label)
        rows.append({"model": kind, name: _metrics.point(name, t)})
    simple_rows = rows[1:]
    best = max(simple_rows, key=lambda r: r[name] if hib else -r[name])
    margin = (model_score - best[name]) if hib else (best[name] - model_score)
    return judge({"margin": float(margin), name: model_score, f"best_simple_{name}": best[name]},
                 {"margin": (">=", min_margin)},
                 detail=f"model {name} {fmt(model_score)} vs best simple ({best['model']}) {fmt(best[name])}",
                 evidence={"metric": name, "models": rows})


@check("performance.regression", requires=("model", "baseline", "test"))
def regression(ctx: CheckContext, *, metric: MetricName | None = None, max_drop: Finite = 0.01,
               confidence: Confidence = 0.95, n_bootstrap: PositiveInt = 1000) -> CheckResult:
    """Challenger (`model`) against the current champion (`baseline`) on the same test rows.

    A paired bootstrap resamples the test rows once per replicate and scores both models
    on the same resample, so the interval of the difference is tight where the models
    agree. The check fails only when the drop exceeds `max_drop` with the stated
    `confidence` (the one-sided lower bound of the drop is above it): two equally good
    models trained with different seeds never block, a clearly worse one does.

    Parameters:
    metric: the metric compared (default roc_auc for binary classifiers with probabilities, accuracy otherwise, r2 for regression)
    max_drop: the largest acceptable loss of the metric against the champion (default 0.01)
    confidence: one-sided confidence that the drop exceeds max_drop before blocking (default 0.95)
    n_bootstrap: paired bootstrap replicates (default 1000)
    """
    name = metric or default_metric(ctx)
    why = check_metric_fits(ctx, name) or check_metric_fits(ctx, name, "baseline")
    if why:
        return CheckResult(status="error", message=why)
    if not 0.5 <= confidence < 1:
        return CheckResult(status="error", message="confidence must be in [0.5, 1)")
    challenger, champion = target(ctx, "model"), target(ctx, "baseline")
    W = ctx.bootstrap(len(challenger.y), n_bootstrap)
    sign = 1.0 if _metrics.higher_is_better(name) else -1.0
    a, b = _metrics.point(name, challenger), _metrics.point(name, champion)
    drops = sign * (_metrics.weighted(name, champion, W) - _metrics.weighted(name, challenger, W))
    drop = sign * (b - a)
    lower = float(np.nanquantile(drops, 1 - confidence))
    upper = float(np.nanquantile(drops, confidence))
    return judge({"drop_lower_bound": lower, "drop": float(drop), f"challenger_{name}": a,
                  f"champion_{name}": b, "drop_upper_bound": upper},
                 {"drop_lower_bound": ("<=", max_drop)},
                 detail=f"{name}: challenger {fmt(a)} vs champion {fmt(b)}, drop {fmt(drop)} "
                        f"({confidence:.0%} one-sided bounds {fmt(lower)} .. {fmt(upper)})",
                 evidence={"metric": name, "confidence": confidence, "n_bootstrap": n_bootstrap,
                           "n": int(len(challenger.y)),
                           "disagreement": float(np.mean(challenger.pred != champion.pred))})
