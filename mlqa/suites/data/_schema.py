"""Schema of the test data against the training data or a declared schema."""
from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from ...registry import check
from ...context import CheckContext
from ...results import CheckResult
from ...tables import kind
from .._frames import as_key, finite
from ...judge import judge
from ...params import Fraction


def _profile_from_frame(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    profile = {}
    for col in frame.columns:
        s = frame[col]
        k = kind(s)
        entry: dict[str, Any] = {"kind": k, "dtype": str(s.dtype)}
        if k == "numeric":
            vals = finite(s)
            entry.update(min=float(vals.min()) if len(vals) else None,
                         max=float(vals.max()) if len(vals) else None)
        elif k in ("categorical", "boolean"):
            entry["categories"] = set(as_key(s.dropna()).unique().tolist())
        profile[col] = entry
    return profile


def _profile_from_declared(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    profile = {}
    for col, spec in schema.items():
        spec = spec or {}
        k = spec.get("kind") or spec.get("dtype") or "numeric"
        k = {"int": "numeric", "float": "numeric", "integer": "numeric", "number": "numeric",
             "string": "categorical", "str": "categorical", "category": "categorical",
             "bool": "boolean"}.get(k, k)
        entry: dict[str, Any] = {"kind": k, "min": spec.get("min"), "max": spec.get("max")}
        if "categories" in spec:
            entry["categories"] = {str(c) for c in spec["categories"]}
        profile[col] = entry
    return profile


@check("data.schema", requires=("test",))
def schema(ctx: CheckContext, *, reference: Literal["train", "declared"] = "train",
           declared: dict[str, Any] = {},  # noqa: B006
           max_unseen_fraction: Fraction = 0.01, max_out_of_range_fraction: Fraction = 0.01,
           allow_extra_columns: bool = False) -> CheckResult:
    """Columns, kinds (numeric / categorical / boolean / datetime), categories and ranges
    of the test data against the training data (or a `declared` schema).

    A missing column or a changed kind is always a failure. Unseen categories and values
    outside the reference range are tolerated up to 1% of rows by default: new rare values
    are normal, a new value in 1 row out of 100 is a pipeline change.

    Parameters:
    reference: compare with `train` (default) or with the `declared` schema
    declared: column -> {kind: numeric|categorical|boolean, categories: [...], min, max}
    max_unseen_fraction: highest fraction of test rows with a category the reference lacks
    max_out_of_range_fraction: highest fraction of test rows outside the reference [min, max]
    allow_extra_columns: whether test columns absent from the reference are tolerated
    """
    if reference == "declared":
        if not declared:
            return CheckResult(status="error", message="reference is `declared` but no `declared` schema is given")
        ref = _profile_from_declared(declared)
    else:
        if ctx.train is None:
            return CheckResult(status="error", message="needs `data.train` as the reference "
                               "(or `reference: declared` with a `declared` schema)")
        ref = _profile_from_frame(ctx.train.frame)
    test = ctx.test.frame
    n = max(len(test), 1)
    missing_cols = [c for c in ref if c not in test.columns]
    extra_cols = [c for c in test.columns if c not in ref]
    rows, mismatches, worst_unseen, worst_oor = [], [], 0.0, 0.0
    for col, r in ref.items():
        if col not in test.columns:
            continue
        s = test[col]
        k = kind(s)
        row: dict[str, Any] = {"column": col, "reference_kind": r["kind"], "test_kind": k,
                               "reference_dtype": r.get("dtype"), "test_dtype": str(s.dtype)}
        if k != r["kind"] and not (s.isna().all()):
            mismatches.append(col)
            row["problem"] = f"kind changed: {r['kind']} -> {k}"
        elif r["kind"] in ("categorical", "boolean") and r.get("categories") is not None:
            keys = as_key(s.dropna())
            unseen_mask = ~keys.isin(r["categories"])
            frac = float(unseen_mask.sum()) / n
            worst_unseen = max(worst_unseen, frac)
            if frac > 0:
                row["unseen_fraction"] = round(frac, 6)
                row["unseen_values"] = keys[unseen_mask].value_counts().head(5).to_dict()
        elif r["kind"] == "numeric":
            vals = pd.to_numeric(s, errors="coerce")
            lo, hi = r.get("min"), r.get("max")
            out = pd.Series(False, index=s.index)
            if lo is not None:
                out |= vals < lo
            if hi is not None:
                out |= vals > hi
            frac = float(out.sum()) / n
            worst_oor = max(worst_oor, frac)
            row.update(reference_range=[lo, hi])
            fv = finite(s)
            if len(fv):
                row["test_range"] = [float(fv.min()), float(fv.max())]
            if frac > 0:
                row["out_of_range_fraction"] = round(frac, 6)
        rows.append(row)
    metrics = {"missing_columns": float(len(missing_cols)), "kind_mismatches": float(len(mismatches)),
               "unseen_category_fraction": worst_unseen, "out_of_range_fraction": worst_oor,
               "extra_columns": float(len(extra_cols))}
    limits = {"missing_columns": ("<=", 0.0), "kind_mismatches": ("<=", 0.0),
              "unseen_category_fraction": ("<=", max_unseen_fraction),
              "out_of_range_fraction": ("<=", max_out_of_range_fraction),
              "extra_columns": ("<=", None if allow_extra_columns else 0.0)}
    details = []
    if missing_cols:
        details.append(f"missing columns: {', '.join(missing_cols)}")
    if mismatches:
        details.append(f"kind changed: {', '.join(mismatches)}")
    if extra_cols and not allow_extra_columns:
        details.append(f"extra columns: {', '.join(extra_cols)}")
    return judge(metrics, limits, detail="; ".join(details),
                 evidence={"reference": reference, "missing_columns": missing_cols,
                           "extra_columns": extra_cols,
                           "columns": sorted(rows, key=lambda r: ("problem" not in r, -r.get("unseen_fraction", 0) - r.get("out_of_range_fraction", 0)))})
