"""mlqa: testing and quality gates for production machine learning.

`import mlqa` stays light: the numeric stack is imported by the checks that use it.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .errors import ConfigError, MlqaError, SubjectError, UnsafeModelError
from .registry import CheckSpec, Registry, check
from .results import CheckResult, Decision, GatedCheck, error_result
from ._types import Column, Columns

__all__ = [
    "__version__", "check", "CheckResult", "CheckSpec", "Column", "Columns", "ConfigError",
    "Decision", "GatedCheck", "MlqaError", "Registry", "SubjectError", "UnsafeModelError",
    "error_result", "load_config", "run", "gate",
]


def load_config(path):  # noqa: ANN001,ANN201 - thin lazy re-export
    """Load and validate an mlqa.yaml (see `mlqa.config.load_config`)."""
    from .config import load_config as _load
    return _load(path)


def run(config, only=None):  # noqa: ANN001,ANN201
    """Run the checks of a config (path or `Config`) and return their results."""
    from .api import run as _run
    return _run(config, only=only)


def gate(config, stage: str, out=None):  # noqa: ANN001,ANN201
    """Run every check of a config, apply `stage`'s policy and return the `Decision`."""
    from .api import gate as _gate
    return _gate(config, stage, out=out)
