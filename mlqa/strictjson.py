"""Strict JSON for request bodies from untrusted clients: the one parser behind `mlqa serve`'s
inference routes and the stack's admin APIs (supervisor and gateway).

Refused, each with the HTTP status a server should answer: bad UTF-8, bad JSON and absurd
nesting (400); `NaN` / `Infinity` (not JSON, though Python's decoder takes them), an integer
longer than `max_int_digits` (Python refuses to convert past 4,300 digits, and no input needs
a tenth of that) and a float beyond a 64-bit float's range (422); a lone UTF-16 surrogate
escape such as `"\\ud800"` (400: not a character, and no UTF-8 answer echoing it can be
encoded).
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["StrictJSONError", "loads"]


class StrictJSONError(ValueError):
    """Why a body is refused: `status` (400 or 422) and a message fit for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


#: a `\uD800`..`\uDFFF` escape in JSON text: only then can a parsed string hold a lone surrogate
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: Any) -> bool:
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, str):
            if _LONE_SURROGATE.search(v):
                return True
        elif isinstance(v, list):
            todo.extend(v)
        elif isinstance(v, dict):
            todo.extend(v.keys())
            todo.extend(v.values())
    return False


def loads(body: bytes, *, max_int_digits: int = 400) -> Any:
    """Parse `body` strictly (see the module's docstring) or raise `StrictJSONError`."""
    def constant(token: str) -> float:
        raise StrictJSONError(422, f"{token} is not a number JSON allows: give a finite number")

    def integer(token: str) -> int:
        digits = len(token.lstrip("-"))
        if digits > max_int_digits:
            raise StrictJSONError(422, f"an integer of {digits} digits is out of range "
                                       f"(at most {max_int_digits})")
        return int(token)

    def real(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):
            raise StrictJSONError(422, f"number {token[:30]}{'...' if len(token) > 30 else ''} is out of "
                                       "range (beyond what a 64-bit float holds)")
        return value

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictJSONError(400, "body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=constant, parse_int=integer, parse_float=real)
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError(400, "JSON is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise StrictJSONError(400, f"body is not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # anything else the decoder refuses: still the client's input
        raise StrictJSONError(400, f"body is not valid JSON ({str(exc)[:80]})") from None
    if _SURROGATE_ESCAPE.search(body) and _lone_surrogate(value):
        raise StrictJSONError(400, "JSON holds a lone UTF-16 surrogate escape (\\ud800-\\udfff not in a "
                                   "pair): not a character")
    return value
