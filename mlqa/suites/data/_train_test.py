"""Train against test, through the label: label drift, categories test has and train never
saw, and a feature whose power to predict the label changes between the splits."""
from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd

from ...context import CheckContext
from ...judge import bar_chart, judge
from ...params import Columns, Count, Fraction, NonNegative, PositiveInt, Range
from ...registry import check
from ...results import CheckResult
from ...tables import is_categorical
from .._metrics import weighted_auc
from ._drift import categorical_counts, numeric_counts, psi
from ._drift_dist import categorical_chart, numeric_chart
from ._identifiers import identifier_columns
from ._leakage import _encode, _target_score

#: rows per split the correlation-change check reads (seeded sample above it)
MAX_ROWS = 100_000
#: examples of new categories listed per column in the evidence
EXAMPLES = 5


def _labelled(ctx: CheckContext) -> str | None:
    """Why the label cannot be compared (None when both splits have it)."""
    for d in (ctx.train, ctx.test):
        if d.label is None:
            return f"the {d.name} data has no label: set `data.label` in mlqa.yaml"
        if d.label not in d.frame.columns:
            return f"the {d.name} data has no column `{d.label}` (the declared label)"
        if len(d.frame) == 0:
            return f"the {d.name} data is empty"
    return None


def _error(message: str) -> CheckResult:
    return CheckResult(status="error", message=message)


# ------------------------------------------------------------------ label drift
@check("data.label_drift", requires=("train", "test"))
def label_drift(ctx: CheckContext, *, max_psi: NonNegative = 0.05, bins: Annotated[int, Range(2)] = 10,
                min_p_value: Fraction | None = None) -> CheckResult:
    """Shift of the label's distribution from train to test.

    PSI of the class shares (classification) or of train-decile bins of the target
    (regression). The default limit 0.05 is stricter than `data.drift`'s 0.2 for a
    feature: the label's prior is what a classifier's threshold and calibration were fit
    to. On Adult (24% positives in test) the weakest shift caught is 15% of the test's
    negatives relabelled positive (positives 24% -> 35%, PSI 0.059); 10% (-> 31%, PSI
    0.026) passes. deepchecks' default (Cramér's V at 0.15) first fails at 20% relabelled.
    Cramér's V (classes) or the KS statistic (regression) and the chi-square / KS p-value
    are reported; the p-value is judged only when `min_p_value` is set (on large samples
    it flags shifts too small to matter).

    Parameters:
    max_psi: the highest PSI of the label allowed (default 0.05)
    bins: quantile bins of a regression target (default 10)
    min_p_value: if set, a chi-square / KS p-value below it also fails
    """
    from scipy import stats
    why = _labelled(ctx)
    if why:
        return _error(f"{why}; label drift compares the label of train and test")
    a, b = ctx.train.y, ctx.test.y
    label = ctx.train.label
    unlabelled = [d.name for d, y in ((ctx.train, a), (ctx.test, b)) if not pd.Series(y).notna().any()]
    if unlabelled:  # "<missing>" against "<missing>" is no drift seen, not no drift
        return _error(f"the label `{label}` is missing in every row of the {' and '.join(unlabelled)} data; "
                      "label drift compares the label of train and test: fill it or drop data.label_drift")
    if ctx.task == "classification":
        ca, cb, cats = categorical_counts(a, b)
        value = psi(ca, cb)
        table = np.vstack([ca, cb])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] > 1:
            chi2, p = stats.chi2_contingency(table)[:2]
            cramers_v = float(np.sqrt(chi2 / table.sum()))
        else:
            p, cramers_v = 1.0, 0.0
        sa, sb = ca / max(ca.sum(), 1), cb / max(cb.sum(), 1)
        classes = sorted(({"class": str(c), "train_share": round(float(x), 6), "test_share": round(float(y), 6),
                           "change": round(float(y - x), 6)} for c, x, y in zip(cats, sa, sb)),
                         key=lambda r: -abs(r["change"]))
        metrics = {"psi": value, "cramers_v": cramers_v, "p_value": float(p),
                   "max_share_change": max(abs(r["change"]) for r in classes)}
        worst = classes[0]
        detail = f"`{label}`={worst['class']}: {worst['train_share']:.1%} of train, {worst['test_share']:.1%} of test"
        chart = categorical_chart(str(label), a, b, value)
        evidence = {"classes": classes, "charts": [chart]}
    else:
        ca, cb = numeric_counts(a, b, bins)
        value = psi(ca, cb)
        fa = pd.to_numeric(a, errors="coerce").dropna().to_numpy()
        fb = pd.to_numeric(b, errors="coerce").dropna().to_numpy()
        if len(fa) == 0 or len(fb) == 0:
            return _error(f"the label `{label}` has no numeric values in one split; is the task regression?")
        ks = stats.ks_2samp(fa, fb)
        metrics = {"psi": value, "ks_statistic": float(ks.statistic), "p_value": float(ks.pvalue)}
        detail = (f"`{label}` mean {fa.mean():.4g} in train, {fb.mean():.4g} in test; "
                  f"median {np.median(fa):.4g} vs {np.median(fb):.4g}")
        evidence = {"train": {"mean": float(fa.mean()), "std": float(fa.std())},
                    "test": {"mean": float(fb.mean()), "std": float(fb.std())},
                    "charts": [numeric_chart(str(label), a, b, value)]}
    return judge(metrics, {"psi": ("<=", max_psi), "p_value": (">=", min_p_value)},
                 detail=detail, evidence=evidence)


# ------------------------------------------------------------------ new categories
def _new_values(train: pd.Series, test: pd.Series) -> pd.Series:
    """Counts of the test's non-missing values that never occur in train."""
    if is_categorical(train) or is_categorical(test):
        ka, kb = train.dropna().astype("string"), test.dropna().astype("string")
    else:  # numeric codes named in `columns`: 1 and 1.0 are one category
        ka = pd.to_numeric(train, errors="coerce").dropna()
        kb = pd.to_numeric(test, errors="coerce").dropna()
    unseen = kb[~kb.isin(pd.unique(ka))]
    return unseen.value_counts()


def _new_row(column: str, counts: pd.Series, n: int, role: str) -> dict:
    rows = int(counts.sum())
    return {"column": column, "role": role, "new_categories": len(counts), "rows": rows,
            "share": round(rows / n, 6) if n else 0.0,
            "examples": [{"value": str(v), "count": int(c)} for v, c in counts.head(EXAMPLES).items()]}


@check("data.new_categories", requires=("train", "test"))
def new_categories(ctx: CheckContext, *, max_share: Fraction = 0.01, max_new_labels: Count = 0,
                   columns: Columns | None = None, top: PositiveInt = 5) -> CheckResult:
    """Categories the test set has and train never had, per categorical feature and for the
    label (deepchecks' New Category and New Label checks).

    A model has learnt nothing about a category it never saw: an encoder maps it to
    "unknown" (or crashes), and its rows get whatever that default predicts. Per feature,
    the share of test rows holding an unseen category is judged against `max_share`
    (default 0.01: one row in a hundred; on Adult the weakest caught is 1.5% of the test
    rows given a new `workclass`); a class label train never had is a class the model
    cannot predict, so by default none is allowed (`max_new_labels: 0`). Missing values are
    not categories here (`data.missing` judges them); identifier columns (new per row by
    nature) are left out and listed.

    Parameters:
    max_share: the highest share of test rows with an unseen category in any one feature (default 0.01)
    max_new_labels: how many label values unseen in train the test may have, classification (default 0)
    columns: features to compare (default: every categorical feature that is not an identifier)
    top: how many of the worst features the message names (default 5)
    """
    train, test = ctx.train, ctx.test
    if len(train.frame) == 0 or len(test.frame) == 0:
        return _error(f"the {'train' if len(train.frame) == 0 else 'test'} data is empty")
    ids = {} if columns else identifier_columns(train.X, test.X, label=train.label)
    cols = columns or [c for c in train.features if c not in ids and c in test.frame.columns
                       and (is_categorical(train.frame[c]) or is_categorical(test.frame[c]))]
    n = len(test.frame)
    table = [_new_row(c, _new_values(train.frame[c], test.frame[c]), n, "feature") for c in cols]
    table.sort(key=lambda r: -r["share"])
    label_row = None
    if ctx.task == "classification" and _labelled(ctx) is None:
        label_row = _new_row(str(train.label), _new_values(train.y, test.y), n, "label")
    if not table and label_row is None:
        return _error("no categorical feature and no class label to compare: name columns in "
                      "`columns`, or leave this check out for all-numeric regression data")
    worst = table[0] if table else {"share": 0.0}
    metrics = {"max_new_share": float(worst["share"]),
               "columns_with_new": float(sum(r["rows"] > 0 for r in table))}
    limits = {"max_new_share": ("<=", max_share)}
    if label_row is not None:
        metrics["new_labels"] = float(label_row["new_categories"])
        metrics["new_label_share"] = float(label_row["share"])
        limits["new_labels"] = ("<=", float(max_new_labels))
    found = [r for r in table if r["rows"]]
    parts = [f"{r['column']}: {r['share']:.2%} of test rows ({r['new_categories']} new, e.g. "
             f"{', '.join(repr(e['value']) for e in r['examples'][:2])})" for r in found[:top]]
    if label_row is not None and label_row["rows"]:
        parts.insert(0, f"label {label_row['column']}: {label_row['new_categories']} new value(s), e.g. "
                        f"{', '.join(repr(e['value']) for e in label_row['examples'][:2])}")
    evidence = {"features": table, "label": label_row, "excluded_as_identifiers": sorted(ids),
                "charts": [bar_chart("Share of test rows with a category unseen in train",
                                     [r["column"] for r in table[:15]], [r["share"] for r in table[:15]],
                                     threshold=max_share, y_label="share of test rows")]}
    return judge(metrics, limits, detail="; ".join(parts) if parts else "no unseen categories",
                 evidence=evidence)


# ------------------------------------------------------------------ feature-label correlation change
def _power(fit_ids: np.ndarray, fit_y: np.ndarray, ev_ids: np.ndarray, ev_y: np.ndarray,
           classes: list | None) -> float:
    """How well the label means per bucket learnt on (fit) predict the label of (ev):
    Gini = 2 AUC - 1 (one-vs-rest mean) for classes, R^2 for a numeric target. 0 is no
    power, 1 perfect; below 0 the relationship learnt is reversed on `ev`."""
    if classes is None:
        pred = _target_score(fit_ids, fit_y.astype(float), ev_ids)
        sst = float(((ev_y - ev_y.mean()) ** 2).sum())
        return 1 - float(((ev_y - pred) ** 2).sum()) / sst if sst > 0 else float("nan")
    ones = np.ones((1, len(ev_y)))
    ginis = []
    for c in classes:
        pos = ev_y == c
        if pos.all() or not pos.any():
            continue
        score = _target_score(fit_ids, (fit_y == c).astype(float), ev_ids)
        ginis.append(2 * float(weighted_auc(score, pos, ones)[0]) - 1)
    return float(np.mean(ginis)) if ginis else float("nan")


def _within(ids: np.ndarray, y: np.ndarray, half: np.ndarray, classes: list | None) -> float:
    """Power within one split, cross-fitted on its two seeded halves (no in-sample score)."""
    a = _power(ids[half], y[half], ids[~half], y[~half], classes)
    b = _power(ids[~half], y[~half], ids[half], y[half], classes)
    return float(np.mean([a, b]))


def _capped(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.sample(MAX_ROWS, random_state=seed) if len(frame) > MAX_ROWS else frame


@check("data.feature_label_correlation_change", requires=("train", "test"))
def feature_label_correlation_change(ctx: CheckContext, *, max_change: NonNegative = 0.2,
                                     bins: Annotated[int, Range(2)] = 20, columns: Columns | None = None,
                                     top: PositiveInt = 5) -> CheckResult:
    """A feature whose power to predict the label alone differs between train and test
    (deepchecks' Feature Label Correlation Change, with a bucketed target score in place of
    its predictive power score).

    Each feature is bucketed as in `data.label_leakage` (categories, or 20 train-quantile
    bins) and scored by the label's mean per bucket: power is the Gini (2 AUC - 1, mean
    over classes one-vs-rest) for classification, R^2 for regression — 0 no power, 1
    perfect. Three powers per feature: within train and within test (each cross-fitted on
    two seeded halves), and train -> test (bucket means learnt on train, scored on test).
    The change is the larger of |train - test| (a feature that leaks into one split only)
    and test - (train -> test) (a relationship that flipped or changed shape, which leaves
    both within-split powers alike). The default limit 0.2 is deepchecks' PPS difference.
    Weakest caught on Adult: a column equal to the label in 25% of train rows (random
    elsewhere, random in test; 10% passes); `relationship` shuffled among 40% of the test
    rows (a join gone wrong: its marginal, and so `data.drift`, unchanged; 20% passes); a
    planted score whose relationship flips between the splits at a Gini of 0.17.

    Parameters:
    max_change: the largest change of a feature's power allowed (default 0.2)
    bins: quantile bins for numeric features (default 20)
    columns: features to compare (default: all features that are not identifiers)
    top: how many of the most changed features the message names (default 5)
    """
    why = _labelled(ctx)
    if why:
        return _error(f"{why}; the check compares each feature's power to predict the label")
    train, test = _capped(ctx.train.frame, ctx.seed), _capped(ctx.test.frame, ctx.seed)
    label = ctx.train.label
    ids = {} if columns else identifier_columns(ctx.train.X, ctx.test.X, label=label)
    cols = columns or [c for c in ctx.train.features if c not in ids and c in test.columns]
    if not cols:
        return _error("no features to compare: name some in `columns`")
    regression = ctx.task == "regression"
    ya, yb = train[label].to_numpy(), test[label].to_numpy()
    if regression:
        ya, yb = pd.to_numeric(train[label], errors="coerce").to_numpy(float), \
            pd.to_numeric(test[label], errors="coerce").to_numpy(float)
        if not (np.isfinite(ya).all() and np.isfinite(yb).all()):
            return _error(f"the label `{label}` has missing or non-numeric values; drop those rows")
        classes = None
    else:
        classes = [ctx.positive_label] if ctx.is_binary else sorted(pd.unique(ya).tolist(), key=str)
    # the halves' stream is the seed mixed with a constant: `default_rng(seed).random(n)` is
    # also how data is often made, and halves equal to `x < 0.5` would split on a feature
    rng = np.random.default_rng([ctx.seed, 0x68616C66])
    half_a, half_b = rng.random(len(train)) < 0.5, rng.random(len(test)) < 0.5
    table = []
    for col in cols:
        fa, fb = _encode(train[col], test[col], bins)
        p_train = _within(fa, ya, half_a, classes)
        p_test = _within(fb, yb, half_b, classes)
        p_transfer = _power(fa, ya, fb, yb, classes)
        change = max(abs(p_train - p_test), p_test - p_transfer)
        table.append({"feature": col, "power_train": round(p_train, 6), "power_test": round(p_test, 6),
                      "power_train_to_test": round(p_transfer, 6), "change": round(change, 6)})
    table.sort(key=lambda r: -(r["change"] if r["change"] == r["change"] else np.inf))
    worst = table[0]
    changed = [r["feature"] for r in table if r["change"] > max_change]
    named = ", ".join(f"{r['feature']} ({r['power_train']:.2f} in train, {r['power_test']:.2f} in test, "
                      f"{r['power_train_to_test']:.2f} train->test)" for r in table[:top])
    measure = "R^2" if regression else "Gini"
    chart = {"type": "bars", "title": f"Single-feature power ({measure}) against the label",
             "x": [r["feature"] for r in table[:15]],
             "series": [{"name": "train", "y": [r["power_train"] for r in table[:15]]},
                        {"name": "test", "y": [r["power_test"] for r in table[:15]]},
                        {"name": "train -> test", "y": [r["power_train_to_test"] for r in table[:15]]}],
             "y_label": measure}
    return judge({"max_change": float(worst["change"]), "changed_features": float(len(changed))},
                 {"max_change": ("<=", max_change)}, detail=f"most changed: {named}",
                 evidence={"measure": measure, "features": table, "changed": changed,
                           "excluded_as_identifiers": sorted(ids), "charts": [chart]})
