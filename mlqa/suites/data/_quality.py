"""Missing values, duplicated rows and rows shared by train and test.

Rows are compared twice: exactly (equal values) and nearly (equal after normalising:
numbers to `near_digits` significant digits, text case-folded, stripped, inner whitespace
collapsed); near matches are counted only when they are not exact, and judged on their own
limit. Identifier columns (`identifier_columns`) are left out of a row's identity by
default: a fresh surrogate key per row would make every copied row look new."""
from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd

from ...params import Columns, Fraction, Range
from ...registry import check
from ...context import CheckContext
from ...results import CheckResult
from ...subjects import Dataset
from .._frames import near_row_hashes, row_hashes
from ...judge import bar_chart, judge
from ._identifiers import identifier_columns

#: significant digits two numbers share to be "near" (1.2345671 ~ 1.2345674; float32 round trips)
Digits = Annotated[int, Range(1, 15)]


def _splits(ctx: CheckContext) -> list[Dataset]:
    return [d for d in (ctx.train, ctx.test) if d is not None]


def _columns(data: Dataset, columns: list[str] | None) -> list[str]:
    if columns:
        return columns
    return list(data.features) + ([data.label] if data.label else [])


@check("data.missing", requires=("test",))
def missing(ctx: CheckContext, *, max_fraction: Fraction = 0.05,
            per_column: dict[str, Fraction] = {}, columns: Columns | None = None):  # noqa: B006
    """Fraction of missing values per column, in every split given.

    A column more than 5% empty usually means a broken join or an upstream change, so the
    default limit is 0.05; columns known to be sparse get their own limit in `per_column`.

    Parameters:
    max_fraction: the highest fraction of missing values allowed in any column (default 0.05)
    per_column: column -> its own limit, overriding max_fraction
    columns: the columns to check (default: features and label)
    """
    rows, worst, over = [], 0.0, []
    for data in _splits(ctx):
        cols = _columns(data, columns)
        fractions = data.frame[cols].isna().mean()
        for col, frac in fractions.items():
            limit = per_column.get(col, max_fraction)
            rows.append({"split": data.name, "column": col, "missing_fraction": round(float(frac), 6),
                         "missing": int(round(frac * len(data))), "limit": limit})
            if col not in per_column:
                worst = max(worst, float(frac))
            if frac > limit:
                over.append(f"{col} ({data.name}: {frac:.2%} > {limit:.2%})")
    rows.sort(key=lambda r: -r["missing_fraction"])
    top = [r for r in rows if r["missing_fraction"] > 0][:15]
    evidence = {"columns": rows[:50],
                "charts": [bar_chart("Missing fraction by column", [f"{r['column']} ({r['split']})" for r in top],
                                     [r["missing_fraction"] for r in top], threshold=max_fraction)] if top else []}
    return judge({"max_missing_fraction": worst, "columns_over_limit": float(len(over))},
                 {"max_missing_fraction": ("<=", max_fraction), "columns_over_limit": ("<=", 0.0)},
                 evidence=evidence, detail=("over the limit: " + ", ".join(over[:5])) if over else "")


def _without_identifiers(frames: list[pd.DataFrame], label: str | None, cols: list[str],
                         exclude: bool) -> tuple[list[str], dict[str, str]]:
    """`cols` less the identifier columns among them (when `exclude`), and those left out."""
    if not exclude:
        return cols, {}
    ids = {c: why for c, why in identifier_columns(*frames, label=label).items() if c in cols}
    return [c for c in cols if c not in ids], ids


def _excluded(ids: dict[str, str]) -> str:
    return f"excluded as identifiers: {', '.join(ids)}" if ids else ""


def _record(row: pd.Series) -> dict:
    """A row as plain JSON values (missing as None)."""
    def plain(v):
        if pd.api.types.is_scalar(v) and pd.isna(v):
            return None
        return v.item() if isinstance(v, np.generic) else v
    return {str(k): plain(v) for k, v in row.items()}


def _no_columns(ids: dict[str, str]) -> CheckResult:
    return CheckResult(status="error", message="no columns left to compare rows by after leaving out "
                       f"identifiers ({', '.join(ids)}): name the columns in `subset`, or set "
                       "`exclude_identifiers: false`")


@check("data.duplicates", requires=("test",))
def duplicates(ctx: CheckContext, *, max_fraction: Fraction = 0.01, max_near_fraction: Fraction = 0.01,
               near_digits: Digits = 6, subset: Columns | None = None, exclude_identifiers: bool = True):
    """Fraction of rows that repeat an earlier row of the same split, exactly or nearly.

    Duplicates over-weight some examples in training and inflate test scores; more than
    1% (the default limit) is rarely natural in tabular data (UCI Adult: 0.07% of train,
    0.03% of test). A near duplicate equals an earlier row only after normalising (numbers
    to `near_digits` significant digits; text case-folded, stripped, inner whitespace
    collapsed): the same record re-ingested through another export. Near duplicates that
    are not also exact are judged on their own limit, `max_near_fraction` (default 0.01).
    Identifier columns (keys such as a `customer_id` unique per row) are left out of the
    comparison and listed, unless `exclude_identifiers` is false or `subset` is given.
    Weakest defects caught at the defaults: 2% of Adult's test rows appended again with
    fresh surrogate ids (exact), or with a string upper-cased / padded with spaces (near).

    Parameters:
    max_fraction: the highest fraction of exactly duplicated rows allowed in any split (default 0.01)
    max_near_fraction: the highest fraction of near (not exact) duplicates allowed in any split (default 0.01)
    near_digits: significant digits numbers are rounded to for near matches (default 6)
    subset: compare only these columns (default: all columns but identifiers)
    exclude_identifiers: leave identifier columns out of the comparison (default true)
    """
    data = _splits(ctx)
    empty = [d.name for d in data if not len(d.frame)]
    if empty:
        return CheckResult(status="error", message=f"the {empty[0]} data is empty: no rows to compare")
    frames = [d.frame for d in data]
    every = [c for c in frames[0].columns if all(c in f.columns for f in frames[1:])]
    cols, ids = (list(subset), {}) if subset else _without_identifiers(frames, data[0].label, every,
                                                                      exclude_identifiers)
    if not cols:
        return _no_columns(ids)
    splits, worst, worst_near, examples, near_examples = [], 0.0, 0.0, [], []
    for d in data:
        use = cols if subset else [c for c in d.frame.columns if c not in ids]
        frame = d.frame[use]
        exact = row_hashes(frame)
        dup = exact.duplicated(keep="first").to_numpy()
        near = near_row_hashes(frame, near_digits)
        ndup = near.duplicated(keep="first").to_numpy() & ~dup
        frac, nfrac = float(dup.mean()), float(ndup.mean())
        worst, worst_near = max(worst, frac), max(worst_near, nfrac)
        splits.append({"split": d.name, "rows": len(frame), "duplicates": int(dup.sum()),
                       "fraction": round(frac, 6), "near_duplicates": int(ndup.sum()),
                       "near_fraction": round(nfrac, 6)})
        if dup.any():
            counts = exact[exact.duplicated(keep=False)].value_counts().head(3)
            for h, n in counts.items():
                examples.append({"split": d.name, "copies": int(n),
                                 "row": _record(frame[(exact == h).to_numpy()].iloc[0])})
        if ndup.any():
            for h in pd.unique(near[ndup])[:3]:
                variants = frame[(near == h).to_numpy()].drop_duplicates().head(2)
                near_examples.append({"split": d.name, "rows": [_record(r) for _, r in variants.iterrows()]})
    detail = "; ".join(p for p in (
        f"near (not exact) duplicates: {worst_near:.2%} of rows" if worst_near else "", _excluded(ids)) if p)
    chart = bar_chart("Duplicated rows by split", [f"{s['split']} {k}" for s in splits for k in ("exact", "near")],
                      [s[k] for s in splits for k in ("fraction", "near_fraction")], threshold=max_fraction,
                      y_label="share of rows")
    return judge({"duplicate_fraction": worst, "near_duplicate_fraction": worst_near},
                 {"duplicate_fraction": ("<=", max_fraction), "near_duplicate_fraction": ("<=", max_near_fraction)},
                 detail=detail,
                 evidence={"splits": splits, "columns": cols, "excluded_as_identifiers": ids,
                           "examples": examples, "near_examples": near_examples, "near_digits": near_digits,
                           "charts": [chart]})


@check("data.train_test_overlap", requires=("train", "test"))
def train_test_overlap(ctx: CheckContext, *, max_fraction: Fraction = 0.01, max_near_fraction: Fraction = 0.01,
                       near_digits: Digits = 6, subset: Columns | None = None, exclude_identifiers: bool = True):
    """Fraction of test rows that also appear in the training data, exactly or nearly.

    Test rows seen in training measure memory, not generalisation; above 1% (the default
    limit) the test score is optimistic (UCI Adult's own split shares 0.14% of its test rows
    with train). A near match equals a training row only after normalising (numbers to
    `near_digits` significant digits; text case-folded, stripped, inner whitespace
    collapsed); near matches that are not exact are judged on `max_near_fraction` (default
    0.01). Identifier columns (a surrogate key handed out afresh when rows are re-ingested)
    are left out of the comparison and listed, unless `exclude_identifiers` is false or
    `subset` is given. Weakest defects caught at the defaults: training rows re-ingested as
    2% of Adult's test set with fresh `customer_id`s (exact; 0.5% is within the limit), or
    with a float rounded differently / a category upper-cased or padded (near).

    Parameters:
    max_fraction: the highest fraction of test rows found exactly in train (default 0.01)
    max_near_fraction: the highest fraction of test rows found in train only after normalising (default 0.01)
    near_digits: significant digits numbers are rounded to for near matches (default 6)
    subset: compare only these columns (default: features and label, but identifiers)
    exclude_identifiers: leave identifier columns out of the comparison (default true)
    """
    train, test = ctx.train, ctx.test
    empty = [d.name for d in (train, test) if not len(d.frame)]
    if empty:
        return CheckResult(status="error", message=f"the {empty[0]} data is empty: no rows to compare")
    cols, ids = (list(subset), {}) if subset else _without_identifiers(
        [train.frame, test.frame], test.label, _columns(test, None), exclude_identifiers)
    absent = [c for c in cols if c not in train.frame.columns or c not in test.frame.columns]
    if absent:
        return CheckResult(status="error", message=f"columns missing from train or test: {', '.join(absent)} — "
                           "compare the shared columns with `subset`")
    if not cols:
        return _no_columns(ids)
    train_h = row_hashes(train.frame[cols]).to_numpy()
    test_h = row_hashes(test.frame[cols]).to_numpy()
    shared = np.isin(test_h, train_h)
    train_n = near_row_hashes(train.frame[cols], near_digits).to_numpy()
    test_n = near_row_hashes(test.frame[cols], near_digits).to_numpy()
    near = np.isin(test_n, train_n) & ~shared
    frac, nfrac = float(shared.mean()), float(near.mean())
    sample = [_record(r) for _, r in test.frame.loc[shared, cols].head(3).iterrows()]
    near_sample = []
    for i in np.flatnonzero(near)[:3]:
        j = int(np.flatnonzero(train_n == test_n[i])[0])
        near_sample.append({"test": _record(test.frame[cols].iloc[i]), "train": _record(train.frame[cols].iloc[j])})
    detail = "; ".join(p for p in (
        f"{int(near.sum())} more test rows match train only after normalising ({nfrac:.2%})" if near.any() else "",
        _excluded(ids)) if p)
    chart = bar_chart("Test rows found in train", ["exact", "near (not exact)"], [frac, nfrac],
                      threshold=max_fraction, y_label="share of test rows")
    return judge({"overlap_fraction": frac, "near_overlap_fraction": nfrac},
                 {"overlap_fraction": ("<=", max_fraction), "near_overlap_fraction": ("<=", max_near_fraction)},
                 detail=detail,
                 evidence={"test_rows": len(test_h), "rows_in_train": int(shared.sum()),
                           "near_rows_in_train": int(near.sum()), "columns": cols,
                           "excluded_as_identifiers": ids, "near_digits": near_digits,
                           "examples": sample, "near_examples": near_sample, "charts": [chart]})
