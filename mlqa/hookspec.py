"""Hooks mlqa adds to pytest (as pytest-benchmark does): implement them in a conftest.py.

Mark an implementation `@pytest.hookimpl(optionalhook=True)`: pytest then accepts it when
mlqa's plugin is not loaded (`-p no:mlqa`, or mlqa not installed), where it would
otherwise stop with "unknown hook" — the hook is declared by the plugin it belongs to.
"""
from __future__ import annotations

import pytest


@pytest.hookspec(historic=False)
def pytest_mlqa_decision(decision, config):  # noqa: ANN001,ANN201
    """Called once per session that used mlqa, with the run's `mlqa.Decision` (the stage's
    decision, or without a stage every check blocking), e.g. to post it to a chat channel
    or a model registry. `config` is the pytest config. Implement it as
    `@pytest.hookimpl(optionalhook=True)` so that `-p no:mlqa` still runs."""
