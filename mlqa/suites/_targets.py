"""A model's outputs and the labels of a split as metric targets, and which metric fits
which model and task (the performance and fairness suites share them)."""
from __future__ import annotations

from typing import Literal

import numpy as np

from ..context import CheckContext
from . import _metrics

MetricName = Literal["accuracy", "balanced_accuracy", "f1", "precision", "recall", "roc_auc",
                     "log_loss", "rmse", "mae", "r2"]


def target(ctx: CheckContext, which: str = "model", split: str = "test") -> _metrics.Target:
    preds = ctx.predictions(which, split)
    data = getattr(ctx, split)
    y = data.y.to_numpy()
    return _metrics.Target(y=y, pred=np.asarray(preds.pred), proba=preds.proba,
                           classes=preds.classes, positive=ctx.positive_label)


def default_metric(ctx: CheckContext, which: str = "model") -> str:
    if ctx.task == "regression":
        return "r2"
    model = getattr(ctx, which)
    if ctx.is_binary and model is not None and model.has_proba:
        return "roc_auc"
    return "accuracy"


def check_metric_fits(ctx: CheckContext, name: str, which: str = "model") -> str | None:
    """Why `name` cannot be computed for this model and task, or None."""
    if ctx.task == "regression" and name not in _metrics.REGRESSION:
        return f"{name} is a classification metric but the task is regression"
    if ctx.task == "classification" and name in _metrics.REGRESSION:
        return f"{name} is a regression metric but the task is classification"
    model = getattr(ctx, which)
    if _metrics.metric_needs_proba(name) and (model is None or not model.has_proba):
        return f"{name} needs predict_proba, which the {which} lacks"
    return None
