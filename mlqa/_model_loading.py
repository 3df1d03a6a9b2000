"""Turn a `model:` reference into an object with predict / predict_proba, safely."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from .errors import SubjectError, UnsafeModelError
from . import _pickle_scan

_SUFFIX_FORMAT = {".skops": "skops", ".joblib": "joblib", ".pkl": "pickle", ".pickle": "pickle",
                  ".sav": "pickle"}


def model_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise SubjectError(f"cannot tell the format of model file {path.name}: use a .skops, "
                           f".joblib or .pkl suffix, or declare `format:` (skops, joblib, pickle)")
    return fmt


def load_model_file(path: Path, fmt: str | None = None, trusted: tuple[str, ...] = ()) -> Any:
    """Load a model file. Pickle-based files are scanned before loading and refused when unsafe."""
    fmt = model_format(path, fmt)
    if fmt == "skops":
        return _load_skops(path, trusted)
    extra = frozenset(trusted)
    if fmt == "pickle":
        try:
            findings = _pickle_scan.scan_file(path, extra)
        except Exception as exc:
            raise SubjectError(f"refusing to load {path}: it is not a pickle stream the scanner can "
                               f"verify ({exc})") from None
        if findings:
            raise UnsafeModelError(path, findings)
        with open(path, "rb") as fh:
            unpickler = _pickle_scan.RestrictedUnpickler(fh)
            unpickler.extra = extra
            return _restricted_load(unpickler, path)
    # joblib: the static scan walks the stream symbolically (arrays sit between opcodes);
    # loading then goes through joblib's unpickler restricted to the same allowlist.
    from .model_scan import scan_model_file
    try:
        report = scan_model_file(path, extra)
    except ValueError as exc:
        raise SubjectError(f"refusing to load {path}: {exc}") from None
    if report.findings:
        raise UnsafeModelError(path, report.findings)
    try:
        from joblib import numpy_pickle
    except ImportError:  # pragma: no cover - joblib ships with scikit-learn
        raise SubjectError("loading .joblib files needs joblib (pip install joblib)") from None

    class _Restricted(numpy_pickle.NumpyUnpickler):
        def find_class(self, module: str, name: str):
            if not _pickle_scan.is_safe_global(module, name, extra):
                import pickle
                raise pickle.UnpicklingError(f"global {module}.{name} is not on the allowlist")
            return super().find_class(module, name)

    import inspect
    kwargs = {}
    if "ensure_native_byte_order" in inspect.signature(numpy_pickle.NumpyUnpickler.__init__).parameters:
        kwargs["ensure_native_byte_order"] = True
    with open(path, "rb") as raw:
        with numpy_pickle._validate_fileobject_and_memmap(raw, str(path), None) as (fobj, _):
            if isinstance(fobj, str):
                raise SubjectError(f"refusing to load {path}: a joblib file older than 0.10, whose "
                                   f"format the allowlist cannot verify; re-save it with skops")
            return _restricted_load(_Restricted(str(path), fobj, **kwargs), path)


def _restricted_load(unpickler: Any, path: Path) -> Any:
    import pickle
    try:
        return unpickler.load()
    except pickle.UnpicklingError as exc:
        if "allowlist" in str(exc):
            raise UnsafeModelError(path, [{"global": str(exc).split()[1], "opcode": "GLOBAL",
                                           "position": -1}]) from None
        raise SubjectError(f"cannot load {path}: {exc}") from None


def _load_skops(path: Path, trusted: tuple[str, ...]) -> Any:
    try:
        from skops import io as sio
    except ImportError:
        raise SubjectError("loading .skops files needs skops (pip install skops)") from None
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:
        raise SubjectError(f"cannot read skops file {path}: {exc}") from None
    unknown = [t for t in untrusted if t not in trusted]
    if unknown:
        raise SubjectError(
            f"{path.name} contains types skops does not trust by default: {', '.join(unknown)}. "
            f"If you trust them, list them under `trusted:` of this model in mlqa.yaml.")
    return sio.load(path, trusted=list(untrusted))


def load_python_ref(ref: str, base: Path) -> Any:
    """`package.module:attr`: the object itself, or the result of calling a factory."""
    module_name, _, attr = ref.partition(":")
    added = str(base) not in sys.path
    if added:
        sys.path.insert(0, str(base))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SubjectError(f"cannot import `{module_name}` for model `{ref}`: {exc}") from None
    finally:
        if added:
            sys.path.remove(str(base))
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SubjectError(f"`{module_name}` has no attribute `{attr}` (model `{ref}`)")
        obj = getattr(obj, part)
    if callable(obj) and not hasattr(obj, "predict") and not isinstance(obj, type):
        obj = obj()
    elif isinstance(obj, type):
        obj = obj()
    return obj
