"""Text-column integrity: one category spelt several ways, numbers mixed with text, and
values made of special characters."""
from __future__ import annotations

import functools
import re
import unicodedata
from numbers import Number

import numpy as np
import pandas as pd

from ...context import CheckContext
from ...judge import bar_chart, judge
from ...params import Columns, Count, Fraction, PositiveInt
from ...registry import check
from ...results import CheckResult
from ._integrity_common import (
    empty_error,
    excluded_note,
    identifiers,
    not_text_error,
    shared_columns,
    splits,
    text_columns,
)

#: a number written as text: 12, -3.5, .5, 1e-3, +7 (surrounding spaces allowed)
NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


@functools.lru_cache(maxsize=1)
def _separators() -> dict[int, None]:
    """str.translate table deleting whitespace and Unicode punctuation (categories P*);
    symbols (S*: `<`, `>`, `=`, `+`, `$`) are kept, they carry meaning (`<=50K` vs `>50K`).
    The Basic Multilingual Plane only: punctuation beyond it is too rare to pay for."""
    return {i: None for i in range(0x10000)
            if chr(i).isspace() or unicodedata.category(chr(i)).startswith("P")}


def base_form(value: str) -> str:
    """The form variants of one category share: NFKC, case-folded, without whitespace or
    punctuation (`Male`, ` male `, `MALE`, `M-ale` -> `male`); a leading minus of a number
    is kept. Empty for a value with no letter, digit or symbol."""
    text = unicodedata.normalize("NFKC", value).casefold().strip()
    sign = "-" if len(text) > 1 and text[0] == "-" and text[1].isdigit() else ""
    return sign + text.translate(_separators())


def _counts(ctx: CheckContext, col: str) -> pd.DataFrame:
    """Value (as text) x split -> count, over the splits holding `col` (missing left out)."""
    parts = {}
    for d in splits(ctx):
        if col in d.frame.columns:
            s = d.frame[col].dropna()
            parts[d.name] = s.map(str).value_counts() if s.dtype == object else s.astype(str).value_counts()
    return pd.DataFrame(parts).fillna(0).astype(int)


def _nothing(metric: str, note: str) -> CheckResult:
    return judge({metric: 0.0}, {metric: ("<=", 0.0)}, detail=note, evidence={"columns": []})


def _text_to_examine(ctx: CheckContext, columns: list[str] | None, metric: str,
                     note: str) -> tuple[list[str], dict[str, str]] | CheckResult:
    """The text columns a string check examines (of `columns`, or every text feature and the
    label) and the identifiers left out, or its result when there is none or the input is wrong."""
    if (err := empty_error(ctx)) is not None:
        return err
    ids = {} if columns else identifiers(ctx)
    if columns and (err := not_text_error(ctx, list(columns))) is not None:
        return err
    cols = text_columns(ctx, shared_columns(ctx, columns, ids))
    return (cols, ids) if cols else _nothing(metric, note)


# ------------------------------------------------------------------ string mismatch
@check("data.string_mismatch", requires=("test",))
def string_mismatch(ctx: CheckContext, *, max_variants: Count = 0, columns: Columns | None = None,
                    top: PositiveInt = 20) -> CheckResult:
    """One category written several ways in a text column (`Male`, `male `, `MALE`, `M-ale`).

    Values are reduced to a base form (Unicode NFKC, case-folded, whitespace and
    punctuation removed; symbols such as `<`, `>`, `=`, `+`, `$` kept, so `<=50K` and
    `>50K` stay apart) over train and test together, so a spelling used only in test is
    caught too (deepchecks' String Mismatch and String Mismatch Comparison in one). Each
    base form with more than one spelling is a finding: the model sees two categories
    where there is one. Default limit 0 findings (as deepchecks): a single row spelt
    differently is caught — the weakest defect caught is one `male ` among 21,790 `Male`.
    Values with no letter or digit are left to data.special_characters. Identifier columns
    are left out; with no text columns there is nothing to compare and the check passes,
    saying so.

    Parameters:
    max_variants: the highest number of base forms with more than one spelling allowed, over all columns (default 0)
    columns: the text columns to examine (default: every text feature and the label)
    top: how many spellings the evidence lists (default 20)
    """
    found = _text_to_examine(ctx, columns, "variant_groups", "no text columns: nothing to compare")
    if isinstance(found, CheckResult):
        return found
    cols, ids = found
    names = [d.name for d in splits(ctx)]
    rows, per_col, worst_rows = [], {}, 0.0
    for col in cols:
        counts = _counts(ctx, col)
        base = pd.Series([base_form(v) for v in counts.index], index=counts.index)
        base = base[base != ""]
        spellings = base.groupby(base.to_numpy()).size()
        multi = spellings.index[spellings.to_numpy() > 1]
        if not len(multi):
            continue
        per_col[col] = len(multi)
        total = counts.to_numpy().sum()
        off = 0
        for b in multi:
            variants = counts.loc[base.index[base.to_numpy() == b]]
            order = variants.sum(axis=1).sort_values(ascending=False, kind="stable")
            off += int(order.iloc[1:].sum())
            # the group is named by its most common spelling, a value of the data, never by the
            # base form: a derived form (`amylowe`) would slip past the redaction of a personal column
            for v in order.index:
                rows.append({"column": col, "category": order.index[0], "variant": v, "rows": int(order[v]),
                             **{n: int(variants.loc[v, n]) if n in variants.columns else 0 for n in names}})
        worst_rows = max(worst_rows, off / total if total else 0.0)
    n_groups = sum(per_col.values())
    metrics = {"variant_groups": float(n_groups), "columns_with_variants": float(len(per_col)),
               "variant_rows_fraction": worst_rows}
    named = "; ".join(f"{r['column']}: " + " / ".join(repr(x["variant"]) for x in rows
                                                       if x["column"] == r["column"] and x["category"] == r["category"])
                      for r in {(x["column"], x["category"]): x for x in rows}.values())
    charts = [bar_chart("Base forms with several spellings, per column", list(per_col), list(per_col.values()),
                        threshold=float(max_variants))] if per_col else []
    return judge(metrics, {"variant_groups": ("<=", float(max_variants))},
                 detail=(named[:300] if named else f"{len(cols)} text columns, one spelling per category"),
                 evidence={"variants": rows[:top], "columns_examined": cols, **excluded_note(ids), "charts": charts})


# ------------------------------------------------------------------ mixed types
def _is_number(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (Number, np.number)):
        return True
    return isinstance(value, str) and NUMBER.fullmatch(value) is not None


@check("data.mixed_types", requires=("test",))
def mixed_types(ctx: CheckContext, *, max_fraction: Fraction = 0.0, by_design_above: Fraction = 0.1,
                columns: Columns | None = None) -> CheckResult:
    """A column holding both numbers and text (`"12"` among words, or `"unknown"` among ages).

    A text value in a numeric column turns the whole column into text (the model then sees
    ages as categories, or the pipeline fails on them); a number among categories is a
    data-entry slip. For each text column (a numeric dtype cannot mix), over train and test
    together, values are typed number (`12`, `-3.5`, `1e-3`) or text; the metric is the
    share of the rarer type. Default limit 0: any value of the rarer type is a finding
    (deepchecks ignores under 1%; here a single `"unknown"` among 32,561 ages, or one `"12"`
    among occupations, is caught — the weakest defect caught). A rarer type above
    `by_design_above` (default 0.1, deepchecks' bound) is taken as a column that holds both
    kinds on purpose (codes such as `A12` / `113`): reported, not judged. Identifier
    columns are left out; with no text columns there is nothing to mix and the check
    passes, saying so.

    Parameters:
    max_fraction: the highest share of the rarer type (numbers or text) allowed in a column (default 0)
    by_design_above: a rarer type above this share is taken as mixed on purpose: reported, not judged (default 0.1)
    columns: the columns to examine (default: every text feature and the label)
    """
    found = _text_to_examine(ctx, columns, "minority_fraction", "no text columns: a numeric column cannot mix types")
    if isinstance(found, CheckResult):
        return found
    text, ids = found
    table, worst = [], 0.0
    for col in text:
        values = pd.concat([d.frame[col].dropna() for d in splits(ctx) if col in d.frame.columns])
        counts = values.value_counts() if values.dtype == object else values.astype(str).value_counts()
        is_num = np.array([_is_number(v) for v in counts.index], dtype=bool)
        nums, strs = int(counts.to_numpy()[is_num].sum()), int(counts.to_numpy()[~is_num].sum())
        if not nums or not strs:
            continue
        total = nums + strs
        minority = "numbers" if nums <= strs else "text"
        frac = min(nums, strs) / total
        judged = frac <= by_design_above
        if judged:
            worst = max(worst, frac)
        table.append({"column": col, "numbers": nums, "text": strs, "minority": minority,
                      "minority_fraction": round(frac, 6), "judged": judged,
                      "number_examples": [str(v) for v in counts.index[is_num][:3]],
                      "text_examples": [str(v) for v in counts.index[~is_num][:3]]})
    table.sort(key=lambda r: -r["minority_fraction"])
    flagged = [r for r in table if r["judged"] and r["minority_fraction"] > max_fraction]
    detail = "; ".join(f"{r['column']}: {min(r['numbers'], r['text'])} {r['minority']} values of "
                       f"{r['numbers'] + r['text']} ({r['minority_fraction']:.3%}; e.g. "
                       f"{', '.join(map(repr, r['number_examples' if r['minority'] == 'numbers' else 'text_examples']))})"
                       for r in flagged[:5])
    by_design = [r["column"] for r in table if not r["judged"]]
    if by_design:
        detail += ("; " if detail else "") + f"mixed by design (not judged): {', '.join(by_design)}"
    charts = [bar_chart("Share of the rarer type (numbers or text) per column", [r["column"] for r in table],
                        [r["minority_fraction"] for r in table], threshold=max_fraction)] if table else []
    return judge({"minority_fraction": worst, "mixed_columns": float(len(flagged))},
                 {"minority_fraction": ("<=", max_fraction)},
                 detail=detail or f"{len(text)} text columns, none mixes numbers with text",
                 evidence={"columns": table, "columns_examined": text, **excluded_note(ids), "charts": charts})


# ------------------------------------------------------------------ special characters
def _special(value: str) -> bool:
    """Made of special characters only (`?`, `-`, `***`, blank), or mostly: letters and
    digits are fewer than a third of its visible characters (`#@!x`, `**1**`)."""
    visible = [c for c in value if not c.isspace()]
    alnum = sum(c.isalnum() for c in visible)
    return alnum == 0 or 3 * alnum < len(visible)


@check("data.special_characters", requires=("test",))
def special_characters(ctx: CheckContext, *, max_fraction: Fraction = 0.001, columns: Columns | None = None,
                       top: PositiveInt = 5) -> CheckResult:
    """Text values made of special characters (`?`, `-`, `#`, `***`, blanks) or mostly so.

    Mostly so: letters and digits are under a third of the visible characters (`#@!x`).

    They are almost always missing-value markers or corrupt entries the model takes for
    a real category; `data.missing` cannot see them. Per split and text column, the metric
    is the share of rows holding one. Default limit 0.001 (0.1% of rows, deepchecks'
    default): the weakest defect caught is 33 `?` in one column of Adult's 32,561 training
    rows (0.101%); 32 pass. The raw UCI Adult files write missing values as `?`
    (5.6% of workclass): this check fails them, by design — read `?` as missing
    (`na_values="?"`) and data.missing judges it; the example's data is stored that way
    and passes. Identifier columns are left out; with no text columns there is nothing to
    examine and the check passes, saying so.

    Parameters:
    max_fraction: the highest share of a split's rows allowed to hold special-character values in any column (default 0.001)
    columns: the text columns to examine (default: every text feature and the label)
    top: how many of the most common such values the evidence lists per column (default 5)
    """
    found = _text_to_examine(ctx, columns, "special_fraction", "no text columns: nothing to examine")
    if isinstance(found, CheckResult):
        return found
    cols, ids = found
    table, worst = [], 0.0
    for col in cols:
        counts = _counts(ctx, col)
        special = np.array([_special(v) for v in counts.index], dtype=bool)
        if not special.any():
            continue
        sub = counts[special]
        for d in splits(ctx):
            if d.name not in sub.columns or not len(d):
                continue
            n = int(sub[d.name].sum())
            if not n:
                continue
            frac = n / len(d)
            worst = max(worst, frac)
            common = sub[d.name].sort_values(ascending=False, kind="stable").head(top)
            table.append({"column": col, "split": d.name, "rows": n, "fraction": round(frac, 6),
                          "values": {repr(k): int(v) for k, v in common.items() if v}})
    table.sort(key=lambda r: -r["fraction"])
    over = [r for r in table if r["fraction"] > max_fraction]
    detail = "; ".join(f"{r['column']} ({r['split']}): {r['fraction']:.2%} like {', '.join(list(r['values'])[:3])}"
                       for r in over[:5])
    if over:
        detail += " — if these mark missing values, read them as missing (e.g. pandas na_values) so data.missing judges them"
    charts = [bar_chart("Share of rows with special-character values", [f"{r['column']} ({r['split']})" for r in table[:15]],
                        [r["fraction"] for r in table[:15]], threshold=max_fraction)] if table else []
    return judge({"special_fraction": worst, "columns_over_limit": float(len({r["column"] for r in over}))},
                 {"special_fraction": ("<=", max_fraction)},
                 detail=detail or f"{len(cols)} text columns examined",
                 evidence={"columns": table, "columns_examined": cols, **excluded_note(ids), "charts": charts})
