"""Parsing of the units users write in configs and on the command line."""
from __future__ import annotations

import re

from .errors import MlqaError


def parse_rate(text: str | float) -> float:
    """`100/s`, `6000/min` or a bare number: requests per second."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*", text)
    if not m:
        raise MlqaError(f"rate {text!r} is not like `100/s` or `6000/min`")
    value = float(m.group(1))
    return value / 60 if (m.group(2) or "s").startswith("m") else value


def parse_duration(text: str | float) -> float:
    """`20s`, `1.5s`, `2m`, `500ms` or a bare number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*", text)
    if not m:
        raise MlqaError(f"duration {text!r} is not like `20s`, `2m` or `500ms`")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "min": 60, "h": 3600}[m.group(2)]


def parse_size(text: str) -> int:
    """`512KB`, `1MB`, `8GiB` or a bare number of bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*(b|kb|mb|gb|kib|mib|gib)?\s*", str(text).lower())
    if not m:
        raise MlqaError(f"size {text!r} is not like `1MB`, `512KB` or `8GiB`")
    return int(m.group(1)) * {"b": 1, None: 1, "kb": 1000, "mb": 1_000_000, "gb": 1_000_000_000,
                              "kib": 1024, "mib": 1 << 20, "gib": 1 << 30}[m.group(2)]
