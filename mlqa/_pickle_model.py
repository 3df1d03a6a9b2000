"""One reading of model pickles, shared by the static scan and the restricted loader.

`ModelUnpickler` is Python's own pure-Python unpickler (the one joblib extends) with the
opcodes that import, call or mutate overridden, in two modes:

- **scan** (`real=False`): nothing a pickle asks for is called. An allowlisted global under
  an allowed package is resolved (its identity checked) and kept as a value; every call
  builds an inert `Symbol`; a global outside the allowlist becomes a finding (global,
  opcode, byte position) and the walk goes on, so one pass lists them all.
- **load** (`real=True`): the same walk with real objects; the first global or call the
  scan would have reported raises `Refused` before anything is resolved or called.

Both modes judge every global with `_pickle_policy.is_safe_global`, every call with
`_pickle_policy.call_problem`, and read joblib's arrays with the same `_read_array`, so a
file the scan passes is read the same way by the loader: they cannot disagree about where
a nested pickle starts, which bytes are array data, or what a global is. The only value the
scan computes for real is a `numpy.dtype` (an inert descriptor it needs to know how many
array bytes follow), from literal arguments only.

joblib's format (joblib 1.6, `numpy_pickle.py`), as modelled here:

- a `joblib.numpy_pickle.NumpyArrayWrapper` on which BUILD completes is replaced by the
  array read from the *file* right after it (outside any pickle frame): for a dtype with
  `hasobject` (object arrays and structured dtypes with an object field) a nested pickle,
  read by a fresh unpickler whose `find_class` is the outer one's; otherwise an optional
  padding (one length byte, then that many bytes, when `numpy_array_alignment_bytes` is not
  None — wrappers rebuilt by REDUCE default to 16, those rebuilt by NEWOBJ+BUILD without
  the key to None) and `prod(shape) * itemsize` raw bytes, reshaped in `order` ("F" or
  anything else meaning C). `allow_mmap` matters only to `joblib.load(mmap_mode=...)`,
  which maps the same bytes at the same offset (object dtypes cannot be mapped), so the
  layout is the same; the loader never maps. Inside a nested pickle a wrapper is an
  ordinary object, as in joblib.
- the legacy `NDArrayWrapper`/`ZNDArrayWrapper` (joblib < 0.10) are refused outright,
  not followed: joblib hands the file they name to `numpy.load(allow_pickle=True)` — an
  unrestricted pickle outside the scanned file. No joblib since 2016 writes them, so
  following sidecars would add a second format (`.npy` with nested pickles, resolved
  against the model's folder) for files nobody should still deploy; refusing is fail-closed
  and the message says to re-save.
"""
from __future__ import annotations

import _compat_pickle
import io
import pickle
import struct
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from . import _pickle_policy as policy


class Refused(Exception):
    """The loader met what the scan reports as a finding; nothing was resolved or called."""

    def __init__(self, finding: dict) -> None:
        self.finding = finding
        super().__init__(f"{finding['global']}: {finding.get('reason', 'not allowed')}")


class ScanError(ValueError):
    """The stream cannot be read as a model pickle (the caller refuses the file)."""


class GlobalRef:
    """A global the scan does not import: outside the allowlist, or a user's extra name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<global {self.name}>"


class Symbol:
    """What an allowlisted call would have built (scan only): inert, records its origin."""

    def __init__(self, origin: str, args: tuple = ()) -> None:
        self.origin, self.args, self.state, self.filled = origin, args, None, False

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.filled = True

    def append(self, value: Any) -> None:
        self.filled = True

    def extend(self, values: Any) -> None:
        self.filled = self.filled or bool(values)

    def add(self, value: Any) -> None:
        self.filled = True

    def __repr__(self) -> str:
        return f"<{self.origin}(...)>"


class JoblibArray:
    """Stand-in for `joblib.numpy_pickle.NumpyArrayWrapper`, in both modes: the same
    constructor signature and defaults (so REDUCE and NEWOBJ+BUILD give it the same
    attributes joblib's class would get), no behaviour of its own."""

    def __init__(self, subclass: Any, shape: Any, order: Any, dtype: Any,
                 allow_mmap: Any = False, numpy_array_alignment_bytes: Any = 16) -> None:
        self.subclass, self.shape, self.order, self.dtype = subclass, shape, order, dtype
        self.allow_mmap = allow_mmap
        self.numpy_array_alignment_bytes = numpy_array_alignment_bytes


_CODE_TYPES = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
               types.ModuleType)


@dataclass
class Walk:
    """What one scan of a pickle stream saw."""
    findings: list[dict] = field(default_factory=list)
    globals_seen: set[str] = field(default_factory=set)
    calls: set[str] = field(default_factory=set)
    arrays: int = 0  # joblib arrays read after wrappers


class ModelUnpickler(pickle._Unpickler):
    """See the module docstring. `arrays`: read joblib's arrays after wrappers (joblib.load)
    or not (pickle.load). `storages`: PyTorch persistent ids -> storages (torch zips)."""

    dispatch: ClassVar[dict] = dict(pickle._Unpickler.dispatch)

    def __init__(self, raw: io.BytesIO, *, extra: Iterable[str] = frozenset(), real: bool,
                 arrays: bool, walk: Walk | None = None,
                 storages: Callable[[Any, Any], Any] | None = None,
                 owner: ModelUnpickler | None = None) -> None:
        super().__init__(raw)
        self.raw, self.extra, self.real, self.arrays = raw, frozenset(extra), real, arrays
        self.walk = walk if walk is not None else Walk()
        self.storages = storages
        self.owner = owner
        self._globals: dict[int, str] = owner._globals if owner is not None else {}
        self._fresh_dtypes: set[int] = owner._fresh_dtypes if owner is not None else set()
        self._keep: list[Any] = owner._keep if owner is not None else []  # ids stay unique
        self._frame_base = 0
        self._op: tuple[str, int] = ("?", -1)
        self.view = policy.CallView(self.global_name, self.origin)

    # ------------------------------------------------------------------ positions, findings
    def _pos(self) -> int:
        frame = self._unframer.current_frame
        if frame is not None:
            return self._frame_base + frame.tell() - 1
        return self.raw.tell() - 1

    def _at(self, opcode: str) -> None:
        self._op = (opcode, self._pos())

    def problem(self, name: str, reason: str, **more: Any) -> None:
        """Record (scan) or raise (load) one finding at the current opcode."""
        finding = {"global": name, "opcode": self._op[0], "position": self._op[1],
                   "reason": reason, **more}
        if self.real:
            raise Refused(finding)
        self.walk.findings.append(finding)

    def global_name(self, value: Any) -> str | None:
        if isinstance(value, GlobalRef):
            return value.name
        if value is JoblibArray:
            return policy.JOBLIB_WRAPPER
        return self._globals.get(id(value))

    @staticmethod
    def origin(value: Any) -> str | None:
        return value.origin if isinstance(value, Symbol) else None

    # ------------------------------------------------------------------ globals
    def find_class(self, module: str, name: str) -> Any:
        # joblib routes a nested stream's globals to the outer unpickler's find_class, so the
        # outer stream's protocol decides the Python 2 name mapping
        proto = self.owner.proto if self.owner is not None else self.proto
        if proto < 3 and self.fix_imports:  # what pickle does for Python 2 names
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        full = policy.full_name(module, name)
        self.walk.globals_seen.add(full)
        if full in policy.LEGACY_WRAPPERS:
            self.problem(full, policy.LEGACY_WRAPPER_REASON)
            return GlobalRef(full)
        if not policy.is_safe_global(module, name, self.extra):
            self.problem(full, "not on the allowlist")
            return GlobalRef(full)
        if full == policy.JOBLIB_WRAPPER:
            return JoblibArray
        if not self.real and not policy.importable(module):
            return GlobalRef(full)  # a user's extra outside the allowed packages: by name only
        try:
            obj = policy.resolve(module, name, self.extra)
        except policy.UnsafeGlobal as exc:
            self.problem(full, exc.reason)
            return GlobalRef(full)
        self._globals[id(obj)] = full
        return obj

    def load_global(self) -> None:
        self._at("GLOBAL")
        pickle._Unpickler.load_global(self)
    dispatch[pickle.GLOBAL[0]] = load_global

    def load_stack_global(self) -> None:
        self._at("STACK_GLOBAL")
        pickle._Unpickler.load_stack_global(self)
    dispatch[pickle.STACK_GLOBAL[0]] = load_stack_global

    def load_frame(self) -> None:
        frame_size, = struct.unpack("<Q", self.read(8))
        if frame_size > sys.maxsize:
            raise pickle.UnpicklingError(f"frame size > sys.maxsize: {frame_size}")
        self._frame_base = self.raw.tell()
        self._unframer.load_frame(frame_size)
    dispatch[pickle.FRAME[0]] = load_frame

    def persistent_load(self, pid: Any) -> Any:
        if self.storages is None:
            raise pickle.UnpicklingError("unsupported persistent id encountered")
        return self.storages(self, pid)

    # ------------------------------------------------------------------ calls
    def _call(self, func: Any, args: tuple, kwargs: dict, how: str) -> Any:
        """REDUCE ("call"), NEWOBJ/NEWOBJ_EX ("new"), INST/OBJ ("instantiate")."""
        name = self.global_name(func)
        if name is None:
            self.problem("<value built while loading>",
                         "calls an object that is not an allowlisted global")
            return Symbol("<computed>", args)
        self.walk.calls.add(name)
        if isinstance(func, GlobalRef) and not policy.is_safe_global(*name.rsplit(".", 1),
                                                                      self.extra):
            return Symbol(name, args)  # already reported where the global was imported
        reason = policy.call_problem(name, self.view, args, kwargs, self.extra)
        if reason is not None:
            self.problem(name, reason)
            return Symbol(name, args)
        if not self.real and func is not JoblibArray and name not in policy.PURE_CALLS:
            return Symbol(name, args)
        if name == "numpy.dtype":
            made = func(*args, **kwargs)
            self._fresh_dtypes.add(id(made))
            self._keep.append(made)
            return made
        if how == "new":
            return func.__new__(func, *args, **kwargs)
        if how == "instantiate" and not args and isinstance(func, type) \
                and not hasattr(func, "__getinitargs__"):
            return func.__new__(func)
        return func(*args, **kwargs)

    def load_reduce(self) -> None:
        self._at("REDUCE")
        stack = self.stack
        args = stack.pop()
        if not isinstance(args, tuple):
            raise pickle.UnpicklingError("REDUCE arguments are not a tuple")
        stack[-1] = self._call(stack[-1], args, {}, "call")
    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self) -> None:
        self._at("NEWOBJ")
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(args, tuple):
            raise pickle.UnpicklingError("NEWOBJ arguments are not a tuple")
        self.append(self._call(cls, args, {}, "new"))
    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self) -> None:
        self._at("NEWOBJ_EX")
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(args, tuple) or not isinstance(kwargs, dict) \
                or not all(isinstance(k, str) for k in kwargs):
            raise pickle.UnpicklingError("NEWOBJ_EX arguments are not a tuple and a dict")
        self.append(self._call(cls, args, kwargs, "new"))
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _instantiate(self, klass: Any, args: list) -> None:
        self.append(self._call(klass, tuple(args), {}, "instantiate"))

    def load_inst(self) -> None:
        self._at("INST")
        pickle._Unpickler.load_inst(self)
    dispatch[pickle.INST[0]] = load_inst

    def load_obj(self) -> None:
        self._at("OBJ")
        pickle._Unpickler.load_obj(self)
    dispatch[pickle.OBJ[0]] = load_obj

    # ------------------------------------------------------------------ mutations
    def _target_ok(self, target: Any, opcode: str) -> bool:
        name = self.global_name(target)
        if name is not None or isinstance(target, _CODE_TYPES):
            self._at(opcode)
            self.problem(name or f"<{type(target).__name__}>",
                         f"{opcode} on a global would change a class, function or module")
            return False
        return True

    def load_build(self) -> None:
        state = self.stack[-1]
        inst = self.stack[-2]
        if not self._target_ok(inst, "BUILD"):
            self.stack.pop()
            return
        if isinstance(inst, np.dtype):
            self._build_dtype(inst, state)
            return
        if isinstance(inst, Symbol):
            origin: str | None = inst.origin
        elif isinstance(inst, np.ndarray):  # whatever made it, NumPy's __setstate__ runs
            origin = "numpy.ma.MaskedArray" if isinstance(inst, np.ma.MaskedArray) \
                else "numpy.ndarray"
        else:
            origin = self.global_name(type(inst))
        reason = policy.build_problem(origin, self.view, state, self.extra)
        if reason is not None:
            self._at("BUILD")
            self.problem(origin or "?", reason)
            self.stack.pop()
            return
        if isinstance(inst, Symbol) and inst.origin in policy.LEGACY_WRAPPERS \
                and isinstance(state, dict):
            for f in reversed(self.walk.findings):
                if f["global"] == inst.origin and "sidecar" not in f:
                    f["sidecar"] = str(state.get("filename"))
                    break
        pickle._Unpickler.load_build(self)
        if self.arrays and isinstance(self.stack[-1], JoblibArray):
            wrapper = self.stack.pop()
            self.append(self._read_array(wrapper))
    dispatch[pickle.BUILD[0]] = load_build

    def _build_dtype(self, dtype: Any, state: Any) -> None:
        """BUILD on a dtype: only once, only on one this stream created with copy=True, and
        only with the state NumPy itself writes (`_pickle_policy.canonical_dtype_state`)."""
        if id(dtype) not in self._fresh_dtypes:
            raise pickle.UnpicklingError("BUILD on a dtype this stream did not just create")
        self._fresh_dtypes.discard(id(dtype))
        try:
            canonical = policy.canonical_dtype_state(dtype, state)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            raise pickle.UnpicklingError(f"refused dtype state: {exc}") from None
        self.stack.pop()
        dtype.__setstate__(canonical)

    def load_append(self) -> None:
        if self._target_ok(self.stack[-2], "APPEND"):
            pickle._Unpickler.load_append(self)
        else:
            self.stack.pop()
    dispatch[pickle.APPEND[0]] = load_append

    def load_appends(self) -> None:
        if self._target_ok(self.metastack[-1][-1] if self.metastack and self.metastack[-1]
                           else None, "APPENDS"):
            pickle._Unpickler.load_appends(self)
        else:
            self.pop_mark()
    dispatch[pickle.APPENDS[0]] = load_appends

    def load_setitem(self) -> None:
        if self._target_ok(self.stack[-3], "SETITEM"):
            pickle._Unpickler.load_setitem(self)
        else:
            del self.stack[-2:]
    dispatch[pickle.SETITEM[0]] = load_setitem

    def load_setitems(self) -> None:
        if self._target_ok(self.metastack[-1][-1] if self.metastack and self.metastack[-1]
                           else None, "SETITEMS"):
            pickle._Unpickler.load_setitems(self)
        else:
            self.pop_mark()
    dispatch[pickle.SETITEMS[0]] = load_setitems

    def load_additems(self) -> None:
        if self._target_ok(self.metastack[-1][-1] if self.metastack and self.metastack[-1]
                           else None, "ADDITEMS"):
            pickle._Unpickler.load_additems(self)
        else:
            self.pop_mark()
    dispatch[pickle.ADDITEMS[0]] = load_additems

    # ------------------------------------------------------------------ joblib arrays
    def _read_array(self, wrapper: JoblibArray) -> Any:
        """The array joblib reads after a wrapper, from the file itself (see module doc)."""
        try:
            shape, dtype, order = wrapper.shape, wrapper.dtype, wrapper.order
        except AttributeError as exc:
            raise pickle.UnpicklingError(f"joblib array wrapper without {exc.name}") from None
        if not isinstance(dtype, np.dtype):
            raise pickle.UnpicklingError("joblib array wrapper whose dtype is not a literal "
                                         "numpy dtype")
        if not isinstance(shape, (tuple, list)) or not all(
                type(d) is int and d >= 0 for d in shape):
            raise pickle.UnpicklingError("joblib array wrapper whose shape is not literal "
                                         "non-negative integers")
        self.walk.arrays += 1
        if dtype.hasobject:
            nested = ModelUnpickler(self.raw, extra=self.extra, real=self.real, arrays=False,
                                    walk=self.walk, owner=self)
            array = nested.load()
            if self.real and not isinstance(array, np.ndarray):
                raise pickle.UnpicklingError("a joblib object array's nested pickle did not "
                                             "build an array")
            return _native(array) if self.real else array
        count = 1
        for d in shape:
            count *= d
        if getattr(wrapper, "numpy_array_alignment_bytes", None) is not None:
            pad = self.raw.read(1)
            if len(pad) != 1 or len(self.raw.read(pad[0])) != pad[0]:
                raise pickle.UnpicklingError("joblib array padding runs past the end of the file")
        if dtype.itemsize == 0:
            raise pickle.UnpicklingError("joblib array of a zero-size dtype")
        size = count * dtype.itemsize
        data = self.raw.read(size)
        if len(data) != size:
            raise pickle.UnpicklingError(f"joblib array data runs past the end of the file "
                                         f"({size} bytes announced, {len(data)} present)")
        array = np.frombuffer(data, dtype=dtype, count=count)
        if self.real:
            array = array.copy()
        array = array.reshape(tuple(shape)[::-1]).transpose() if order == "F" \
            else array.reshape(tuple(shape))
        return _native(array) if self.real else array


def _native(array: Any) -> Any:
    """joblib.load's default `ensure_native_byte_order`: swap foreign-endian arrays."""
    dt = array.dtype
    foreign = ">" if sys.byteorder == "little" else "<"
    if dt.byteorder == foreign or (dt.byteorder == "|" and dt.fields and all(
            f[0].byteorder == foreign for f in dt.fields.values())):
        return array.byteswap().view(dt.newbyteorder("="))
    return array


def _run(payload: bytes, unpickler: ModelUnpickler) -> Any:
    value = unpickler.load()
    frame = unpickler._unframer.current_frame
    rest = len(payload) - unpickler.raw.tell() + (len(frame.getbuffer()) - frame.tell()
                                                   if frame is not None else 0)
    if rest:
        raise ScanError(f"{rest} bytes follow the end of the pickle (STOP): the file is more "
                        f"than one thing (another pickle, a zip, or padding)")
    return value


def scan(payload: bytes, extra: Iterable[str] = frozenset(), *, arrays: bool,
         storages: Callable[[Any, Any], Any] | None = None) -> Walk:
    """Walk one pickle stream without running it. Raises `ScanError` when it cannot be read
    to its end exactly as the loader would read it."""
    walk = Walk()
    raw = io.BytesIO(payload)
    try:
        _run(payload, ModelUnpickler(raw, extra=extra, real=False, arrays=arrays, walk=walk,
                                     storages=storages))
    except ScanError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever stops the walk makes the file unverifiable
        raise ScanError(f"not a pickle stream the scanner can follow ({type(exc).__name__}: "
                        f"{exc}, near byte {raw.tell()})") from None
    return walk


def scan_prefix(payload: bytes, extra: Iterable[str] = frozenset()) -> Walk:
    """Walk as `pickle.load` reads a joblib file: the array bytes as opcodes, up to where
    the stream breaks. What it found before breaking would have run; nothing after."""
    walk = Walk()
    try:
        ModelUnpickler(io.BytesIO(payload), extra=extra, real=False, arrays=False,
                       walk=walk).load()
    except Exception:  # noqa: BLE001, S110 - pickle.load stops there too
        pass
    return walk


def load(payload: bytes, extra: Iterable[str] = frozenset(), *, arrays: bool,
         storages: Callable[[Any, Any], Any] | None = None) -> Any:
    """Build the object, refusing (`Refused`) what `scan` reports. Other errors propagate."""
    return _run(payload, ModelUnpickler(io.BytesIO(payload), extra=extra, real=True,
                                        arrays=arrays, storages=storages))
