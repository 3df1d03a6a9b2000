"""A corpus of malicious model files, each with a benign twin, built in code (no binaries).

Every malicious payload tries to create the file `marker` (in the test's tmp folder) when
its native loader reads it — `pickle.load`, `joblib.load`, `torch.load(weights_only=False)`,
`numpy.load(allow_pickle=True)` — and the corpus test runs those loaders in a subprocess to
prove the payloads are live; the ones marked `live=False` (unbounded allocations, class
mutation) would exhaust memory or change a class instead. Streams are hand-assembled from
pickle opcodes (`pickletools` names in comments) so each uses exactly the trick it is named
after; the joblib, PyTorch and skops families use the real libraries to write the rest.

A case's `malicious(folder, marker)` / `benign(folder)` write their files into `folder` and
return the name of the model file.
"""
from __future__ import annotations

import functools
import io
import os
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# ------------------------------------------------------------------------------ opcodes
MARK, TUPLE, REDUCE, STOP, BUILD = b"(", b"t", b"R", b".", b"b"
EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT, NONE = b")", b"]", b"}", b"N"
TRUE, FALSE, POP, DUP, MEMOIZE, NEWOBJ = b"\x88", b"\x89", b"0", b"2", b"\x94", b"\x81"
APPENDS, SETITEMS, STACK_GLOBAL = b"e", b"u", b"\x93"


def proto(n: int) -> bytes:
    return b"\x80" + bytes([n])


def s(text: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE."""
    raw = text.encode()
    return (b"\x8c" + bytes([len(raw)]) if len(raw) < 256 else b"X" + struct.pack("<I", len(raw))) + raw


def by(data: bytes) -> bytes:
    """SHORT_BINBYTES / BINBYTES."""
    return (b"C" + bytes([len(data)]) if len(data) < 256 else b"B" + struct.pack("<I", len(data))) + data


def i(n: int) -> bytes:
    """BININT / LONG1."""
    if -(2 ** 31) <= n < 2 ** 31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def f(x: float) -> bytes:
    """BINFLOAT."""
    return b"G" + struct.pack(">d", x)


def g(module: str, name: str) -> bytes:
    """GLOBAL (text form, every protocol)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def sg(module: str, name: str) -> bytes:
    """STACK_GLOBAL (protocol 4)."""
    return s(module) + s(name) + STACK_GLOBAL


def call(fn: bytes, *args: bytes) -> bytes:
    """fn(*args) with MARK ... TUPLE REDUCE."""
    return fn + MARK + b"".join(args) + TUPLE + REDUCE


def lst(*items: bytes) -> bytes:
    return EMPTY_LIST + (MARK + b"".join(items) + APPENDS if items else b"")


def p4(body: bytes) -> bytes:
    return proto(4) + body + STOP


# ------------------------------------------------------------------------------ payloads
def cmd(marker: Path) -> str:
    return f"touch {marker}"


def code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').close()"


def os_system(marker: Path) -> bytes:
    return p4(call(sg("os", "system"), s(cmd(marker))))


def _import(module: str) -> bytes:
    return call(sg("importlib", "import_module"), s(module))


@functools.lru_cache(maxsize=1)
def fitted():
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    X = np.random.default_rng(0).normal(size=(40, 3))
    return LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))


class Reduce:
    """Pickles as func(*args): the classic payload, for the library-written families."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _write(folder: Path, name: str, data: bytes) -> str:
    (folder / name).write_bytes(data)
    return name


def _pickle_case(body: Callable[[Path], bytes], name: str = "model.pkl"):
    return lambda folder, marker: _write(folder, name, body(marker))


def _benign(body: bytes, name: str = "model.pkl"):
    return lambda folder: _write(folder, name, body)


def _joblib(obj, folder: Path, name: str, compress) -> str:
    import joblib
    joblib.dump(obj, folder / name, compress=compress)
    return name


def _torch_save(obj, folder: Path, name: str = "model.pt") -> str:
    import torch
    torch.save(obj, folder / name)
    return name


def _state_dict():
    import torch
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).state_dict()


def _torch_bytes(obj) -> bytes:
    import torch
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _skops_bytes() -> bytes:
    from skops import io as sio
    return sio.dumps(fitted())


def _torch_with_data_pkl(data_pkl: bytes) -> bytes:
    """A real checkpoint's records with its data.pkl replaced (written by zipfile)."""
    src = zipfile.ZipFile(io.BytesIO(_torch_bytes(_state_dict())))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name in src.namelist():
            zf.writestr(name, data_pkl if name.endswith("/data.pkl") else src.read(name))
    return out.getvalue()


# ------------------------------------------------------------------------------ the cases
@dataclass(frozen=True)
class Case:
    name: str
    family: str
    loader: str            # the native loader that runs the payload: pickle, joblib, torch
    malicious: Callable[[Path, Path], str]
    benign: Callable[[Path], str]
    live: bool = True      # the payload creates the marker under its native loader


SKLEARN = __import__("sklearn").__version__
ORDERED_DICT = p4(call(sg("collections", "OrderedDict")))
SMALL_SET = p4(call(sg("builtins", "set"), lst(i(1), i(2))))
NESTED_ALLOWED = p4(call(sg("builtins", "set"), call(sg("builtins", "frozenset"), lst(i(3)))))
DTYPE_F8 = call(sg("numpy", "dtype"), s("f8"), FALSE, TRUE) + \
    MARK + i(3) + s("<") + NONE + NONE + NONE + i(-1) + i(-1) + i(0) + TUPLE + BUILD
ARRAY_3 = p4(call(sg("numpy._core.multiarray", "_reconstruct"), sg("numpy", "ndarray"),
                  MARK + i(0) + TUPLE, by(b"b")) +
             MARK + i(1) + MARK + i(3) + TUPLE + DTYPE_F8 + FALSE + by(struct.pack("<3d", 1, 2, 3))
             + TUPLE + BUILD)


def _nested_pickle(marker: Path) -> bytes:
    return p4(call(sg("pickle", "loads"), by(os_system(marker))))


def _torch_load_chain(folder: Path, marker: Path) -> str:
    (folder / "side.pt").write_bytes(_torch_bytes({"x": Reduce(os.system, cmd(marker))}))
    state = MARK + sg("torch", "load") + EMPTY_TUPLE + EMPTY_DICT + MARK + s("weights_only") + \
        FALSE + SETITEMS + NONE + TUPLE
    body = call(sg("functools", "partial"), sg("torch", "load")) + state + BUILD + \
        MARK + s(str(folder / "side.pt")) + TUPLE + REDUCE
    return _write(folder, "model.pkl", p4(body))


def _numpy_load_sidecar(folder: Path, marker: Path) -> str:
    (folder / "side.pkl").write_bytes(os_system(marker))
    return _write(folder, "model.pkl", p4(call(sg("numpy", "load"), s(str(folder / "side.pkl")),
                                               NONE, TRUE)))


def _read_array_sidecar(folder: Path, marker: Path) -> str:
    import numpy as np
    np.save(folder / "side.npy", np.array([Reduce(os.system, cmd(marker)), 1], dtype=object),
            allow_pickle=True)
    opened = call(sg("builtins", "open"), s(str(folder / "side.npy")), s("rb"))
    return _write(folder, "model.pkl", p4(call(sg("numpy.lib.format", "read_array"), opened, TRUE)))


def _ndarray_wrapper(folder: Path, marker: Path) -> str:
    """A joblib file whose array is joblib < 0.10's NDArrayWrapper: joblib.load hands the
    sidecar it names to numpy.load(allow_pickle=True)."""
    (folder / "side.npy").write_bytes(os_system(marker))
    body = sg("joblib.numpy_pickle_compat", "NDArrayWrapper") + EMPTY_TUPLE + NEWOBJ + \
        EMPTY_DICT + MARK + s("filename") + s("side.npy") + s("subclass") + sg("numpy", "ndarray") + \
        s("allow_mmap") + FALSE + SETITEMS + BUILD
    return _write(folder, "model.joblib", p4(body))


def _shutil_copy(folder: Path, marker: Path) -> str:
    (folder / "src.txt").write_text("x")
    return _write(folder, "model.pkl", p4(call(sg("shutil", "copyfile"), s(str(folder / "src.txt")),
                                               s(str(marker)))))


def _methodcaller(method: str, target: bytes, *args: bytes) -> bytes:
    return call(call(sg("operator", "methodcaller"), s(method), *args), target)


def _joblib_pair(kind, label):
    ext = {0: "joblib", "zlib": "joblib.z", "gzip": "joblib.gz", "bz2": "joblib.bz2",
           "xz": "joblib.xz", "lzma": "joblib.lzma"}[kind]
    compress = 0 if kind == 0 else (kind, 3)
    return Case(
        f"joblib-{label}-os-system", "compressed joblib" if kind else "joblib", "joblib",
        lambda folder, marker: _joblib({"w": __import__("numpy").arange(3.0),
                                        "x": Reduce(os.system, cmd(marker))}, folder,
                                       f"model.{ext}", compress),
        lambda folder: _joblib(fitted(), folder, f"model.{ext}", compress))


class _NoTell(io.BytesIO):
    """A stream joblib cannot ask for its position: it then writes arrays unpadded (as
    joblib <= 1.1 always did)."""

    def tell(self) -> int:
        raise io.UnsupportedOperation("tell")


def joblib_unpadded(obj) -> bytes:
    import joblib
    buf = _NoTell()
    joblib.dump(obj, buf)
    return buf.getvalue()


def _array_bytes_as_opcodes(folder: Path, marker: Path) -> str:
    """A valid joblib file whose array data is a pickle: joblib.load reads it as numbers,
    pickle.load (which knows nothing of joblib's arrays) runs it."""
    import numpy as np
    payload = b"cos\nsystem\n(V" + cmd(marker).encode() + b"\ntR."
    return _write(folder, "model.joblib", joblib_unpadded({"a": np.frombuffer(payload, "u1")}))


def _object_array(marker: Path):
    import numpy as np
    return {"o": np.array([Reduce(os.system, cmd(marker)), 1], dtype=object)}


def _structured(value):
    import numpy as np
    arr = np.empty(1, dtype=[("a", "O"), ("b", "f8")])
    arr[0] = (value, 1.0)
    return {"s": arr}


CASES: list[Case] = [
    # -------- imports by every opcode that names a global
    Case("global-os-system-protocol-0", "GLOBAL", "pickle",
         _pickle_case(lambda m: b"cos\nsystem\n(V" + cmd(m).encode() + b"\ntR."),
         _benign(b"ccollections\nOrderedDict\n(tR.")),
    Case("global-posix-system", "GLOBAL", "pickle",
         _pickle_case(lambda m: proto(2) + call(g("posix", "system"), s(cmd(m))) + STOP),
         _benign(proto(2) + call(g("builtins", "set"), EMPTY_LIST) + STOP)),
    Case("python2-builtin-eval", "GLOBAL", "pickle",
         _pickle_case(lambda m: b"c__builtin__\neval\n(V" + code(m).encode() + b"\ntR."),
         _benign(b"c__builtin__\nset\n(]tR.")),
    Case("stack-global-os-system", "STACK_GLOBAL", "pickle", _pickle_case(os_system),
         _benign(ORDERED_DICT)),
    Case("stack-global-exec", "STACK_GLOBAL", "pickle",
         _pickle_case(lambda m: p4(call(sg("builtins", "exec"), s(code(m))))),
         _benign(p4(call(sg("builtins", "frozenset"), EMPTY_LIST)))),
    Case("stack-global-eval", "STACK_GLOBAL", "pickle",
         _pickle_case(lambda m: p4(call(sg("builtins", "eval"), s(code(m))))),
         _benign(p4(call(sg("builtins", "complex"), f(1.0), f(2.0))))),
    Case("inst-os-system", "INST", "pickle",
         _pickle_case(lambda m: b"(V" + cmd(m).encode() + b"\nios\nsystem\n."),
         _benign(b"(icollections\nOrderedDict\n.")),
    Case("obj-os-system", "OBJ", "pickle",
         _pickle_case(lambda m: proto(2) + MARK + g("os", "system") + s(cmd(m)) + b"o" + STOP),
         _benign(proto(2) + MARK + g("collections", "OrderedDict") + b"o" + STOP)),
    Case("memo-stack-global", "memo tricks", "pickle",
         _pickle_case(lambda m: p4(s("os") + MEMOIZE + s("system") + MEMOIZE + POP + POP +
                                   b"h\x00h\x01" + STACK_GLOBAL + MARK + s(cmd(m)) + TUPLE + REDUCE)),
         _benign(p4(s("collections") + MEMOIZE + s("OrderedDict") + MEMOIZE + POP + POP +
                    b"h\x00h\x01" + STACK_GLOBAL + EMPTY_TUPLE + REDUCE))),
    Case("memo-put-dup-shuffle", "memo tricks", "pickle",
         _pickle_case(lambda m: p4(s("system") + b"q\x07" + POP + s("posix") + DUP + b"q\x05" + POP
                                   + POP + b"h\x05h\x07" + STACK_GLOBAL + MARK + s(cmd(m)) + TUPLE
                                   + REDUCE)),
         _benign(p4(s("frozenset") + b"q\x07" + POP + s("builtins") + DUP + b"q\x05" + POP + POP +
                    b"h\x05h\x07" + STACK_GLOBAL + MARK + EMPTY_LIST + TUPLE + REDUCE))),
    # -------- attribute chains and indirect calls
    Case("getattr-import-chain", "getattr chains", "pickle",
         _pickle_case(lambda m: p4(call(call(sg("builtins", "getattr"),
                                             call(sg("builtins", "__import__"), s("os")), s("system")),
                                        s(cmd(m))))),
         _benign(NESTED_ALLOWED)),
    Case("importlib-attrgetter", "importlib", "pickle",
         _pickle_case(lambda m: p4(call(call(call(sg("operator", "attrgetter"), s("system")),
                                             _import("os")), s(cmd(m))))),
         _benign(NESTED_ALLOWED)),
    Case("operator-methodcaller", "operator", "pickle",
         _pickle_case(lambda m: p4(_methodcaller("system", _import("os"), s(cmd(m))))),
         _benign(SMALL_SET)),
    Case("functools-partial-call", "functools.partial", "pickle",
         _pickle_case(lambda m: p4(call(sg("functools", "partial"), sg("os", "system"), s(cmd(m)))
                                   + EMPTY_TUPLE + REDUCE)),
         _benign(p4(call(sg("functools", "partial"), sg("sklearn.utils.validation", "check_array"))))),
    Case("functools-partial-setstate", "functools.partial", "pickle",
         _pickle_case(lambda m: p4(call(sg("functools", "partial"),
                                        sg("sklearn.utils.validation", "check_array")) +
                                   MARK + sg("builtins", "exec") + MARK + s(code(m)) + TUPLE +
                                   EMPTY_DICT + NONE + TUPLE + BUILD + EMPTY_TUPLE + REDUCE)),
         _benign(p4(call(sg("functools", "partial"), sg("sklearn.utils.validation", "check_array")) +
                    MARK + sg("sklearn.utils.validation", "check_array") + EMPTY_TUPLE + EMPTY_DICT +
                    NONE + TUPLE + BUILD))),
    Case("runpy-run-module-code", "runpy", "pickle",
         _pickle_case(lambda m: p4(call(sg("runpy", "_run_module_code"), s(code(m)), NONE,
                                        s("corpus")))),
         _benign(SMALL_SET)),
    Case("subprocess-check-call", "subprocess", "pickle",
         _pickle_case(lambda m: p4(call(sg("subprocess", "check_call"), lst(s("touch"), s(str(m)))))),
         _benign(p4(call(sg("builtins", "set"), lst(s("touch"), s("x")))))),
    Case("webbrowser-generic-browser", "webbrowser", "pickle",
         _pickle_case(lambda m: p4(_methodcaller("open", call(sg("webbrowser", "GenericBrowser"),
                                                              lst(s("touch"), s(str(m)))), s("x")))),
         _benign(SMALL_SET)),
    Case("code-interactive-interpreter", "code", "pickle",
         _pickle_case(lambda m: p4(_methodcaller("runsource",
                                                 call(sg("code", "InteractiveInterpreter")),
                                                 s(code(m))))),
         _benign(ORDERED_DICT)),
    Case("pickle-loads-nested", "nested pickles", "pickle", _pickle_case(_nested_pickle),
         _benign(p4(call(sg("builtins", "bytearray"), by(ORDERED_DICT))))),
    Case("_pickle-loads-nested", "nested pickles", "pickle",
         _pickle_case(lambda m: p4(call(sg("_pickle", "loads"), by(os_system(m))))),
         _benign(p4(call(sg("builtins", "bytes"), by(b"abc"))))),
    Case("builtins-open", "files", "pickle",
         _pickle_case(lambda m: p4(call(sg("builtins", "open"), s(str(m)), s("w")))),
         _benign(p4(call(sg("builtins", "slice"), i(1), i(2), NONE)))),
    Case("io-fileio", "files", "pickle",
         _pickle_case(lambda m: p4(call(sg("_io", "FileIO"), s(str(m)), s("w")))),
         _benign(p4(call(sg("builtins", "bytearray"), by(b"abc"))))),
    Case("pathlib-touch", "files", "pickle",
         _pickle_case(lambda m: p4(_methodcaller("touch", call(sg("pathlib", "Path"), s(str(m)))))),
         _benign(SMALL_SET)),
    Case("logging-filehandler", "files", "pickle",
         _pickle_case(lambda m: p4(call(sg("logging", "FileHandler"), s(str(m))))),
         _benign(ORDERED_DICT)),
    Case("shutil-copyfile", "files", "pickle", _shutil_copy, _benign(SMALL_SET)),
    # -------- helpers of allowed packages that run code or unpickle
    Case("numpy-testing-runstring", "numpy helpers", "pickle",
         _pickle_case(lambda m: p4(call(sg("numpy.testing._private.utils", "runstring"), s(code(m)),
                                        EMPTY_DICT))),
         _benign(ARRAY_3)),
    Case("numpy-f2py-myeval", "numpy helpers", "pickle",
         _pickle_case(lambda m: p4(call(sg("numpy.f2py.crackfortran", "myeval"), s(code(m))))),
         _benign(ARRAY_3)),
    Case("numpy-load-sidecar", "numpy helpers", "pickle", _numpy_load_sidecar, _benign(ARRAY_3)),
    Case("numpy-lib-format-read-array", "numpy helpers", "pickle", _read_array_sidecar,
         _benign(ARRAY_3)),
    Case("torch-load-chain", "torch.load chains", "pickle", _torch_load_chain,
         lambda folder: _torch_save(_state_dict(), folder)),
    # -------- re-exported foreign names under sklearn.*
    Case("sklearn-reexported-gzipfile", "re-exported classes", "pickle",
         _pickle_case(lambda m: p4(call(sg("sklearn.datasets._covtype", "GzipFile"), s(str(m)),
                                        s("wb")))),
         _benign(p4(sg("sklearn.preprocessing._data", "StandardScaler") + EMPTY_TUPLE + NEWOBJ +
                    EMPTY_DICT + s("_sklearn_version") + s(SKLEARN) + b"s" + BUILD))),
    Case("sklearn-reexported-makedirs", "re-exported classes", "pickle",
         _pickle_case(lambda m: p4(call(sg("sklearn.datasets._base", "makedirs"), s(str(m))))),
         _benign(p4(call(sg("sklearn.utils._bunch", "Bunch"))))),
    # -------- joblib: plain, compressed, nested pickles, legacy wrappers
    _joblib_pair(0, "plain"),
    _joblib_pair("zlib", "zlib"),
    _joblib_pair("gzip", "gzip"),
    _joblib_pair("bz2", "bz2"),
    _joblib_pair("xz", "xz"),
    _joblib_pair("lzma", "lzma"),
    Case("joblib-object-array-nested-pickle", "nested pickles", "joblib",
         lambda folder, marker: _joblib(_object_array(marker), folder, "model.joblib", 0),
         lambda folder: _joblib({"o": __import__("numpy").array(["a", 1], dtype=object)}, folder,
                                "model.joblib", 0)),
    Case("joblib-structured-object-field", "nested pickles", "joblib",
         lambda folder, marker: _joblib(_structured(Reduce(os.system, cmd(marker))), folder,
                                        "model.joblib", 0),
         lambda folder: _joblib(_structured("benign"), folder, "model.joblib", 0)),
    Case("joblib-structured-object-field-gzip", "nested pickles", "joblib",
         lambda folder, marker: _joblib(_structured(Reduce(os.system, cmd(marker))), folder,
                                        "model.joblib", ("gzip", 3)),
         lambda folder: _joblib(_structured("benign"), folder, "model.joblib", ("gzip", 3))),
    Case("joblib-array-bytes-run-by-pickle-load", "polyglots", "pickle", _array_bytes_as_opcodes,
         lambda folder: _write(folder, "model.joblib", joblib_unpadded({"a": __import__("numpy")
                                                                         .arange(30, dtype="u1")}))),
    Case("joblib-ndarraywrapper-sidecar", "NDArrayWrapper sidecar", "joblib", _ndarray_wrapper,
         lambda folder: _joblib({"a": __import__("numpy").arange(4.0)}, folder, "model.joblib", 0)),
    # -------- PyTorch zips
    Case("torch-zip-os-system", "torch zip", "torch",
         lambda folder, marker: _torch_save({**_state_dict(), "x": Reduce(os.system, cmd(marker))},
                                            folder),
         lambda folder: _torch_save(_state_dict(), folder)),
    Case("torch-zip-data-pkl-exec-memo", "torch zip", "torch",
         lambda folder, marker: _write(folder, "model.pt", _torch_with_data_pkl(proto(2) + s("builtins")
                                       + b"q\x00" + s("exec") + b"q\x01" + POP + POP + b"h\x00h\x01"
                                       + STACK_GLOBAL + MARK + s(code(marker)) + TUPLE + REDUCE
                                       + STOP)),
         lambda folder: _write(folder, "model.pt", _torch_bytes(_state_dict()))),
    # -------- files that are more than one thing
    Case("pickle-then-torch-zip", "polyglots", "pickle",
         lambda folder, marker: _write(folder, "model.pt", os_system(marker) +
                                       _torch_bytes(_state_dict())),
         lambda folder: _write(folder, "model.pt", _torch_bytes(_state_dict()))),
    Case("pickle-prefix-then-skops-zip", "polyglots", "pickle",
         lambda folder, marker: _write(folder, "model.skops", os_system(marker) + _skops_bytes()),
         lambda folder: _write(folder, "model.skops", _skops_bytes())),
    Case("pickle-named-skops", "polyglots", "pickle",
         _pickle_case(os_system, "model.skops"),
         lambda folder: _write(folder, "model.skops", _skops_bytes())),
    Case("pickle-then-trailing-pickle", "polyglots", "pickle",
         lambda folder, marker: _write(folder, "model.pkl", os_system(marker) + ORDERED_DICT),
         _benign(ORDERED_DICT)),
    # -------- unbounded allocations (no marker: they exhaust memory instead)
    Case("alloc-list-range", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("builtins", "list"), call(sg("builtins", "range"),
                                                                     i(400_000_000))))),
         _benign(SMALL_SET), live=False),
    Case("alloc-bytearray-size", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("builtins", "bytearray"), i(4_000_000_000)))),
         _benign(p4(call(sg("builtins", "bytearray"), by(b"abc")))), live=False),
    Case("alloc-reconstructor-bytes", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("copyreg", "_reconstructor"), sg("builtins", "bytes"),
                                        sg("builtins", "bytes"), i(4_000_000_000)))),
         _benign(p4(call(sg("copyreg", "_reconstructor"), sg("collections", "OrderedDict"),
                         sg("builtins", "dict"), EMPTY_DICT))), live=False),
    Case("alloc-numpy-reconstruct-shape", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("numpy._core.multiarray", "_reconstruct"),
                                        sg("numpy", "ndarray"), MARK + i(10 ** 11) + TUPLE,
                                        by(b"b")))),
         _benign(ARRAY_3), live=False),
    Case("alloc-randomstate-ctor", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("numpy.random._pickle", "__randomstate_ctor"),
                                        i(4_000_000_000), sg("builtins", "bytearray")))),
         _benign(p4(call(sg("numpy.random._pickle", "__randomstate_ctor"), s("MT19937")))),
         live=False),
    Case("alloc-numpy-scalar-huge-dtype", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("numpy._core.multiarray", "scalar"),
                                        call(sg("numpy", "dtype"), s("V2000000000"), FALSE, TRUE),
                                        by(b"")))),
         _benign(p4(call(sg("numpy._core.multiarray", "scalar"),
                         call(sg("numpy", "dtype"), s("f8"), FALSE, TRUE) + MARK + i(3) + s("<") +
                         NONE + NONE + NONE + i(-1) + i(-1) + i(0) + TUPLE + BUILD,
                         by(struct.pack("<d", 2.5))))),
         live=False),
    Case("alloc-codecs-encode-trick", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("_codecs", "encode"), s("x" * 200), s("utf-32")))),
         _benign(p4(call(sg("_codecs", "encode"), s("abc"), s("latin1")))), live=False),
    Case("alloc-partial-of-constructor", "unbounded allocations", "pickle",
         _pickle_case(lambda m: p4(call(sg("functools", "partial"), sg("builtins", "bytearray"),
                                        i(4_000_000_000)))),
         _benign(p4(call(sg("functools", "partial"), sg("sklearn.utils.validation", "check_array")))),
         live=False),
    # -------- changing a class for every later model (no marker)
    Case("build-sets-attributes-of-a-class", "class mutation", "pickle",
         _pickle_case(lambda m: p4(sg("sklearn.linear_model._logistic", "LogisticRegression") +
                                   MARK + NONE + EMPTY_DICT + s("predict") + sg("builtins", "bytearray")
                                   + b"s" + TUPLE + BUILD)),
         _benign(p4(sg("sklearn.linear_model._logistic", "LogisticRegression") + EMPTY_TUPLE + NEWOBJ +
                    EMPTY_DICT + s("C") + f(2.0) + b"s" + s("_sklearn_version") + s(SKLEARN) + b"s" +
                    BUILD)),
         live=False),
]

# the marker path the live payloads create, relative to each case's folder
MARKER = "marker"

#: run in a subprocess: load every live malicious file with its native loader
NATIVE_LOADER = r"""
import json, pickle, sys, time
from pathlib import Path
results = {}
for line in sys.stdin:
    case, loader, path = json.loads(line)
    try:
        if loader == "pickle":
            with open(path, "rb") as fh:
                pickle.load(fh)
        elif loader == "joblib":
            import joblib
            joblib.load(path)
        elif loader == "torch":
            import torch
            torch.load(path, weights_only=False)
    except BaseException as exc:  # the payload may raise after it ran
        pass
    results[case] = (Path(path).parent / "marker").exists()
print(json.dumps(results))
"""
