"""Data integrity (what deepchecks' data-integrity suite checks by default): conflicting
labels here; string mismatches, mixed types and special characters in
`_integrity_strings`; outlier rows in `_integrity_outliers`. All five are importable
from this module (the package registers them from here)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...context import CheckContext
from ...judge import bar_chart, judge
from ...params import Columns, Count, Fraction, PositiveInt
from ...registry import check
from ...results import CheckResult
from .._frames import row_hashes
from ._integrity_common import cell, empty_error, excluded_note, identifiers, splits
from ._integrity_outliers import outliers
from ._integrity_strings import mixed_types, special_characters, string_mismatch

__all__ = ["conflicting_labels", "mixed_types", "outliers", "special_characters", "string_mismatch"]


@check("data.conflicting_labels", requires=("test",))
def conflicting_labels(ctx: CheckContext, *, max_fraction: Fraction = 0.001, columns: Columns | None = None,
                       top: PositiveInt = 10, max_groups: Count | None = None) -> CheckResult:
    """Rows whose features are identical but whose labels differ, in each split.

    The same input with two answers is a labelling error (or features too coarse to tell
    the cases apart); the model learns noise there and the test scores it at random. Rows
    are grouped by their feature values (identifier columns, found by
    `mlqa.suites.data.identifier_columns`, are left out: a key makes every row unique);
    the metric is the share of rows (label set) that sit in a group with more than one
    label, judged per split. Rows without a label are left out (`data.missing` sees them).

    Default limit 0.001 (0.1% of rows). deepchecks' default is 0; the untouched UCI Adult
    census has genuine twins — 2 of 32,561 training rows (0.006%) and 2 of 16,281 test
    rows (0.012%) share all 14 features with different incomes — which a limit of 0 would
    block. The weakest defect caught at the default: 16 of Adult's 32,561 training rows
    copied with the opposite label (0.05%: with the census's own pair, 34 rows — 0.104% —
    sit in conflicting groups); 15 copies (0.098%) pass. On data with only a few coarse
    features conflicts are natural (Adult without `fnlwgt`: 6.5%): raise `max_fraction`.
    Classification only (a regression target differs between identical rows by noise).

    Parameters:
    max_fraction: the highest share of a split's rows allowed in conflicting groups (default 0.001)
    columns: the features that define "identical" (default: every feature but identifiers)
    top: how many conflicting groups the evidence shows, smallest first (default 10)
    max_groups: if set, the highest number of conflicting groups allowed in a split
    """
    if (err := empty_error(ctx)) is not None:
        return err
    data = splits(ctx)
    if ctx.task != "classification":
        return CheckResult(status="error", message="conflicting labels compares class labels; the task is "
                           f"{ctx.task}: drop data.conflicting_labels from `checks` (for regression, "
                           "data.duplicates finds repeated rows)")
    if data[0].label is None:
        return CheckResult(status="error", message="needs a label to compare: set `data.label` in mlqa.yaml "
                           "(or drop data.conflicting_labels from `checks`)")
    ids = {} if columns else identifiers(ctx)
    feats = list(columns) if columns else [c for c in data[0].features if c not in ids]
    if not feats:
        return CheckResult(status="error", message="no feature columns left to compare rows by"
                           + (f" (identifiers left out: {', '.join(ids)})" if ids else "")
                           + ": name them in `columns`")
    table, groups_out, worst, worst_groups = [], [], 0.0, 0
    for d in data:
        frame = d.frame[d.frame[d.label].notna()]
        if not len(frame):  # a split judged on no rows would pass unseen
            return CheckResult(status="error", message=f"the {d.name} data has no labelled rows (`{d.label}` "
                               "is missing in every row): nothing to compare; fill the label, or drop "
                               "data.conflicting_labels from `checks`")
        h = row_hashes(frame[feats]).to_numpy()
        y = pd.Series(frame[d.label].to_numpy(), dtype="string").to_numpy(dtype=object)
        pairs = pd.DataFrame({"h": h, "y": y})
        n_labels = pairs.drop_duplicates().groupby("h", sort=False).size()
        bad = n_labels.index[n_labels.to_numpy() > 1]
        in_bad = np.isin(h, bad.to_numpy())
        frac = float(in_bad.mean())
        worst, worst_groups = max(worst, frac), max(worst_groups, len(bad))
        table.append({"split": d.name, "rows": len(frame), "conflicting_rows": int(in_bad.sum()),
                      "groups": len(bad), "fraction": round(frac, 6)})
        if len(bad):
            pos = np.flatnonzero(in_bad)
            hb, yb = h[pos], y[pos]
            sizes = pd.Series(hb).value_counts().sort_values(kind="stable")
            first_pos = pd.Series(pos).groupby(hb).first()
            for hv in sizes.index[:top]:
                labels = pd.Series(yb[hb == hv]).value_counts()
                row = frame.iloc[int(first_pos[hv])]
                groups_out.append({"split": d.name, "rows": int(sizes[hv]),
                                   "features": {str(c): cell(row[c]) for c in feats},
                                   "labels": {str(k): int(v) for k, v in labels.items()}})
    groups_out.sort(key=lambda g: g["rows"])
    metrics = {"conflicting_fraction": worst, "conflicting_groups": float(worst_groups)}
    limits = {"conflicting_fraction": ("<=", max_fraction),
              "conflicting_groups": ("<=", None if max_groups is None else float(max_groups))}
    chart = bar_chart("Share of rows in conflicting-label groups", [t["split"] for t in table],
                      [t["fraction"] for t in table], threshold=max_fraction)
    detail = ", ".join(f"{t['split']}: {t['conflicting_rows']} rows in {t['groups']} group(s)"
                       for t in table if t["groups"])
    return judge(metrics, limits, detail=detail or "no conflicting labels",
                 evidence={"splits": table, "groups": groups_out[:top], "features": feats,
                           **excluded_note(ids), "charts": [chart]})
