"""Missing values, duplicated rows and rows shared by train and test."""
from __future__ import annotations

from ...params import Columns, Fraction
from ...registry import check
from ...context import CheckContext
from ...subjects import Dataset
from .._frames import row_hashes
from ...judge import bar_chart, judge


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


@check("data.duplicates", requires=("test",))
def duplicates(ctx: CheckContext, *, max_fraction: Fraction = 0.01, subset: Columns | None = None):
    """Fraction of rows that repeat an earlier row of the same split.

    Duplicates over-weight some examples in training and inflate test scores; more than
    1% (the default limit) is rarely natural in tabular data.

    Parameters:
    max_fraction: the highest fraction of duplicated rows allowed in any split (default 0.01)
    subset: compare only these columns (default: all columns)
    """
    splits, worst, examples = [], 0.0, []
    for data in _splits(ctx):
        frame = data.frame[subset] if subset else data.frame
        hashes = row_hashes(frame)
        dup = hashes.duplicated(keep="first")
        frac = float(dup.mean()) if len(frame) else 0.0
        worst = max(worst, frac)
        splits.append({"split": data.name, "rows": len(frame), "duplicates": int(dup.sum()),
                       "fraction": round(frac, 6)})
        if dup.any():
            counts = hashes[hashes.duplicated(keep=False)].value_counts().head(3)
            for h, n in counts.items():
                row = frame[hashes == h].iloc[0]
                examples.append({"split": data.name, "copies": int(n),
                                 "row": {k: (None if v != v else v) for k, v in row.items()}})
    return judge({"duplicate_fraction": worst}, {"duplicate_fraction": ("<=", max_fraction)},
                 evidence={"splits": splits, "examples": examples})


@check("data.train_test_overlap", requires=("train", "test"))
def train_test_overlap(ctx: CheckContext, *, max_fraction: Fraction = 0.01,
                       subset: Columns | None = None):
    """Fraction of test rows that also appear, identically, in the training data.

    Test rows seen in training measure memory, not generalisation; above 1% (the default
    limit) the test score is optimistic.

    Parameters:
    max_fraction: the highest fraction of test rows found in train (default 0.01)
    subset: compare only these columns (default: features and label)
    """
    cols = subset or _columns(ctx.test, None)
    train_h = set(row_hashes(ctx.train.frame[cols]).tolist())
    test_h = row_hashes(ctx.test.frame[cols])
    shared = test_h.isin(train_h)
    frac = float(shared.mean()) if len(test_h) else 0.0
    sample = ctx.test.frame.loc[shared.to_numpy(), cols].head(3).to_dict(orient="records")
    return judge({"overlap_fraction": frac}, {"overlap_fraction": ("<=", max_fraction)},
                 evidence={"test_rows": len(test_h), "rows_in_train": int(shared.sum()),
                           "columns": cols, "examples": sample})
