"""Hooks mlqa adds to pytest (as pytest-benchmark does): implement them in a conftest.py."""
from __future__ import annotations

import pytest


@pytest.hookspec(historic=False)
def pytest_mlqa_decision(decision, config):  # noqa: ANN001,ANN201
    """Called once per session with the gate's `mlqa.Decision` (e.g. to post it to a
    chat channel or a model registry). `config` is the pytest config."""
