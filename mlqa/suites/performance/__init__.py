"""Performance suite: metric floors, worst slices, calibration, a simple-model baseline,
and regression of the challenger against the current champion."""
from ._metric import calibration, metric, slices
from ._compare import regression, simple_baseline
from ._model_checks import prediction_drift, unused_features

__all__ = ["metric", "slices", "calibration", "simple_baseline", "regression", "prediction_drift", "unused_features"]
