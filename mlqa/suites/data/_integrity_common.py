"""What the data-integrity checks share: the splits, the identifier columns they leave
out, and which columns hold text."""
from __future__ import annotations

import math

import pandas as pd

from ...context import CheckContext
from ...results import CheckResult
from ...subjects import Dataset
from ...tables import kind
from ._identifiers import identifier_columns


def splits(ctx: CheckContext) -> list[Dataset]:
    """The splits given, train first."""
    return [d for d in (ctx.train, ctx.test) if d is not None]


def identifiers(ctx: CheckContext) -> dict[str, str]:
    """Key columns (column -> why) over every split given; the label is never one."""
    data = splits(ctx)
    label = data[0].label if data else None
    return identifier_columns(*(d.frame for d in data), label=label)


def all_columns(data: Dataset) -> list[str]:
    return list(data.features) + ([data.label] if data.label else [])


def shared_columns(ctx: CheckContext, columns: list[str] | None, ids: dict[str, str], *,
                   label: bool = True) -> list[str]:
    """`columns`, or every feature (and the label) present in all splits, less identifiers."""
    data = splits(ctx)
    if columns:
        return list(columns)
    cols = list(data[0].features) + ([data[0].label] if label and data[0].label else [])
    return [c for c in cols if c not in ids and all(c in d.frame.columns for d in data[1:])]


def is_text(series: pd.Series) -> bool:
    """A column of strings (object, string or category dtype), not numbers, booleans or dates."""
    return kind(series) == "categorical"


def text_columns(ctx: CheckContext, cols: list[str]) -> list[str]:
    """The columns of `cols` that hold text in at least one split."""
    return [c for c in cols if any(is_text(d.frame[c]) for d in splits(ctx) if c in d.frame.columns)]


def not_text_error(ctx: CheckContext, named: list[str]) -> CheckResult | None:
    """`error` when the user named columns to examine that hold no text, else None."""
    bad = [c for c in named if c not in text_columns(ctx, [c])]
    if not bad:
        return None
    return CheckResult(status="error", message=f"`columns` names columns that hold no text: "
                       f"{', '.join(map(str, bad))}; this check examines text columns only — remove them "
                       "from `columns` (or leave `columns` unset to examine every text column)")


def cell(value):
    """A JSON-ready cell: numpy scalars as Python numbers, dates as ISO text, missing (NaN,
    NaT, NA, None) as None."""
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    value = value.item() if hasattr(value, "item") else value
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else value


def empty_error(ctx: CheckContext) -> CheckResult | None:
    """`error` when a split given has no rows (a check never passes on data it did not see)."""
    empty = [d.name for d in splits(ctx) if len(d) == 0]
    if not empty:
        return None
    return CheckResult(status="error", message=f"the {' and '.join(empty)} data has no rows: nothing to "
                       "check; point `data.train` / `data.test` at the files that hold the rows")


def excluded_note(ids: dict[str, str]) -> dict:
    return {"excluded_as_identifiers": {k: v for k, v in ids.items()}} if ids else {}
