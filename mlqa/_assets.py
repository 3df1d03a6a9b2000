"""Locate the declarative assets (report templates, JSON schemas) shipped as data.

In a wheel they live in `mlqa/_assets/reports`; in a source checkout (editable install)
they are the repository's top-level `reports/` folder.
"""
from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    for candidate in (_HERE / "_assets" / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mlqa asset folder `{name}` is missing from this installation")
