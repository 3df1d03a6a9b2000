"""What a drifted feature looks like: its reference (train) and current (test) distribution
side by side, as a chart for the report — overlaid histograms over shared equal-width bins
for a numeric feature, bars per category for a categorical one. Shares of rows, so splits
of any size compare; only the worst few features, so the evidence stays small."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._frames import as_key

#: drifted features drawn, the worst (highest PSI) first
MAX_FEATURES = 3
#: equal-width bins of a numeric histogram, over the central 99% of both splits' values
NUMERIC_BINS = 20
#: categories drawn (the most frequent in either split); the rest are summed as one
MAX_CATEGORIES = 12
NAMES = ("train (reference)", "test (current)")


def _share(counts: np.ndarray, n: int) -> list[float]:
    return [round(float(c) / n, 6) if n else 0.0 for c in counts]


def numeric_chart(feature: str, train: pd.Series, test: pd.Series, psi: float) -> dict:
    """Overlaid histograms of a numeric feature: shares of each split's finite values per
    bin; values beyond the central 99% are counted in the end bins."""
    a = pd.to_numeric(train, errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(test, errors="coerce").to_numpy(dtype=float)
    fa, fb = a[np.isfinite(a)], b[np.isfinite(b)]
    both = np.concatenate([fa, fb])
    if len(both) == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = (float(v) for v in np.quantile(both, [0.005, 0.995]))
        if hi <= lo:
            lo, hi = float(both.min()), float(both.max())
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, NUMERIC_BINS + 1)

    def counts(v: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(edges, np.clip(v, lo, hi), side="right") - 1, 0, NUMERIC_BINS - 1)
        return np.bincount(idx, minlength=NUMERIC_BINS)

    missing = [1 - len(fa) / len(a) if len(a) else 0.0, 1 - len(fb) / len(b) if len(b) else 0.0]
    note = (f"; missing: train {missing[0]:.1%}, test {missing[1]:.1%}" if any(m > 0 for m in missing) else "")
    return {"type": "hist", "title": f"{feature}: train vs test (PSI {psi:.3f})",
            "edges": [round(float(e), 6) for e in edges],
            "series": [{"name": NAMES[0], "y": _share(counts(fa), len(fa))},
                       {"name": NAMES[1], "y": _share(counts(fb), len(fb))}],
            "x_label": f"{feature}{note}", "y_label": "share of rows"}


def categorical_chart(feature: str, train: pd.Series, test: pd.Series, psi: float) -> dict:
    """Bars per category, train beside test: shares of each split's rows (missing values
    as a category of their own); beyond the most frequent categories, one `other` bar."""
    ka, kb = as_key(train), as_key(test)
    va, vb = ka.value_counts(normalize=True), kb.value_counts(normalize=True)
    cats = sorted(set(va.index) | set(vb.index), key=lambda c: (-max(va.get(c, 0.0), vb.get(c, 0.0)), str(c)))
    shown, rest = cats[:MAX_CATEGORIES], cats[MAX_CATEGORIES:]
    labels = [str(c) for c in shown]
    ys = [[round(float(v.get(c, 0.0)), 6) for c in shown] for v in (va, vb)]
    if rest:
        labels.append(f"other ({len(rest)})")
        for y, v in zip(ys, (va, vb)):
            y.append(round(float(sum(v.get(c, 0.0) for c in rest)), 6))
    return {"type": "bars", "title": f"{feature}: train vs test (PSI {psi:.3f})", "x": labels,
            "series": [{"name": NAMES[0], "y": ys[0]}, {"name": NAMES[1], "y": ys[1]}],
            "y_label": "share of rows"}


def distribution_charts(table: list[dict], drifted: list[str], train: pd.DataFrame,
                        test: pd.DataFrame) -> list[dict]:
    """A chart for each of the worst `MAX_FEATURES` drifted features (`table` is sorted by
    PSI, highest first; its `test` says chi2 for a categorical feature)."""
    out = []
    for row in table:
        if row["feature"] not in drifted:
            continue
        draw = categorical_chart if row["test"] == "chi2" else numeric_chart
        out.append(draw(str(row["feature"]), train[row["feature"]], test[row["feature"]], float(row["psi"])))
        if len(out) == MAX_FEATURES:
            break
    return out
