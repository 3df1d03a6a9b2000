"""Multivariate (joint) drift from train to test: a domain classifier.

A per-column view misses a change in how features go together: rows recombined, a join
gone wrong, a pipeline shuffling one column. Every column's distribution stays the same
(so `data.drift` passes), but a model that learns to tell test rows from train rows can.
Its cross-validated ROC AUC says how separable the splits are; the drift score
2 * AUC - 1 (clipped at 0, as deepchecks reports it) reads roughly as the share of test
rows that look unlike any train row."""
from __future__ import annotations

import math
from typing import Annotated

import numpy as np
import pandas as pd

from ...context import CheckContext
from ...judge import bar_chart, judge
from ...params import Columns, PositiveInt, Range
from ...registry import check
from ...results import CheckResult
from ...tables import is_categorical, kind
from ._identifiers import identifier_columns
from ._multivariate_joint import joint_view

#: the domain classifier: boosting rounds, learning rate, leaves per tree. Enough to learn a
#: pairing of two columns (education with education-num) from a few hundred examples, small
#: enough to fit 3 folds of 20,000 rows in well under a second on one core
ROUNDS, LEARNING_RATE, LEAVES = 50, 0.1, 31
#: HistGradientBoosting's native categorical support takes codes below 255: the most
#: frequent 254 categories keep their own code, the rest share one
MAX_CODES = 254
#: two-sided level of the AUC's confidence interval (DeLong)
Z95 = 1.959964
#: features in the importance chart
CHART_FEATURES = 15
#: held-out rows per fold the permutation importance is measured on (seeded subset): it
#: ranks the features; the AUC itself is measured on every held-out row
IMPORTANCE_ROWS = 2_500


def _error(message: str) -> CheckResult:
    return CheckResult(status="error", message=message)


def _encode(frame: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """A float matrix for the classifier and a categorical mask: numbers as they are,
    datetimes as nanoseconds, categories (and booleans) as ordinal codes by frequency;
    missing values stay NaN, which the model handles natively."""
    X = np.empty((len(frame), len(cols)))
    cat = np.zeros(len(cols), dtype=bool)
    for j, col in enumerate(cols):
        s = frame[col]
        k = kind(s)
        if k == "datetime":
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            t = s.to_numpy(dtype="datetime64[ns]")
            X[:, j] = np.where(np.isnat(t), np.nan, t.astype("int64").astype(float))
        elif is_categorical(s):
            keys = s.astype("string")
            counts = keys.value_counts(dropna=True)
            ranked = sorted(counts.index, key=lambda v: (-counts[v], str(v)))
            codes = {v: float(min(i, MAX_CODES)) for i, v in enumerate(ranked)}
            X[:, j] = keys.map(codes).to_numpy(dtype=float, na_value=np.nan)
            cat[j] = True
        else:
            x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            X[:, j] = np.where(np.isfinite(x), x, np.nan)
    return X, cat


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of `score` for y == 1 (ties count one half)."""
    from scipy.stats import rankdata
    pos = y == 1
    m, n = int(pos.sum()), int((~pos).sum())
    if m == 0 or n == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[pos].sum() - m * (m + 1) / 2) / (m * n))


def delong(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """(AUC, its standard error) by DeLong's method: the variance of each row's share of
    rows of the other class it out-ranks, for positives and negatives."""
    from scipy.stats import rankdata
    pos, neg = score[y == 1], score[y == 0]
    m, n = len(pos), len(neg)
    if m < 2 or n < 2:
        return float("nan"), float("nan")
    tz = rankdata(np.r_[pos, neg])
    v10 = (tz[:m] - rankdata(pos)) / n
    v01 = 1 - (tz[m:] - rankdata(neg)) / m
    auc = float(v10.mean())
    return auc, float(math.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))


def _sample(ctx: CheckContext, rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same number of rows from each split (seeded), so the classifier's prior is 50/50."""
    rng = np.random.default_rng(ctx.seed)
    m = min(len(ctx.train.frame), len(ctx.test.frame), rows)

    def pick(frame: pd.DataFrame) -> pd.DataFrame:
        idx = np.sort(rng.choice(len(frame), m, replace=False)) if len(frame) > m else np.arange(m)
        return frame.iloc[idx].reset_index(drop=True)
    return pick(ctx.train.frame), pick(ctx.test.frame)


def _fit_folds(ctx: CheckContext, X: np.ndarray, y: np.ndarray, cat: np.ndarray, folds: int
               ) -> tuple[np.ndarray, list[float], np.ndarray]:
    """Out-of-fold test-row probabilities, each fold's AUC, and each feature's permutation
    importance: the drop in held-out AUC when that feature's values are shuffled among the
    held-out rows (a seeded subset of them; averaged over the folds)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(ctx.seed)
    oof = np.empty(len(y))
    fold_auc: list[float] = []
    drops = np.zeros((folds, X.shape[1]))
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=ctx.seed % (2 ** 32))
    # one OpenMP thread: on a small matrix more threads gain little, and on a shared CI
    # runner they wait on each other (measured: 30x slower under load on 2 cores)
    with threadpool_limits(limits=1, user_api="openmp"):
        for f, (fit, held) in enumerate(split.split(X, y)):
            ctx.deadline.check()
            model = HistGradientBoostingClassifier(
                max_iter=ROUNDS, learning_rate=LEARNING_RATE, max_leaf_nodes=LEAVES,
                categorical_features=cat if cat.any() else None, early_stopping=False,
                random_state=ctx.seed % (2 ** 32))
            model.fit(X[fit], y[fit])
            Xh, yh = X[held], y[held]
            oof[held] = model.predict_proba(Xh)[:, 1]
            fold_auc.append(_auc(yh, oof[held]))
            few = np.sort(rng.choice(len(held), min(len(held), IMPORTANCE_ROWS), replace=False))
            Xs, ys = Xh[few], yh[few]
            base = _auc(ys, oof[held][few])
            for j in range(X.shape[1]):
                shuffled = Xs.copy()
                shuffled[:, j] = Xs[rng.permutation(len(few)), j]
                drops[f, j] = base - _auc(ys, model.predict_proba(shuffled)[:, 1])
    return oof, fold_auc, drops.mean(axis=0)


@check("data.multivariate_drift", requires=("train", "test"))
def multivariate_drift(ctx: CheckContext, *, max_drift_score: Annotated[float, Range(0.0, 1.0)] = 0.1,
                       sample: Annotated[int, Range(100)] = 10_000, folds: Annotated[int, Range(2, 10)] = 3,
                       min_rows: Annotated[int, Range(20)] = 100, columns: Columns | None = None,
                       top: PositiveInt = 3):
    """Joint drift from train to test, as a domain classifier sees it.

    Train rows are labelled 0 and test rows 1 (features only, never the label; identifier
    columns are left out and listed); a gradient-boosted tree model (scikit-learn's
    HistGradientBoostingClassifier, native categorical support, missing values as they are)
    learns to tell them apart on a balanced seeded sample, cross-validated with stratified
    folds. Reported: the out-of-fold ROC AUC with its 95% DeLong interval, the drift score
    2 * AUC - 1 (clipped at 0; deepchecks' definition: 0 = indistinguishable, 1 = fully
    separable; it reads roughly as the share of test rows unlike any train row), each
    feature's permutation importance on the held-out folds, and for the top two features
    their joint view: how strongly they go together in train and in test, and the cells of
    their 2-D binned table whose share changed most.

    Fails when the drift score is above `max_drift_score` and the AUC's interval lies above
    0.5 (a small sample's chance separation does not fail). The default 0.1 is stricter than
    deepchecks' 0.25 and well above the noise (a random split of Adult scores 0 to 0.02; the
    real Adult test file about 0.01). Weakest defect caught with the defaults, on Adult: the
    education column re-paired at random among 20% of test rows (drift score 0.13-0.14 over
    seeds), with every column's distribution, and so `data.drift`, unchanged; marital-status
    re-paired among 30% of test rows (0.13-0.16). Re-pairing 10% or 15% of rows scores about
    0.05 or 0.09 and passes: the AUC, significant above 0.5 there, is reported all the same.

    Parameters:
    max_drift_score: the highest drift score (2 * AUC - 1) allowed (default 0.1)
    sample: rows drawn from each split, seeded; the smaller split sets the size (default 10000)
    folds: stratified cross-validation folds (default 3)
    min_rows: fewest rows per split the check will judge; fewer is an error (default 100)
    columns: features the classifier sees (default: every feature that is not an identifier)
    top: how many of the most important features the message names (default 3)
    """
    train, test = ctx.train, ctx.test
    for d in (train, test):
        if len(d.frame) < min_rows:
            what = "is empty" if len(d.frame) == 0 else f"has {len(d.frame)} rows"
            return _error(f"the {d.name} data {what}: a domain classifier needs at least {min_rows} rows "
                          "per split (`min_rows`) to say whether train and test differ")
    ids = {} if columns else identifier_columns(train.X, test.X, label=train.label)
    cols = list(columns) if columns else [c for c in train.features if c not in ids]
    missing = [c for c in cols if c not in test.frame.columns or c not in train.frame.columns]
    if missing:
        return _error(f"feature(s) {', '.join(map(str, missing))} missing from the "
                      f"{'test' if all(c in train.frame.columns for c in missing) else 'train'} data: "
                      "both splits need the same features (or name the shared ones in `columns`)")
    if not cols:
        return _error("no feature to compare" + (f" (excluded as identifiers: {', '.join(ids)})" if ids else "")
                      + ": name the features in `columns`")
    a, b = _sample(ctx, sample)
    X, cat = _encode(pd.concat([a[cols], b[cols]], ignore_index=True), cols)
    y = np.r_[np.zeros(len(a), dtype=int), np.ones(len(b), dtype=int)]
    oof, fold_auc, importance = _fit_folds(ctx, X, y, cat, folds)
    auc, se = delong(y, oof)
    lo, hi = max(auc - Z95 * se, 0.0), min(auc + Z95 * se, 1.0)
    score = max(2 * auc - 1, 0.0)
    table = [{"feature": str(c), "kind": "categorical" if cat[j] else "numeric",
              "importance": round(float(importance[j]), 6)} for j, c in enumerate(cols)]
    table.sort(key=lambda r: (-r["importance"], r["feature"]))
    total = sum(max(r["importance"], 0.0) for r in table)
    for r in table:
        r["share"] = round(max(r["importance"], 0.0) / total, 4) if total > 0 else 0.0
    metrics = {"drift_score": round(score, 6), "auc": round(auc, 6), "auc_ci_low": round(lo, 6),
               "auc_ci_high": round(hi, 6), "rows_per_split": float(len(a))}
    named = ", ".join(f"{r['feature']} ({r['importance']:.3f})" for r in table[:top])
    detail = (f"domain classifier AUC {auc:.3f} (95% CI {lo:.3f}-{hi:.3f}) on {len(a)} rows per split; "
              f"most important: {named}")
    charts = [bar_chart("Domain classifier: permutation importance (drop in held-out AUC)",
                        [r["feature"] for r in table[:CHART_FEATURES]],
                        [r["importance"] for r in table[:CHART_FEATURES]], y_label="AUC drop")]
    evidence: dict = {"features": table, "folds": [{"fold": i + 1, "auc": round(v, 6)} for i, v in enumerate(fold_auc)],
                      "excluded_as_identifiers": sorted(ids), "sample": {"rows_per_split": len(a), "seed": ctx.seed,
                                                                        "folds": folds}}
    if len(table) >= 2:
        # the table names features as text; the frames keep their own (maybe non-string) names
        orig = {str(c): c for c in cols}
        f0, f1 = table[0]["feature"], table[1]["feature"]
        pick = [orig[f0], orig[f1]]
        pair = joint_view(f0, f1, a[pick].set_axis([f0, f1], axis=1), b[pick].set_axis([f0, f1], axis=1))
        assoc = pair["association"]
        evidence["joint"] = [assoc]
        evidence["joint_cells"] = pair["cells"]
        charts.append(pair["chart"])
        if assoc["train"] is not None and assoc["test"] is not None:
            detail += (f"; {assoc['feature_a']} vs {assoc['feature_b']}: {assoc['measure']} "
                       f"{assoc['train']:.2f} in train, {assoc['test']:.2f} in test")
    if ids:
        detail += f"; excluded as identifiers: {', '.join(sorted(ids))}"
    evidence["charts"] = charts
    result = judge(metrics, {"drift_score": ("<=", max_drift_score)}, detail=detail, evidence=evidence)
    if result.status == "failed" and lo <= 0.5:
        return result.with_(status="passed", message=f"drift score {score:.3f} is above {max_drift_score:g} but "
                                                     f"not significant (the AUC's 95% interval includes 0.5) — {detail}")
    return result
