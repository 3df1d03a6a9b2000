"""Validation of check parameters against the annotations of the check function."""
from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, Union

COLUMN = "mlqa:column"
#: A parameter naming a data column: the config loader checks it exists in the data.
Column = Annotated[str, COLUMN]
#: A parameter naming several data columns.
Columns = Annotated[list[str], COLUMN]


def is_column(tp: Any) -> bool:
    """Whether an annotation (or an option of a union) is marked as naming data columns."""
    if typing.get_origin(tp) is Annotated:
        return COLUMN in tp.__metadata__
    if typing.get_origin(tp) in (Union, types.UnionType):
        return any(is_column(a) for a in typing.get_args(tp))
    return False


class ParamTypeError(ValueError):
    """A parameter value that does not fit its declared type."""


def type_name(tp: Any) -> str:
    """A short, user-facing rendering of an annotation (``list[str] | None``)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return type_name(typing.get_args(tp)[0])
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

    Ints are accepted for floats; a single string is never silently split into a list.
    """
    if tp is Any or tp is typing.Any:
        return value
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return coerce(value, typing.get_args(tp)[0], where)
    if origin in (Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            try:
                return coerce(value, option, where)
            except ParamTypeError as exc:
                errors.append(str(exc))
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
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
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
    text = repr(value)
    return f"{kind} ({text[:40]}{'...' if len(text) > 40 else ''})"
