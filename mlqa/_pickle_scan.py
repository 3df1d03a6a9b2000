"""Allowlist scanner for pickle streams: which globals would loading import?

A pickle runs code by importing a global (GLOBAL / STACK_GLOBAL / INST) and calling it
(REDUCE, NEWOBJ, BUILD...). Blocklists of "dangerous" callables are routinely bypassed
(importlib, attribute chains, numpy.testing helpers that exec), so this scanner inverts
the question: every imported global must be on an allowlist of names known to only
rebuild data (numpy arrays and dtypes, scikit-learn estimators, plain containers).
Anything else is reported with its opcode and byte position, and the file is refused.
`RestrictedUnpickler` enforces the same allowlist while loading, so a stream the static
pass could not fully follow still never resolves a global outside the list.
"""
from __future__ import annotations

import io
import pickle
import pickletools
from pathlib import Path

SAFE_GLOBALS: frozenset[str] = frozenset({
    "builtins.dict", "builtins.list", "builtins.set", "builtins.frozenset", "builtins.tuple",
    "builtins.slice", "builtins.complex", "builtins.bytearray", "builtins.bytes", "builtins.float",
    "builtins.int", "builtins.str", "builtins.bool", "builtins.range", "builtins.object",
    "builtins.type",
    "collections.OrderedDict", "collections.defaultdict", "collections.deque", "collections.Counter",
    "copyreg._reconstructor", "_codecs.encode", "datetime.datetime", "datetime.date",
    "datetime.timedelta", "datetime.timezone", "decimal.Decimal", "fractions.Fraction",
    "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
    "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
    "numpy._core.multiarray.scalar", "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer", "numpy.ma.core._mareconstruct",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor", "numpy.random.mtrand.RandomState",
    "numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64", "numpy.random._generator.Generator",
    "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
    "scipy.sparse._csr.csr_matrix", "scipy.sparse._csc.csc_matrix",
    "pandas.core.indexes.base._new_Index", "pandas.core.indexes.base.Index",
    "pandas.core.indexes.range.RangeIndex",
    # PyTorch checkpoints rebuild tensors from storages
    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "torch._utils._rebuild_tensor",
    "torch.FloatStorage", "torch.DoubleStorage", "torch.HalfStorage", "torch.LongStorage",
    "torch.IntStorage", "torch.ShortStorage", "torch.CharStorage", "torch.ByteStorage", "torch.BoolStorage",
    "torch.BFloat16Storage", "torch.Size", "torch.float32", "torch.float16", "torch.bfloat16",
    "torch.float64", "torch.int64", "torch.int32", "torch.uint8", "torch.bool",
})
# numpy scalar types (numpy.float64 ...) rebuild plain numbers
_NUMPY_TYPES = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                "uint16", "uint32", "uint64", "bool_", "str_", "bytes_", "complex64",
                "complex128", "longdouble", "object_", "void"}
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING",
               "BINSTRING", "STRING"}


def is_safe_global(module: str, name: str, extra: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether importing `module.name` during unpickling only rebuilds data.

    scikit-learn estimator classes are allowed by shape: a CamelCase class name in a
    `sklearn.` module (their `__setstate__` only restores attributes); functions of
    scikit-learn are not.
    """
    import _compat_pickle  # protocol < 3 writes Python 2 names (copy_reg, __builtin__)
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    full = f"{module}.{name}"
    if full in SAFE_GLOBALS or full in extra:
        return True
    if module == "numpy" and name in _NUMPY_TYPES:
        return True
    if (module == "sklearn" or module.startswith("sklearn.")) and "." not in name \
            and name[:1].isupper() and not name.startswith("_"):
        return True
    return False


def scan_bytes(data: bytes, extra: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """Findings (global, opcode, byte position) for every non-allowlisted import.

    Raises `ValueError` when the stream cannot be parsed (the caller refuses it).
    """
    findings: list[dict] = []
    recent: list[str | None] = []      # values pushed by recent opcodes (strings or None)
    memo: dict[int, str | None] = {}
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        start = stream.tell()
        for op, arg, pos in pickletools.genops(stream):
            name = op.name
            if name in _STRING_OPS:
                recent.append(arg if isinstance(arg, str) else None)
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = recent[-1] if recent else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                recent.append(memo.get(int(arg)))
            elif name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                if not is_safe_global(module, attr, extra):
                    findings.append({"global": f"{module}.{attr}", "opcode": name, "position": pos})
                recent.append(None)
            elif name == "STACK_GLOBAL":
                module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                if module is None or attr is None:
                    findings.append({"global": "<unresolved STACK_GLOBAL>", "opcode": name,
                                     "position": pos})
                elif not is_safe_global(module, attr, extra):
                    findings.append({"global": f"{module}.{attr}", "opcode": name, "position": pos})
                recent.append(None)
            else:
                recent.append(None)
            del recent[:-8]
        if stream.tell() == start:
            break
    return findings


def scan_file(path: str | Path, extra: frozenset[str] | set[str] = frozenset()) -> list[dict]:
    """Scan a plain pickle file (possibly several concatenated streams)."""
    return scan_bytes(Path(path).read_bytes(), extra)


class RestrictedUnpickler(pickle.Unpickler):
    """An Unpickler that refuses, before resolving it, any global outside the allowlist."""

    extra: frozenset[str] = frozenset()

    def find_class(self, module: str, name: str):  # noqa: D102
        if not is_safe_global(module, name, self.extra):
            raise pickle.UnpicklingError(f"global {module}.{name} is not on the allowlist")
        return super().find_class(module, name)
