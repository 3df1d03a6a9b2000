"""The parameters the stack's admin API takes (the supervisor's and the gateway's), checked
before anything acts on them: a JSON object with only the fields a route knows, each of its
type and in its range, numbers finite. Whatever is wrong is a `ParamError` (an HTTP 4xx
with a message), never a fault half-applied, a 500 or a dropped connection."""
from __future__ import annotations

import json
import math
from typing import Any

from ..strictjson import StrictJSONError
from ..strictjson import loads as strict_loads

#: the largest admin request body (bytes): a few fields, never more
MAX_BODY_BYTES = 64 * 1024
#: the largest latency a network fault may add (one minute: past any client's timeout)
MAX_LATENCY_MS = 60_000.0
#: the NVIDIA XID codes a GPU fault may carry
XID_RANGE = (1, 999)
#: the most CPUs a stress fault may busy-loop
MAX_STRESS_CPUS = 256


class ParamError(ValueError):
    """A request the admin API refuses: HTTP status (4xx) and a message naming the field."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object (an empty body is `{}`), parsed by
    `mlqa.strictjson`: no NaN or Infinity, no integer of more than 30 digits, no lone
    surrogate, no other JSON value at the top."""
    if len(body) > MAX_BODY_BYTES:
        raise ParamError(f"request body over {MAX_BODY_BYTES} bytes", 413)
    if not body.strip():
        return {}
    try:
        value = strict_loads(body, max_int_digits=30)
    except StrictJSONError as exc:
        raise ParamError(exc.message) from None  # the admin API answers 400 to any bad body
    if not isinstance(value, dict):
        raise ParamError(f"body must be a JSON object, got {type(value).__name__ if value is not None else 'null'}")
    return value


def only(body: dict[str, Any], allowed: tuple[str, ...], route: str) -> None:
    """Refuse a field `route` does not take (a typo must not pass as a default)."""
    unknown = sorted(k for k in body if k not in allowed)
    if unknown:
        takes = f"it takes {', '.join(allowed)}" if allowed else "it takes no fields"
        raise ParamError(f"{route}: unknown field(s) {', '.join(map(repr, unknown[:5]))}; {takes}")


def number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    """`body[key]` (or `default`): a finite JSON number (not a boolean, not a string) in
    [low, high]."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(f"`{key}` must be a number, got {_show(value)}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ParamError(f"`{key}` must be a finite number from {low:g} to {high:g}, got {_show(value)}")
    return float(value)


def whole(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """`body[key]` (or `default`): a JSON integer (not a boolean, not a float) in [low, high]."""
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(f"`{key}` must be a whole number, got {_show(value)}")
    if not low <= value <= high:
        raise ParamError(f"`{key}` must be from {low} to {high}, got {_show(value)}")
    return value


def network_fault(body: dict[str, Any]) -> dict[str, float]:
    """A zone's network fault: {"latency_ms": 0..60000, "drop": 0..1} (zeros heal it)."""
    only(body, ("latency_ms", "drop"), "a network fault")
    return {"latency_ms": number(body, "latency_ms", 0.0, 0.0, MAX_LATENCY_MS),
            "drop": number(body, "drop", 0.0, 0.0, 1.0)}


def gpu_fault(body: dict[str, Any]) -> int:
    """A GPU fault's XID (default 79: fallen off the bus)."""
    only(body, ("xid",), "a GPU fault")
    return whole(body, "xid", 79, *XID_RANGE)


def stress(body: dict[str, Any]) -> int:
    """A CPU stress fault's CPUs (default 1)."""
    only(body, ("cpus",), "a CPU stress fault")
    return whole(body, "cpus", 1, 1, MAX_STRESS_CPUS)


def gpu_index(text: str) -> int:
    """A GPU index from a URL: ASCII digits only (no sign, no other script's digits, no
    `1_0`); a KeyError (404) otherwise, as for a GPU the node does not have."""
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise KeyError(f"no GPU {text[:20]!r}: a GPU index is a whole number from 0")
    return int(text)


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
