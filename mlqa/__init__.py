"""mlqa: testing and quality gates for production machine learning.

The public API: declare checks (`check`, `CheckContext`, `CheckResult`, `Column`,
`Columns`), run and gate them (`Session`, `run`, `gate`, `load_config`), and the errors
mlqa raises. `import mlqa` stays light: the numeric stack is imported by the checks that
use it. Advanced pieces live in their modules (`mlqa.registry`, `mlqa.judge`,
`mlqa.endpoint`, `mlqa.loadgen`, `mlqa.tables`, `mlqa.reports`).
"""
from __future__ import annotations

from ._version import __version__
from .config import Config, load_config
from .context import CheckContext
from .deadline import Cancelled, Deadline
from .errors import ConfigError, MlqaError, SubjectError, UnsafeModelError
from .params import Column, Columns
from .registry import check
from .results import CheckResult, Decision, GatedCheck, error_result
from .session import RunOutcome, Session, gate, run
from .subjects import Dataset, Model

__all__ = [
    "__version__",
    # writing a check
    "check", "CheckContext", "CheckResult", "error_result", "Column", "Columns", "Model", "Dataset",
    "Deadline", "Cancelled",
    # running and gating
    "Session", "RunOutcome", "run", "gate", "load_config", "Config", "Decision", "GatedCheck",
    # errors
    "MlqaError", "ConfigError", "SubjectError", "UnsafeModelError",
]
