"""The wire between mlqa and a model worker (`mlqa._model_worker`).

mlqa -> worker: a frame is an 8-byte big-endian length and a pickle (protocol 5) of a
request dict. The worker trusts mlqa, so pickle is fine in that direction and fast for
DataFrames.

worker -> mlqa: the worker runs untrusted model code, so mlqa never unpickles what it
sends. A reply frame is an 8-byte length, a 4-byte length of a JSON header, the header,
then the raw bytes of the arrays the header describes. Arrays travel as plain buffers
whose dtype is a number, a bool or a fixed-width string — never an object or a structured
dtype — and are rebuilt with `numpy.frombuffer` after checking that the declared shape and
dtype account for exactly the bytes received.
"""
from __future__ import annotations

import json
import struct
from typing import Any

#: the largest reply mlqa reads (a reply announcing more is a broken worker)
MAX_REPLY_BYTES = 1 << 30
#: the largest JSON header of a reply
MAX_HEADER_BYTES = 16 << 20
#: dtype kinds an array may have on the wire: bool, signed/unsigned int, float, str, bytes
WIRE_KINDS = frozenset("biufUS")


class WireError(Exception):
    """A reply that does not follow the wire format (the worker is killed)."""


def request_frame(message: dict[str, Any]) -> bytes:
    import pickle
    body = pickle.dumps(message, protocol=5)
    return struct.pack(">Q", len(body)) + body


# ------------------------------------------------------------------ worker side
def encode_array(value: Any) -> tuple[dict[str, Any], bytes]:
    """An array's header entry and bytes; raises `TypeError` for what cannot travel (objects
    that are not all strings or all numbers, structured dtypes, more than 2 dimensions)."""
    import numpy as np
    arr = np.asarray(value)
    if arr.dtype.kind == "O":
        items = arr.ravel().tolist()
        if all(isinstance(v, str) for v in items):
            arr = np.asarray(items, dtype=str).reshape(arr.shape)
        elif all(isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) for v in items):
            arr = np.asarray(items, dtype=float if any(isinstance(v, (float, np.floating)) for v in items)
                             else None).reshape(arr.shape)
        else:
            kinds = sorted({type(v).__name__ for v in items[:1000]})
            raise TypeError(f"an array of Python objects ({', '.join(kinds)}) — predictions must be "
                            f"numbers, booleans or strings")
    if arr.dtype.names is not None or arr.dtype.kind not in WIRE_KINDS:
        raise TypeError(f"an array of dtype {arr.dtype} — predictions must be numbers, booleans or strings")
    if arr.ndim > 2:
        raise TypeError(f"an array of {arr.ndim} dimensions (shape {arr.shape})")
    arr = np.ascontiguousarray(arr)
    return {"dtype": arr.dtype.str, "shape": list(arr.shape), "nbytes": arr.nbytes}, arr.tobytes()


def reply_frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    head = json.dumps(header, default=str).encode()
    return struct.pack(">QI", 4 + len(head) + len(payload), len(head)) + head + payload


# ------------------------------------------------------------------ mlqa side
def parse_reply(body: bytes) -> tuple[dict[str, Any], list[Any]]:
    """The header and the arrays of a reply body (everything after the 8-byte length);
    anything that does not parse as the format says is a `WireError`."""
    try:
        return _parse(body)
    except WireError:
        raise
    except Exception as exc:  # noqa: BLE001 - JSON nesting, numpy refusing a shape...
        raise WireError(f"a reply that does not parse ({type(exc).__name__}: {str(exc)[:200]})") from None


def _parse(body: bytes) -> tuple[dict[str, Any], list[Any]]:
    import numpy as np
    if len(body) < 4:
        raise WireError("a reply shorter than its header length")
    (hlen,) = struct.unpack(">I", body[:4])
    if hlen > MAX_HEADER_BYTES or 4 + hlen > len(body):
        raise WireError(f"a reply header of {hlen} bytes does not fit the reply")
    try:
        header = json.loads(body[4:4 + hlen])
    except ValueError as exc:
        raise WireError(f"a reply header that is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise WireError("a reply header that is not a JSON object")
    specs = header.get("arrays", [])
    if not isinstance(specs, list):
        raise WireError("`arrays` is not a list")
    arrays, offset = [], 4 + hlen
    for spec in specs:
        try:
            dtype = np.dtype(str(spec["dtype"]))
            shape = tuple(int(s) for s in spec["shape"])
            nbytes = int(spec["nbytes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise WireError(f"an array description that is not valid ({exc})") from None
        if dtype.names is not None or dtype.hasobject or dtype.kind not in WIRE_KINDS \
                or str(spec["dtype"]) != dtype.str:
            raise WireError(f"an array of dtype {spec['dtype']!r}, which may not travel")
        if dtype.itemsize == 0 or len(shape) > 2 or any(s < 0 or s > MAX_REPLY_BYTES for s in shape):
            raise WireError(f"an array of shape {shape}")
        count = 1
        for s in shape:
            count *= s
        if count * dtype.itemsize != nbytes or offset + nbytes > len(body):
            raise WireError(f"an array of shape {shape} and dtype {dtype} does not match its {nbytes} bytes")
        arrays.append(np.empty(shape, dtype=dtype) if count == 0 else
                      np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape).copy())
        offset += nbytes
    if offset != len(body):
        raise WireError(f"{len(body) - offset} bytes after the last array")
    return header, arrays
