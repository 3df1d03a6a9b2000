"""Parsing of the units users write in configs and on the command line."""
from __future__ import annotations

import re

from .errors import MlqaError


#: the periods a rate may be written per, in seconds
RATE_PERIODS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0,
                "h": 3600.0, "hour": 3600.0}
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_rate_parts(text: str) -> tuple[float, float]:
    """`100/s`, `30/min`, `1000/h` or a bare number (per second): (count, period in seconds),
    for a caller that needs the count (a token bucket's burst) as well as the rate."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*([a-z]+))?\s*", str(text).lower())
    if not m or (m.group(2) and m.group(2) not in RATE_PERIODS):
        raise MlqaError(f"rate {str(text)[:40]!r} is not like `100/s`, `6000/min` or `1000/h`")
    return float(m.group(1)), RATE_PERIODS[m.group(2) or "s"]


def parse_rate(text: str | float) -> float:
    """`100/s`, `6000/min`, `1000/h` or a bare number: requests per second."""
    if isinstance(text, (int, float)):
        return float(text)
    count, period = parse_rate_parts(text)
    return count / period


def parse_duration(text: str | float) -> float:
    """`20s`, `1.5s`, `2m`, `500ms`, `1h` or a bare number of seconds."""
    if isinstance(text, (int, float)):
        return float(text)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*", str(text).lower())
    if not m:
        raise MlqaError(f"duration {str(text)[:40]!r} is not like `20s`, `2m` or `500ms`")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def parse_size(text: str) -> int:
    """`512KB`, `1MB`, `8GiB` or a bare number of bytes."""
    m = re.fullmatch(r"\s*(\d+)\s*(b|kb|mb|gb|kib|mib|gib)?\s*", str(text).lower())
    if not m:
        raise MlqaError(f"size {text!r} is not like `1MB`, `512KB` or `8GiB`")
    return int(m.group(1)) * {"b": 1, None: 1, "kb": 1000, "mb": 1_000_000, "gb": 1_000_000_000,
                              "kib": 1024, "mib": 1 << 20, "gib": 1 << 30}[m.group(2)]
