"""Column hygiene: features that never vary (`data.single_value`) and columns that spell
missing in more than one way (`data.mixed_nulls`)."""
from __future__ import annotations

from typing import Any

import pandas as pd

from ...context import CheckContext
from ...judge import bar_chart, judge
from ...params import Columns, Count, Fraction, PositiveInt
from ...registry import check
from ...results import CheckResult
from ...subjects import Dataset
from ...tables import kind

__all__ = ["NULL_SPELLINGS", "mixed_nulls", "single_value"]

#: text that means "missing" (compared case-insensitively, surrounding blanks ignored);
#: blank strings count too. "unknown" / "missing" are left out: often a real category.
NULL_SPELLINGS = frozenset({"", "na", "n/a", "n.a.", "#n/a", "<na>", "nan", "-nan", "null", "none", "nil",
                            "?", "-", "--", "\x00"})
_MISSING = "<missing>"  # NaN, None, pd.NA: every reader of the frame sees them as missing alike


def _splits(ctx: CheckContext) -> list[Dataset]:
    return [d for d in (ctx.train, ctx.test) if d is not None]


def _columns(data: Dataset, columns: list[str] | None) -> list[str]:
    if columns:
        return list(columns)
    return list(data.features) + ([data.label] if data.label else [])


def _input_error(splits: list[Dataset], columns: list[str] | None) -> CheckResult | None:
    """`error` for an empty split or a named column a split lacks, else None."""
    for d in splits:
        if not len(d):
            return CheckResult(status="error", message=f"the {d.name} split has no rows: nothing to examine — "
                               "check the data file")
        absent = [c for c in (columns or []) if c not in d.frame.columns]
        if absent:
            return CheckResult(status="error", message=f"`columns` names {', '.join(map(str, absent))}, absent from "
                               f"the {d.name} split — fix the names or leave `columns` unset")
    return None


def _examined(splits: list[Dataset], columns: list[str] | None) -> list[str] | CheckResult:
    """The columns every split has (of `columns`, or the features and the label), or the
    `error` that says why there is nothing to examine."""
    if (err := _input_error(splits, columns)) is not None:
        return err
    cols = [c for c in _columns(splits[0], columns) if all(c in d.frame.columns for d in splits)]
    if not cols:
        return CheckResult(status="error", message="no columns to examine: declare features in the data, or name "
                           "them in `columns`")
    return cols


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return value if isinstance(value, (bool, int, float, str)) else str(value)


# ------------------------------------------------------------------ single value
@check("data.single_value", requires=("test",))
def single_value(ctx: CheckContext, *, max_columns: Count = 0, columns: Columns | None = None,
                 max_chance: Fraction = 0.001) -> CheckResult:
    """Columns that hold a single value (ignoring missing values) in a split.

    A feature that never varies carries no information; one that varies in training but is
    constant in the test data (or the reverse) usually means a broken pipeline — a join
    that lost its right side, a default filled in, a column overwritten — and the model is
    scored on inputs it never saw. Per split and column, the check counts the distinct
    non-missing values; a column with one (or none: entirely missing) is flagged when it is
    constant in every split given, or when chance cannot explain it: a column constant on
    the n non-missing rows of one split while it varies in another is flagged unless the
    other split's share p of that value makes p^n at least `max_chance` (a small test
    sample of a mostly-zero column is constant by chance). Default: no such column allowed
    (deepchecks' default too). The weakest defect caught: one feature set to one value (or
    one value and missing) in one split — for a value as common as Adult's `Private`
    workclass (74% of train's known values), in a split of 50 rows or more (0.74^50 ~ 3e-7);
    15 such rows are plausibly chance (0.74^15 ~ 1%) and pass. A column that still varies
    in one row is not constant and passes (`data.drift` judges such shifts).

    Parameters:
    max_columns: how many constant columns are allowed (default 0)
    columns: the columns to examine (default: every feature and the label)
    max_chance: a column constant in one split only is flagged when the chance of that sample, given the other split, is below this (default 0.001)
    """
    data = _splits(ctx)
    cols = _examined(data, columns)
    if isinstance(cols, CheckResult):
        return cols
    sizes = {d.name: len(d) for d in data}
    stats: dict[str, dict[str, pd.Series]] = {}  # column -> split -> value counts (non-missing)
    for col in cols:
        counts = {d.name: d.frame[col].value_counts(dropna=True, sort=True) for d in data}
        stats[col] = {name: vc[vc > 0] for name, vc in counts.items()}  # unused categories of a category dtype
    table, flagged = [], []
    for col in cols:
        per = stats[col]
        constant = {name: vc for name, vc in per.items() if len(vc) <= 1}
        if not constant:
            continue
        for name, vc in constant.items():
            value = vc.index[0] if len(vc) else None
            n = int(vc.iloc[0]) if len(vc) else 0
            others = {o: v for o, v in per.items() if o != name and len(v) > 1}
            chance = None
            if others:
                # the chance that n rows drawn like the other split all take this one value
                # (entirely missing: that all its rows are missing, at the other split's missing share)
                chance = min(float((v.get(value, 0) / v.sum()) ** n) if value is not None
                             else float((1 - v.sum() / sizes[o]) ** sizes[name]) for o, v in others.items())
            defect = chance is None or chance < max_chance
            row = {"column": col, "split": name, "value": None if value is None else _plain(value),
                   "rows_with_value": n, "missing": sizes[name] - n,
                   "varies_in": sorted(others), "chance": None if chance is None else float(f"{chance:.3g}"),
                   "flagged": defect}
            table.append(row)
            if defect and col not in flagged:
                flagged.append(col)
    table.sort(key=lambda r: (not r["flagged"], r["column"], r["split"]))

    def why(r: dict) -> str:
        where = f"{r['column']} ({r['split']}: only {r['value']!r}" if r["value"] is not None \
            else f"{r['column']} ({r['split']}: entirely missing"
        return where + (f"; varies in {', '.join(r['varies_in'])})" if r["varies_in"] else ")")
    detail = "; ".join(why(r) for r in table if r["flagged"])[:600]
    if not detail:
        detail = f"{len(cols)} columns examined in {len(data)} split(s)" + (
            f"; constant by chance only: {', '.join(sorted({r['column'] for r in table}))}" if table else "")
    return judge({"single_value_columns": float(len(flagged))}, {"single_value_columns": ("<=", float(max_columns))},
                 detail=detail, evidence={"columns": table[:50], "columns_examined": len(cols)})


# ------------------------------------------------------------------ mixed nulls
def _null_kinds(series: pd.Series, spellings: frozenset[str]) -> dict[str, int]:
    """Spelling -> rows, for every way `series` writes a missing value (NaN, None and
    pd.NA together as `<missing>`; each distinct text spelling on its own)."""
    out: dict[str, int] = {}
    n_missing = int(series.isna().sum())
    if n_missing:
        out[_MISSING] = n_missing
    if kind(series) != "categorical":
        return out
    counts = series.value_counts(dropna=True)
    counts = counts[counts > 0]  # a category dtype lists its unused categories too
    texts = [v for v in counts.index if isinstance(v, str)]
    for value in texts:
        if value.strip().lower() in spellings:
            out[value] = int(counts[value])
    return out


@check("data.mixed_nulls", requires=("test",))
def mixed_nulls(ctx: CheckContext, *, max_kinds: PositiveInt = 1, tokens: list[str] = [],  # noqa: B006
                columns: Columns | None = None, top: PositiveInt = 10) -> CheckResult:
    """Columns that write missing values in more than one way: NaN next to `""`, `"NA"`,
    `"N/A"`, `"null"`, `"None"`, `"nan"`, `"?"`, `"-"`, blanks (compared without case or
    surrounding blanks; each distinct spelling is one kind; NaN, None and pd.NA count as
    one kind, since every reader treats them alike).

    Two spellings of missing usually mean two sources merged without cleaning: code that
    handles one (`fillna`, `na_values`) silently passes the other to the model as a real
    category, and `data.missing` counts only one of them. Kinds are counted per column over
    every split given — train writing NaN where test writes `?` is a mismatch too — and
    each split's counts are listed. Default: one kind allowed (deepchecks' default).
    The weakest defect caught: a single row spelling missing differently (one `N/A` among
    Adult's 1,836 empty `workclass` values). Note that pandas reads `""`, `NA`, `N/A`,
    `null`, `None` and `nan` in a CSV file as missing already, so from CSV only the
    spellings it keeps (`?`, `-`, blanks, `n.a.`) can mix; data passed as frames or
    parquet keeps them all. The raw UCI Adult files write missing as `?` only (one kind,
    passes; `data.special_characters` reports `?`); the example's data reads `?` as
    missing (one kind, passes). Add team-specific spellings (`unknown`, `-999` as text)
    with `tokens`.

    Parameters:
    max_kinds: how many spellings of missing one column may use (default 1)
    tokens: more text to treat as a spelling of missing, besides the built-in list (compared without case)
    columns: the columns to examine (default: every feature and the label)
    top: how many columns the evidence lists (default 10)
    """
    data = _splits(ctx)
    cols = _examined(data, columns)
    if isinstance(cols, CheckResult):
        return cols
    spellings = NULL_SPELLINGS | {t.strip().lower() for t in tokens}
    table = []
    for col in cols:
        per = {d.name: _null_kinds(d.frame[col], spellings) for d in data}
        kinds = sorted({k for v in per.values() for k in v}, key=lambda k: (k != _MISSING, k))
        if not kinds:
            continue
        table.append({"column": col, "kinds": len(kinds), "spellings": [repr(k) if k != _MISSING else k for k in kinds],
                      "rows": {name: {(repr(k) if k != _MISSING else k): n for k, n in v.items()}
                               for name, v in per.items()}})
    table.sort(key=lambda r: (-r["kinds"], r["column"]))
    over = [r for r in table if r["kinds"] > max_kinds]
    worst = max((r["kinds"] for r in table), default=0)
    detail = "; ".join(f"{r['column']}: {', '.join(r['spellings'][:5])}" for r in over[:5])
    if over:
        detail += " — read every spelling as missing (e.g. pandas na_values) or map them to one"
    else:
        detail = f"{len(cols)} columns examined; {len(table)} with missing values"
    charts = [bar_chart("Spellings of missing per column", [r["column"] for r in table[:15]],
                        [r["kinds"] for r in table[:15]], threshold=max_kinds)] if over else []
    return judge({"max_null_kinds": float(worst), "columns_over_limit": float(len(over))},
                 {"max_null_kinds": ("<=", float(max_kinds))}, detail=detail,
                 evidence={"columns": table[:top], "columns_examined": len(cols), "charts": charts,
                           "spellings": sorted(spellings)})
