"""mlqa: testing and quality gates for production machine learning.

The public API: declare checks (`check`, `CheckContext`, `CheckResult`, `Column`,
`Columns`), run and gate them (`Session`, `run`, `gate`, `load_config`), and the errors
mlqa raises. Advanced pieces live in their modules (`mlqa.registry`, `mlqa.judge`,
`mlqa.endpoint`, `mlqa.loadgen`, `mlqa.tables`, `mlqa.reports`).

`import mlqa` stays light — the pytest plugin imports it in every project where mlqa is
installed: the engine's modules load on first use of their names (PEP 562), and each name
is then the real object with its own typed signature (`mlqa.run is mlqa.session.run`).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import gate as _policy  # noqa: F401 - loaded first: see `del gate` below
from ._version import __version__
from .deadline import Cancelled, Deadline
from .errors import ConfigError, MlqaError, SubjectError, UnsafeModelError
from .results import CheckResult, Decision, GatedCheck, error_result

if TYPE_CHECKING:  # pragma: no cover - what type checkers and IDEs see
    from .config import Config, load_config
    from .context import CheckContext
    from .params import Column, Columns
    from .registry import check
    from .session import RunOutcome, Session, gate, run
    from .subjects import Dataset, Model

# Importing the submodule `mlqa.gate` (the policy) bound it as this package's `gate`;
# `mlqa.gate` is the function `mlqa.session.gate`, loaded on first use like the names below.
del gate  # noqa: F821

#: name -> the module that defines it, imported on first use
_LAZY = {"check": "registry", "CheckContext": "context", "Column": "params", "Columns": "params",
         "Model": "subjects", "Dataset": "subjects", "Session": "session", "RunOutcome": "session",
         "run": "session", "gate": "session", "load_config": "config", "Config": "config"}

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
