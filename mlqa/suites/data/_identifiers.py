"""Identifier columns: keys, not features.

A column whose values are (nearly) all distinct within each split identifies a row rather
than describing it, when something else says "key" too: a key-like name (`id`,
`customer_id`, `CustomerID`, `uuid`, `order_no`, `Unnamed: 0`), UUID or hex-token values,
short unique codes (`C-10023`), or an integer sequence (increasing in row order, or dense
over its range). A float measurement that happens to be unique (a continuous sensor value;
UCI Adult's `fnlwgt`, 58% distinct) is not a key unless its name says so, nor is free text
with spaces. Duplicates, train/test overlap and drift leave identifiers out by default;
`data.identifiers` judges the ones the model uses as features.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from ...context import CheckContext
from ...judge import bar_chart, judge
from ...params import Columns, Count, Fraction, Range
from ...registry import check
from ...results import CheckResult

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: key-like names, case-insensitive: `id`, `*_id`, `id_*`, `uuid`, `guid`, `uid`, `pk`, `*_key`,
#: `row_number`, `order_no`, `account_nr`, `Unnamed: 0` (a pandas index written to CSV), ...
KEY_NAME = re.compile(
    r"(^|[_\-\s.])(id|ids|uuid|guid|uid|pk|key|identifier)$"
    r"|^(id|uuid|guid|uid)([_\-\s.]|$)"
    r"|^(index|idx|level_0|rowid|rownum|sn|#)$"
    r"|(row|record|account|order|invoice|transaction|customer|client|user|serial|case|ticket|member"
    r"|patient|policy|loan|application|session|device|employee)[_\-\s.]?(no|num|number|nr|code)$"
    r"|^unnamed:?\s*\d+$", re.I)
#: camelCase and PascalCase keys (case-sensitive, so `paid` or `valid` are not keys)
KEY_CAMEL = re.compile(r"[a-z0-9](Id|ID|Ids|IDs|Uuid|UUID|Guid|GUID|Key|No|Nr|Number)$")
UUID_VALUE = re.compile(r"^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$", re.I)
HEX_VALUE = re.compile(r"^(0x)?[0-9a-f]{8,}$", re.I)
#: a split's rows are identified when at least this share of its non-missing values is distinct
MIN_UNIQUE = 0.99
#: a key-like name needs fewer distinct values (a copied row repeats its id)
NAMED_MIN_UNIQUE = 0.9
#: fewer non-missing values than this in every split: too few to tell a key from chance
MIN_ROWS = 20
#: a key is filled in: a column missing in more than half the rows of a split is not one
MIN_FILLED = 0.5
#: share of sampled text values that must fit a pattern (UUID, hex, code)
PATTERN_SHARE = 0.95
#: integers covering at least this share of their range (max - min + 1) are a sequence
MIN_DENSITY = 0.5
#: an unnamed integer column is a sequence only over at least this many values in a split
#: (on a few dozen rows a measurement such as age is often unique and dense by chance)
MIN_SEQUENCE = 100
_SAMPLE = 2000


@dataclass(frozen=True)
class Identifier:
    """One key column: why it is one, the lowest share of distinct values in any split,
    and whether it just numbers each file's rows from 0 or 1 (then train and test sharing
    values is no leak)."""

    column: str
    reason: str
    distinct_share: float
    row_number: bool = False


def key_like_name(name: object) -> bool:
    """Whether a column's name says it is a key (`id`, `customer_id`, `CustomerID`, ...)."""
    text = str(name).strip()
    return bool(KEY_NAME.search(text) or KEY_CAMEL.search(text))


def _integral(values: "pd.Series") -> bool:
    import numpy as np
    import pandas as pd
    if pd.api.types.is_integer_dtype(values.dtype):
        return True
    if not pd.api.types.is_float_dtype(values.dtype):
        return False
    arr = values.to_numpy(dtype=float)
    return bool(np.isfinite(arr).all() and (arr == np.round(arr)).all())


def _sequence(parts: list["pd.Series"]) -> str | None:
    """Why integer values are a sequence, or None: increasing (or decreasing) in row order
    in a split, or dense over their range across all splits."""
    import numpy as np
    import pandas as pd
    if max(len(p) for p in parts) < MIN_SEQUENCE:
        return None
    for p in parts:
        if len(p) >= MIN_SEQUENCE and (p.is_monotonic_increasing or p.is_monotonic_decreasing):
            return "integer sequence in row order"
    allv = pd.concat(parts, ignore_index=True).to_numpy(dtype=float)
    span = float(np.max(allv) - np.min(allv) + 1)
    if span > 0 and len(np.unique(allv)) / span >= MIN_DENSITY:
        return "consecutive integers"
    return None


def _row_number(parts: list["pd.Series"], full: list[int]) -> bool:
    """Each split numbered 0..n-1 or 1..n (in any order): a per-file row number."""
    for p, n in zip(parts, full):
        if len(p) != n or not n:
            return False
        lo, hi = int(p.min()), int(p.max())
        if lo not in (0, 1) or hi - lo + 1 != n or p.nunique() != n:
            return False
    return True


def _text_pattern(parts: list["pd.Series"]) -> str | None:
    import pandas as pd
    sample = pd.concat([p.head(_SAMPLE) for p in parts], ignore_index=True).astype(str)
    if not len(sample):
        return None
    if sample.str.fullmatch(UUID_VALUE).mean() >= PATTERN_SHARE:
        return "UUID values"
    if sample.str.fullmatch(HEX_VALUE).mean() >= PATTERN_SHARE:
        return "hex tokens"
    codes = ~sample.str.contains(r"\s", regex=True) & (sample.str.len() <= 64)
    if codes.mean() >= PATTERN_SHARE:
        return "unique codes"
    return None


def _judge_column(col: object, series: list["pd.Series"], min_unique: float) -> Identifier | None:
    import pandas as pd
    from ...tables import kind
    if any(kind(s) in ("boolean", "datetime") for s in series):
        return None
    parts, full = [], []
    for s in series:
        values = s.dropna()
        if len(s) and len(values) / len(s) < MIN_FILLED:
            return None
        if len(values) >= MIN_ROWS:
            parts.append(values)
            full.append(len(s))
    if not parts:
        return None
    share = min(p.nunique() / len(p) for p in parts)
    named = key_like_name(col)
    if share < (min(min_unique, NAMED_MIN_UNIQUE) if named else min_unique):
        return None
    numeric = all(pd.api.types.is_numeric_dtype(p.dtype) for p in parts)
    integral = numeric and all(_integral(p) for p in parts)
    if named:
        why = "key-like name"
    elif integral:
        why = _sequence(parts)
    elif numeric:
        why = None  # a unique float is a measurement unless its name says key
    else:
        why = _text_pattern(parts)
    if why is None:
        return None
    row_number = integral and _row_number(parts, full)
    if row_number:
        why += ", numbering each file's rows"
    return Identifier(column=str(col), reason=f"{why}; {share:.1%} distinct per row",
                      distinct_share=round(float(share), 6), row_number=row_number)


def find_identifiers(*frames: "pd.DataFrame", label: str | None = None,
                     min_unique: float = MIN_UNIQUE) -> list[Identifier]:
    """The key columns shared by all `frames` (the label never is one), in column order."""
    frames = tuple(f for f in frames if f is not None)
    if not frames:
        return []
    cols = [c for c in frames[0].columns if c != label and all(c in f.columns for f in frames[1:])]
    found = []
    for col in cols:
        hit = _judge_column(col, [f[col] for f in frames if len(f)], min_unique)
        if hit is not None:
            found.append(hit)
    return found


def identifier_columns(*frames: "pd.DataFrame", label: str | None = None,
                       min_unique: float = MIN_UNIQUE) -> dict[str, str]:
    """column -> why it is an identifier, over the columns every frame shares (not `label`).

    A column is a key when, in every split with enough values, at least `min_unique` (99%)
    of its non-missing values are distinct (90% for a key-like name), it is filled in at
    least half the rows, and something says key: its name, UUID / hex / code values, or
    integers in sequence. Unique floats, free text, booleans and dates are not keys unless
    named as one."""
    return {i.column: i.reason for i in find_identifiers(*frames, label=label, min_unique=min_unique)}


# ------------------------------------------------------------------ the check: data.identifiers
def _ordinal(values: "pd.Series") -> "pd.Series":
    """Numbers as floats; text as its rank in sorted order (an id's order can carry the label)."""
    import numpy as np
    import pandas as pd
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype("float64")
    codes, _ = pd.factorize(values.astype("string"), sort=True)
    return pd.Series(np.where(codes >= 0, codes, np.nan), index=values.index, dtype="float64")


def _label_power(frame: "pd.DataFrame", col: str, label: str, classes: list | None, bins: int,
                 seed: int) -> float:
    """How well the identifier alone predicts the label inside one split: its values in
    `bins` quantile buckets, the label's mean per bucket learnt on a seeded half and scored
    on the other (ROC AUC, one-vs-rest mean, for classes; R^2 for a numeric target)."""
    import numpy as np
    from .._metrics import weighted_auc
    from ._leakage import _encode, _target_score
    rows = frame[frame[label].notna()]
    mask = np.random.default_rng(seed).random(len(rows)) < 0.5
    fit, ev = rows[mask], rows[~mask]
    if len(fit) < MIN_ROWS or len(ev) < MIN_ROWS:
        return float("nan")
    fid, eid = _encode(_ordinal(fit[col]), _ordinal(ev[col]), bins)
    yf, ye = fit[label].to_numpy(), ev[label].to_numpy()
    if classes is None:
        pred = _target_score(fid, yf.astype(float), eid)
        sst = float(((ye - ye.mean()) ** 2).sum())
        return 1 - float(((ye - pred) ** 2).sum()) / sst if sst > 0 else float("nan")
    ones, aucs = np.ones((1, len(ye))), []
    for c in classes:
        pos = ye == c
        if pos.all() or not pos.any():
            continue
        aucs.append(float(weighted_auc(_target_score(fid, (yf == c).astype(float), eid), pos, ones)[0]))
    return float(np.mean(aucs)) if aucs else float("nan")


def _key_overlap(train: "pd.Series", test: "pd.Series") -> float:
    """Share of the test split's key values that also occur in train."""
    import numpy as np
    import pandas as pd
    a, b = train.dropna(), test.dropna()
    if not len(b):
        return float("nan")
    if all(pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype) for s in (a, b)):
        return float(np.isin(b.to_numpy(dtype=float), a.to_numpy(dtype=float)).mean())
    return float(b.astype(str).isin(set(a.astype(str))).mean())


def _error(message: str) -> CheckResult:
    return CheckResult(status="error", message=message)


@check("data.identifiers", requires=("test",))
def identifiers(ctx: CheckContext, *, max_identifier_features: Count = 0, max_label_auc: Fraction = 0.6,
                max_label_r2: Annotated[float, Range(None, 1.0)] = 0.1, max_key_overlap: Fraction = 0.0,
                min_unique: Fraction = MIN_UNIQUE, columns: Columns | None = None,
                bins: Annotated[int, Range(2)] = 20) -> CheckResult:
    """Identifier columns (keys): used as features, predictive of the label, or shared by
    train and test.

    Keys are found as `mlqa.suites.data.identifier_columns` finds them (nearly every value
    distinct within each split, and a key-like name, UUID / hex / code values or an integer
    sequence) or named in `columns`. Three things are judged:

    - a key the model sees (it is in `data.features`, which default to every column but the
      label): it lets the model memorise rows instead of learning, so none is allowed;
    - its predictive power of the label within each split (deepchecks' "Identifier Label
      Correlation"): its values in quantile buckets, label means learnt on a seeded half,
      ROC AUC on the other half (R^2 for regression). Ids handed out after sorting by the
      label, or by a time that drives the label, score high; a random key scores 0.5.
      The highest AUC over the splits is judged, default limit 0.6. Weakest defect caught:
      Adult's rows numbered in label order, then 80% of them moved to random places (AUC
      0.69; with 90% moved, 0.60, it sits at the limit); random ids stay below 0.53;
    - the share of test key values also present in train (deepchecks' "Index Train Test
      Leakage"): the same entity on both sides. Default limit 0: one shared key is one test
      row the model may have seen. Not judged for a per-file row number (each split numbered
      from 0 or 1), where shared values are no leak.

    Without any identifier the check passes and says so. No label, or an empty split, is
    an `error`.

    Parameters:
    max_identifier_features: how many identifier columns may be model features (default 0)
    max_label_auc: highest ROC AUC of one identifier alone against the label, classification (default 0.6)
    max_label_r2: highest R^2 of one identifier alone against the label, regression (default 0.1)
    max_key_overlap: highest share of test key values also found in train (default 0)
    min_unique: share of distinct values per split that makes a column a key (default 0.99)
    columns: the identifier columns (default: detected)
    bins: quantile buckets for an identifier's values when measuring its label power (default 20)
    """
    import pandas as pd
    data = [d for d in (ctx.train, ctx.test) if d is not None]
    label = data[0].label
    if label is None:
        return _error("needs a label to measure an identifier's power: set `data.label` in mlqa.yaml "
                      "(or drop data.identifiers from `checks`)")
    empty = [d.name for d in data if len(d.frame) == 0]
    if empty:
        return _error(f"the {empty[0]} data is empty: nothing to look for identifiers in")
    if columns:
        missing = [c for c in columns if any(c not in d.frame.columns for d in data)]
        if missing:
            return _error(f"`columns` names columns not in the data: {', '.join(map(str, missing))}")
        found = []
        for c in columns:
            parts = [d.frame[c].dropna() for d in data]
            share = min((p.nunique() / len(p) for p in parts if len(p)), default=0.0)
            found.append(Identifier(column=str(c), reason=f"declared in `columns`; {share:.1%} distinct per row",
                                    distinct_share=round(float(share), 6)))
    else:
        found = find_identifiers(*(d.frame for d in data), label=label, min_unique=min_unique)
    regression = ctx.task == "regression"
    key = "label_r2" if regression else "label_auc"
    y_all = pd.concat([d.frame[label] for d in data], ignore_index=True).dropna()
    classes = None if regression else (
        [ctx.positive_label] if ctx.is_binary else sorted(pd.unique(y_all).tolist(), key=str))
    both = ctx.train is not None and ctx.test is not None
    table = []
    for ident in found:
        col = ident.column
        power = [_label_power(d.frame, col, label, classes, bins, ctx.seed + i) for i, d in enumerate(data)]
        power = [p for p in power if not math.isnan(p)]
        overlap = None if not both or ident.row_number else _key_overlap(ctx.train.frame[col], ctx.test.frame[col])
        table.append({"column": col, "reason": ident.reason, "distinct_share": ident.distinct_share,
                      "feature": any(col in d.features for d in data),
                      key: round(max(power), 6) if power else None,
                      "key_overlap": None if overlap is None else round(overlap, 6)})
    feats = [r for r in table if r["feature"]]
    metrics: dict[str, float] = {"identifiers": float(len(table)), "identifier_features": float(len(feats))}
    limits: dict = {"identifier_features": ("<=", float(max_identifier_features))}
    metric = "max_label_r2" if regression else "max_label_auc"
    if table:
        # an identifier whose power could not be measured leaves the metric unknown: `error`
        powers = [r[key] for r in table]
        metrics[metric] = float("nan") if None in powers else max(powers)
        limits[metric] = ("<=", max_label_r2 if regression else max_label_auc)
    overlaps = [r for r in table if r["key_overlap"] is not None]
    if overlaps:
        metrics["max_key_overlap"] = max(r["key_overlap"] for r in overlaps)
        limits["max_key_overlap"] = ("<=", max_key_overlap)
    parts = []
    if feats:
        parts.append(f"used as features: {', '.join(r['column'] for r in feats)} — list the model's "
                     "`data.features` in mlqa.yaml without them, or drop them from the data (a key lets "
                     "the model memorise rows)")
    parts += [f"{r['column']}: {key.replace('_', ' ')} {r[key]:.3f}" for r in table
              if r[key] is not None and r[key] > (max_label_r2 if regression else max_label_auc)]
    parts += [f"{r['column']}: {r['key_overlap']:.1%} of test keys also in train" for r in overlaps
              if r["key_overlap"] > max_key_overlap]
    if not parts:
        parts = [f"identifiers: {', '.join(r['column'] for r in table)}" if table else "no identifier columns"]
    chart = bar_chart(f"Identifier alone against the label ({'R^2' if regression else 'ROC AUC'})",
                      [r["column"] for r in table[:15]], [r[key] for r in table[:15]],
                      threshold=max_label_r2 if regression else max_label_auc)
    return judge(metrics, limits, detail="; ".join(parts),
                 evidence={"identifiers": table, "charts": [chart] if table else []})
