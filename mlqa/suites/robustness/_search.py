"""Property-based search (hypothesis) for the smallest perturbation that flips predictions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...judge import judge
from ...params import Fraction, NonNegative, Positive, PositiveInt
from ._common import numeric_features, probe, sample


def _confident(ctx: CheckContext, n: int, score: np.ndarray | None, min_margin: float) -> np.ndarray:
    """Rows whose prediction is confident; every row when there is no score to judge by."""
    if ctx.task != "classification" or score is None:
        return np.ones(n, dtype=bool)
    return np.abs(score - 0.5) >= min_margin


@check("robustness.search", requires=("model", "test"))
def search(ctx: CheckContext, *, bounds: dict[str, Positive] = {}, relative: Positive = 0.1,  # noqa: B006
           rows: PositiveInt = 200, max_examples: PositiveInt = 100, min_margin: Fraction = 0.1,
           max_relative_change: NonNegative = 0.05) -> CheckResult:
    """Search, with hypothesis, for the smallest perturbation of numeric features inside
    declared bounds that flips a confident prediction; report the minimal counterexample
    hypothesis shrank it to. Passes when none is found within `max_examples` tries.

    A perturbation is one offset per feature applied to every sampled row at once, so each
    try is one batched predict call. Only rows the model is confident about (score at
    least `min_margin` away from 0.5) count: a flip there under a tenth of a standard
    deviation (the default bound) means the model relies on knife-edge thresholds.

    Parameters:
    bounds: feature -> largest absolute offset (default: `relative` x the feature's std, every numeric feature)
    relative: default bound as a fraction of each feature's standard deviation (default 0.1)
    rows: test rows sampled (seeded; default 200)
    max_examples: perturbations hypothesis may try before shrinking (default 100)
    min_margin: classifiers: only rows whose positive-class score is at least this far from 0.5 count (default 0.1)
    max_relative_change: regressors: a relative change above this counts as a flip (default 0.05)
    """
    from hypothesis import strategies as st
    from .._hypothesis import find_minimal
    X = sample(ctx, rows)
    nums = numeric_features(X)
    if bounds:
        unknown = [c for c in bounds if c not in nums]
        if unknown:
            return CheckResult(status="error", message=f"bounds name non-numeric or unknown features: {unknown}")
        limits = {c: float(b) for c, b in bounds.items()}
    else:
        std = X[nums].apply(pd.to_numeric, errors="coerce").std().fillna(0.0)
        limits = {c: float(relative * std[c]) for c in nums if std[c] > 0}
    if not limits:
        return CheckResult(status="error", message="no numeric feature to perturb")
    p = probe(ctx)
    base_pred, base_score = p.outputs(X)
    keep = _confident(ctx, len(X), base_score, min_margin)
    Xc = X[keep].reset_index(drop=True)
    base_pred = base_pred[keep]
    base_score = base_score[keep] if base_score is not None else None
    if len(Xc) == 0:
        return CheckResult(status="error", message="no sampled row is confident enough to search around")
    numeric = Xc[list(limits)].apply(pd.to_numeric, errors="coerce").astype(float)

    def apply(delta: dict[str, float]) -> pd.DataFrame:
        return Xc.assign(**{c: numeric[c] + d for c, d in delta.items()})

    def flipped(delta: dict[str, float]) -> np.ndarray:
        pred, _ = p.outputs(apply(delta))
        if ctx.task == "classification":
            return pred != base_pred
        return np.abs(pred.astype(float) - base_pred.astype(float)) > max_relative_change * (np.abs(base_pred.astype(float)) + 1e-12)

    strategy = st.fixed_dictionaries({c: st.floats(-b, b, allow_nan=False, allow_infinity=False)
                                      for c, b in limits.items()})
    minimal = find_minimal(strategy, lambda d: bool(flipped(d).any()), max_examples=max_examples, seed=ctx.seed,
                           deadline=ctx.deadline)
    if minimal is None:
        return judge({"counterexamples": 0.0}, {"counterexamples": ("<=", 0.0)},
                     detail=f"no flipping perturbation within bounds in {p.calls - 1} tries",
                     evidence={"bounds": limits, "rows_searched": len(Xc), **p.counts()})
    rows_flipped = np.flatnonzero(flipped(minimal))
    size = max((abs(d) / limits[c] for c, d in minimal.items() if limits[c] > 0), default=0.0)
    examples = []
    perturbed = apply(minimal)
    new_pred, _ = p.outputs(perturbed.iloc[rows_flipped[:5]])
    for k, r in enumerate(rows_flipped[:5]):
        examples.append({"row": int(r), "changes": {c: [float(numeric.at[r, c]), float(numeric.at[r, c] + d)]
                                                     for c, d in minimal.items() if d != 0},
                         "before": str(base_pred[r]), "after": str(new_pred[k]),
                         "score_before": None if base_score is None else float(base_score[r])})
    nonzero = {c: d for c, d in minimal.items() if d != 0}
    return judge({"counterexamples": 1.0, "rows_flipped": float(len(rows_flipped)),
                  "perturbation_size": float(size)}, {"counterexamples": ("<=", 0.0)},
                 detail=f"minimal perturbation {nonzero} flips {len(rows_flipped)} of {len(Xc)} confident rows",
                 evidence={"minimal_perturbation": nonzero, "bounds": limits, "examples": examples,
                           "rows_searched": len(Xc), **p.counts()})
