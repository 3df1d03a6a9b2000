"""The input schema a served model validates requests against, and request parsing."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..strictjson import StrictJSONError
from ..strictjson import loads as strict_loads


class RequestError(Exception):
    """A request the server rejects: HTTP status and a message safe to return."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class InputColumn:
    """One input a served model takes: its name and kind (numeric, categorical or any)."""

    name: str
    kind: str  # numeric | categorical | any

    @property
    def datatype(self) -> str:
        return {"numeric": "FP64", "categorical": "BYTES"}.get(self.kind, "BYTES")


@dataclass(frozen=True)
class Schema:
    columns: tuple[InputColumn, ...]
    max_rows: int = 10_000

    @classmethod
    def from_frame(cls, frame: Any, label: str | None = None) -> "Schema":
        from ..tables import kind
        return cls(tuple(InputColumn(c, "numeric" if kind(frame[c]) == "numeric" else "categorical")
                         for c in frame.columns if c != label))

    @classmethod
    def from_model(cls, model: Any) -> "Schema | None":
        names = getattr(model, "feature_names_in_", None)
        return None if names is None else cls(tuple(InputColumn(str(n), "any") for n in names))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


#: the most digits a JSON integer may have: more than any float holds (1.8e308 has 309);
#: Python refuses to convert past 4,300 digits at all, and such a number is never an input
MAX_INT_DIGITS = 400


def parse_json(body: bytes) -> Any:
    """The request body through `mlqa.strictjson`: no NaN/Infinity, no number out of a
    float's range and no lone UTF-16 surrogate; bad UTF-8, bad JSON, lone surrogates and
    absurd nesting are 400s, numbers out of range 422s."""
    try:
        return strict_loads(body, max_int_digits=MAX_INT_DIGITS)
    except StrictJSONError as exc:
        raise RequestError(exc.status, f"request {exc.message}") from None


#: the largest integer that converts to a finite float
_FLOAT_MAX_INT = int(1.7976931348623157e308)


def _check_value(col: InputColumn, value: Any, where: str) -> Any:
    if col.kind == "numeric":
        if value is None:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(422, f"{where}: `{col.name}` must be a number, got {type(value).__name__}")
        if isinstance(value, int) and abs(value) > _FLOAT_MAX_INT or not math.isfinite(value):
            raise RequestError(422, f"{where}: `{col.name}` must be a finite number within a 64-bit float's range")
        return float(value)
    if col.kind == "categorical":
        if value is None or isinstance(value, str):
            return value
        raise RequestError(422, f"{where}: `{col.name}` must be a string, got {type(value).__name__}")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _FLOAT_MAX_INT:
        raise RequestError(422, f"{where}: `{col.name}` is out of a 64-bit float's range")
    if value is None or isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return value
    raise RequestError(422, f"{where}: `{col.name}` must be a number or a string")


#: the tensor data types of the Open Inference Protocol v2
OIP_DATATYPES = frozenset({"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
                           "FP16", "FP32", "FP64", "BYTES"})


def rows_from_oip(payload: Any, schema: Schema) -> dict[str, list]:
    """Open Inference Protocol v2 request -> column lists, validated against the schema."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        raise RequestError(422, "an inference request is {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]}")
    by_name: dict[str, list] = {}
    for i, tensor in enumerate(payload["inputs"]):
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise RequestError(422, f"inputs[{i}] needs a string `name`")
        data = tensor.get("data")
        if not isinstance(data, list):
            raise RequestError(422, f"inputs[{i}] (`{tensor['name']}`) needs a `data` list")
        if not isinstance(tensor.get("datatype"), str) or tensor["datatype"] not in OIP_DATATYPES:
            raise RequestError(422, f"inputs[{i}] (`{tensor['name']}`) needs a `datatype`, one of "
                                    f"{', '.join(sorted(OIP_DATATYPES))}")
        shape = tensor.get("shape")
        if not (isinstance(shape, list) and len(shape) <= 8
                and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape)):
            raise RequestError(422, f"inputs[{i}] (`{tensor['name']}`) needs a `shape`: a list of at most 8 "
                                    "whole numbers >= 0")
        if math.prod(shape) != len(data) if shape else len(data) != 1:
            raise RequestError(422, f"inputs[{i}] (`{tensor['name']}`): shape {shape} does not match "
                                    f"{len(data)} values")
        by_name[tensor["name"]] = data
    return _columns(by_name, schema, "inputs")


def rows_from_json(payload: Any, schema: Schema) -> dict[str, list]:
    """Plain JSON request {"instances": [{column: value}, ...]} -> column lists."""
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list):
        raise RequestError(422, "a prediction request is {\"instances\": [{\"column\": value, ...}, ...]}")
    rows = payload["instances"]
    if len(rows) > schema.max_rows:   # before any work per row: a 1 MB body holds 300,000 `{}`
        raise RequestError(413, f"instances: {len(rows)} rows, more than the limit of {schema.max_rows}")
    if not all(isinstance(r, dict) for r in rows):
        raise RequestError(422, "every instance must be an object of column: value")
    names = schema.names
    known = set(names)
    return _columns({c: [r.get(c) for r in rows] for c in names} |
                    {k: [] for r in rows for k in r if k not in known}, schema, "instances")


def _columns(by_name: dict[str, list], schema: Schema, where: str) -> dict[str, list]:
    names = schema.names
    known = set(names)
    unknown = [n for n in by_name if n not in known]
    if unknown:
        raise RequestError(422, f"unknown input(s) {unknown[:5]}; the model takes {names}")
    missing = [n for n in names if n not in by_name]
    if missing:
        raise RequestError(422, f"missing input(s) {missing[:5]}")
    lengths = {len(v) for v in by_name.values()}
    if len(lengths) != 1:
        raise RequestError(422, f"{where}: every input needs the same number of rows")
    n = lengths.pop()
    if n == 0:
        raise RequestError(422, f"{where}: no rows")
    if n > schema.max_rows:
        raise RequestError(413, f"{where}: {n} rows, more than the limit of {schema.max_rows}")
    return {c.name: [_check_value(c, v, f"{where} row {j}") for j, v in enumerate(by_name[c.name])]
            for c in schema.columns}
