"""The prediction contract every model must keep before any check believes its answers.

Checked on every call (cheap, vectorised): the output has one row per input row;
`predict_proba` is a 2-D table of finite numbers in [0, 1] with one column per class and
rows summing to 1 (within `SUM_TOL`); classification labels are among the data's;
regression predictions are finite. Checked once per model, on a sample of the test data,
before the first check uses it: `predict` and `predict_proba` both run and agree —
`predict` is the argmax of the probabilities (multiclass) or a threshold on the positive
column (binary: every row predicted positive scores at least as high as every row
predicted negative). A breach is a `ContractError` carrying the offending rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import SubjectError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: how far a row of probabilities may sum from 1
SUM_TOL = 1e-3
#: how far a probability may stray outside [0, 1] (float rounding)
RANGE_TOL = 1e-6
#: rows of the test data the one-time agreement check runs on
SAMPLE_ROWS = 512


class ContractError(SubjectError):
    """A model's answers break the prediction contract (shape, range, labels, agreement)."""


@dataclass(frozen=True)
class Expectation:
    """What the data says a model's answers must look like."""

    task: str
    labels: tuple = ()
    sample: Any = field(default=None, compare=False)  # a frame of up to SAMPLE_ROWS rows


def _rows(mask: "np.ndarray", limit: int = 5) -> list[int]:
    import numpy as np
    return np.flatnonzero(mask)[:limit].tolist()


def predict_breach(pred: "np.ndarray", n: int, expect: Expectation | None) -> str | None:
    """What is wrong with `predict`'s output for n input rows (None: nothing)."""
    import numpy as np
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred.ravel()
    if pred.ndim != 1:
        return f"predict returned shape {pred.shape} for {n} rows (one label or value per row expected)"
    if len(pred) != n:
        return f"predict returned {len(pred)} values for {n} rows"
    if expect is None:
        return None
    if expect.task == "regression":
        if pred.dtype.kind not in "biuf":
            return f"predict returned {pred.dtype} values; a regressor predicts numbers"
        bad = ~np.isfinite(pred.astype(float))
        if bad.any():
            return f"predict returned {int(bad.sum())} NaN/inf values (rows {_rows(bad)})"
        return None
    if expect.labels:
        known = list(expect.labels)
        allowed = set(known)
        try:
            unknown = np.fromiter((v not in allowed for v in pred.tolist()), dtype=bool, count=len(pred))
        except TypeError:  # unhashable predictions: no label of any data set
            unknown = np.ones(len(pred), dtype=bool)
        if unknown.any():
            seen = sorted({repr(v) for v in np.asarray(pred, dtype=object)[unknown][:50].tolist()})[:5]
            return (f"predict returned labels {', '.join(seen)} that the data's label column never holds "
                    f"(its labels: {', '.join(repr(v) for v in known[:10])}); rows {_rows(unknown)}")
    return None


def classes_breach(classes: list, expect: Expectation | None) -> str | None:
    """A classifier's `classes_`: distinct, and (when the data is known) labels of the data."""
    try:
        distinct = len(set(classes)) == len(classes)
    except TypeError:
        return f"classes_ holds values that are not labels ({classes[:5]!r})"
    if not distinct:
        return f"classes_ repeats a class ({classes[:10]!r})"
    if expect is not None and expect.labels:
        allowed = set(expect.labels)
        unknown = [c for c in classes if c not in allowed]
        if unknown:
            return (f"classes_ holds {', '.join(repr(c) for c in unknown[:5])}, which the data's label column "
                    f"never holds (its labels: {', '.join(repr(v) for v in list(expect.labels)[:10])})")
    return None


def proba_breach(proba: "np.ndarray", n: int, classes: list | None, expect: Expectation | None) -> str | None:
    """What is wrong with `predict_proba`'s output for n input rows (None: nothing)."""
    import numpy as np
    if proba.ndim != 2:
        return f"predict_proba returned shape {proba.shape} (a table of rows x classes expected)"
    if len(proba) != n:
        return f"predict_proba returned {len(proba)} rows for {n} input rows"
    if classes is not None:
        breach = classes_breach(classes, expect)
        if breach:
            return breach
    want = len(classes) if classes is not None else (len(expect.labels) if expect and expect.labels else None)
    if want is not None and proba.shape[1] != want:
        of = f"classes {classes!r}" if classes is not None else f"labels {list(expect.labels)!r}"
        return f"predict_proba returned {proba.shape[1]} columns for {want} {of} (one column per class)"
    if n == 0:
        return None
    finite = np.isfinite(proba)
    if not finite.all():
        rows = ~finite.all(axis=1)
        return (f"predict_proba returned NaN/inf in {int(rows.sum())} rows (rows {_rows(rows)}, "
                f"first: {proba[rows][0].tolist()})")
    out = ((proba < -RANGE_TOL) | (proba > 1 + RANGE_TOL)).any(axis=1)
    if out.any():
        return (f"predict_proba returned probabilities outside [0, 1] in {int(out.sum())} rows "
                f"(rows {_rows(out)}, first: {proba[out][0].tolist()})")
    sums = proba.sum(axis=1)
    off = np.abs(sums - 1) > SUM_TOL
    if off.any():
        return (f"predict_proba rows do not sum to 1 in {int(off.sum())} rows (rows {_rows(off)}, "
                f"first sums to {float(sums[off][0]):.6g})")
    return None


def agreement_breach(pred: "np.ndarray", proba: "np.ndarray", classes: list | None) -> str | None:
    """Whether `predict` says what `predict_proba` says, on the same rows."""
    import numpy as np
    if classes is None or proba.shape[1] != len(classes) or len(pred) == 0:
        return None
    pred = np.asarray(pred, dtype=object).ravel()
    cls = np.asarray(classes, dtype=object)
    if len(classes) == 2:
        score = proba[:, 1]
        pos, neg = pred == cls[1], pred == cls[0]
        if not (pos.any() and neg.any()):  # one class throughout: wrong where the other is near certain
            said = cls[1] if pos.any() else cls[0]
            other = score if said == cls[0] else 1 - score
            sure = other >= 0.9
            if sure.any():
                i = int(np.flatnonzero(sure)[0])
                return (f"predict and predict_proba disagree: predict says {said!r} for every row, while "
                        f"predict_proba gives the other class {other[i]:.4g} on row {i} "
                        f"({int(sure.sum())} rows at 0.9 or more)")
            return None
        if score[neg].max() > score[pos].min() + 1e-9:
            i, j = int(np.flatnonzero(neg)[score[neg].argmax()]), int(np.flatnonzero(pos)[score[pos].argmin()])
            return (f"predict and predict_proba disagree: row {i} is predicted {cls[0]!r} with "
                    f"P({cls[1]!r}) = {score[i]:.4g}, while row {j} is predicted {cls[1]!r} with "
                    f"P({cls[1]!r}) = {score[j]:.4g} (no threshold gives both)")
        return None
    top = proba.argmax(axis=1)
    ordered = np.sort(proba, axis=1)
    tie = (ordered[:, -1] - ordered[:, -2]) <= 1e-9
    bad = (cls[top] != pred) & ~tie
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        return (f"predict and predict_proba disagree on {int(bad.sum())} of {len(pred)} sample rows: "
                f"row {i} is predicted {pred[i]!r} but its most probable class is {cls[top[i]]!r} "
                f"({proba[i].round(4).tolist()})")
    return None
