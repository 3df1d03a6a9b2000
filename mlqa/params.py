"""Validation of check parameters against the annotations of the check function."""
from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

COLUMN = "mlqa:column"
#: a number in exponent notation without a dot (`1e-6`), which PyYAML reads as a string
_EXPONENT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+\Z")
#: A parameter naming a data column: the config loader checks it exists in the data.
Column = Annotated[str, COLUMN]
#: A parameter naming several data columns.
Columns = Annotated[list[str], COLUMN]


@dataclass(frozen=True)
class Range:
    """The values a numeric parameter may take: finite, and within `lo` .. `hi` (each
    inclusive unless its `*_open` flag says otherwise; None: unbounded on that side).
    Attached to a type with `Annotated` (`Annotated[float, Range(0, 1)]`); the config
    loader refuses a value outside it at its line, and the JSON Schema carries it."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))

    def describe(self) -> str:
        """`0..1`, `> 0`, `>= 1`, `finite` — as `mlqa checks` and the errors print it."""
        def num(v: float) -> str:
            return f"{v:g}"
        if self.lo is not None and self.hi is not None and not (self.lo_open or self.hi_open):
            return f"{num(self.lo)}..{num(self.hi)}"
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {num(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {num(self.hi)}")
        return ", ".join(parts) or "finite"


#: a share of rows, a rate or a probability: 0..1
Fraction = Annotated[float, Range(0.0, 1.0)]
#: a strictly positive number (a scale, a price, a rate, seconds)
Positive = Annotated[float, Range(0.0, None, lo_open=True)]
#: zero or more (a margin, a tolerance, a drift score)
NonNegative = Annotated[float, Range(0.0)]
#: any finite number (a metric bound whose sign depends on the metric)
Finite = Annotated[float, Range()]
#: a one-sided confidence level of an interval: 0.5 .. 1 (excluded)
Confidence = Annotated[float, Range(0.5, 1.0, hi_open=True)]
#: a count that may be zero (findings allowed, replicates, workers)
Count = Annotated[int, Range(0)]
#: a count of at least one (rows, bins, repeats)
PositiveInt = Annotated[int, Range(1)]


def range_of(tp: Any) -> Range | None:
    """The `Range` a numeric annotation (or an option of a union, or the item of a list or
    the value of a mapping) declares, or None."""
    if typing.get_origin(tp) is Annotated:
        found = next((m for m in tp.__metadata__ if isinstance(m, Range)), None)
        return found if found is not None else range_of(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (Union, types.UnionType, list, tuple, dict):
        args = typing.get_args(tp)
        inner = args[1:] if typing.get_origin(tp) is dict else args
        return next((r for r in map(range_of, inner) if r is not None), None)
    return None


def is_numeric(tp: Any) -> bool:
    """Whether an annotation takes numbers anywhere (itself, an option, an item, a value)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return is_numeric(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType, list, tuple):
        return any(is_numeric(a) for a in typing.get_args(tp))
    if origin is dict:
        return any(is_numeric(a) for a in typing.get_args(tp)[1:])
    return tp in (int, float)


def is_column(tp: Any) -> bool:
    """Whether an annotation (or an option of a union) is marked as naming data columns."""
    if typing.get_origin(tp) is Annotated:
        return COLUMN in tp.__metadata__
    if typing.get_origin(tp) in (Union, types.UnionType):
        return any(is_column(a) for a in typing.get_args(tp))
    return False


class ParamTypeError(ValueError):
    """A parameter value that does not fit its declared type."""


class ParamRangeError(ParamTypeError):
    """A number of the right type outside its declared `Range` (or not finite)."""


def type_name(tp: Any) -> str:
    """A short, user-facing rendering of an annotation (``list[str] | None``)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        rng = next((m for m in tp.__metadata__ if isinstance(m, Range)), None)
        inner = type_name(typing.get_args(tp)[0])
        return f"{inner} ({rng.describe()})" if rng is not None else inner
    if tp is type(None):
        return "null"
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return f"list[{type_name(args[0])}]" if args else "list"
    if origin is dict:
        args = typing.get_args(tp)
        return f"mapping[{type_name(args[0])}, {type_name(args[1])}]" if args else "mapping"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def coerce(value: Any, tp: Any, where: str = "value") -> Any:
    """Return `value` checked (and where lossless, converted) against annotation `tp`.

    Ints are accepted for floats; a number must lie in the `Range` its annotation declares
    (and be finite). A single string is never silently split into a list, except where a
    list of column names is expected (`sensitive: race` reads as `[race]`).
    """
    if tp is Any or tp is typing.Any:
        return value
    origin = typing.get_origin(tp)
    if origin is Annotated:
        inner = typing.get_args(tp)[0]
        if COLUMN in tp.__metadata__ and isinstance(value, str) and typing.get_origin(inner) is list:
            value = [value]
        out = coerce(value, inner, where)
        rng = next((m for m in tp.__metadata__ if isinstance(m, Range)), None)
        if rng is not None and isinstance(out, (int, float)) and not rng.contains(out):
            raise ParamRangeError(f"{where} must be {rng.describe()}"
                                 f"{'' if rng.describe() == 'finite' else ' (and finite)'}, got {_show(value)}")
        return out
    if origin in (Union, types.UnionType):
        errors: list[ParamTypeError] = []
        for option in typing.get_args(tp):
            try:
                return coerce(value, option, where)
            except ParamTypeError as exc:
                errors.append(exc)
        out_of_range = next((e for e in errors if isinstance(e, ParamRangeError)), None)
        if out_of_range is not None:  # the right type, a wrong value: say which values
            raise out_of_range
        raise ParamTypeError(f"{where} must be {type_name(tp)}, got {_show(value)}")
    if tp is type(None):
        if value is None:
            return None
        raise ParamTypeError(f"{where} must be null, got {_show(value)}")
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise ParamTypeError(f"{where} must be one of {type_name(tp)}, got {_show(value)}")
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list):
            raise ParamTypeError(f"{where} must be a list ({type_name(tp)}), got {_show(value)}")
        args = typing.get_args(tp)
        item = args[0] if args else Any
        return [coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ParamTypeError(f"{where} must be a mapping ({type_name(tp)}), got {_show(value)}")
        args = typing.get_args(tp) or (Any, Any)
        return {coerce(k, args[0], f"{where} key"): coerce(v, args[1], f"{where}.{k}")
                for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, str) and _EXPONENT.match(value):
            value = float(value)  # `1e-6`: a number in YAML 1.2 (and in editors), a string to PyYAML
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:  # an integer beyond any float
                number = math.inf
            if not math.isfinite(number):
                raise ParamRangeError(f"{where} must be a finite number, got {_show(value)}")
            return number
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is str:
        if isinstance(value, str):
            return value
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ParamTypeError(f"{where} must be {type_name(tp)}, got {_show(value)}")


def _show(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)
    try:
        text = repr(value)
    except ValueError:  # an integer with more digits than Python prints
        text = f"<{value.bit_length()}-bit integer>" if isinstance(value, int) else "<unprintable>"
    return f"{kind} ({text[:40]}{'...' if len(text) > 40 else ''})"
