"""Turn a `model:` reference into an object with predict / predict_proba, safely."""
from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

from .errors import SubjectError, UnsafeModelError

#: which declared `format:` a file's content may be read as: joblib.load reads plain
#: pickles too; pickle.load cannot read joblib's arrays or compression
_AGREES = {"pickle": {"pickle"}, "joblib": {"pickle", "joblib"}, "skops": {"skops"},
           "torch": {"torch"}}


def model_format(path: Path, declared: str | None, content: str) -> str:
    """The format a model file is loaded as: what its content is (`model_scan`), never its
    name. A `format:` declared in mlqa.yaml must agree with the content, else the file is
    refused — a declared format that the bytes contradict is how a polyglot slips through."""
    if declared is None:
        return content
    if declared not in _AGREES:
        raise SubjectError(f"unknown model format `{declared}` for {path.name}: use one of "
                           f"{', '.join(sorted(_AGREES))}")
    if content not in _AGREES[declared]:
        raise SubjectError(f"refusing to load {path}: it is declared `format: {declared}` but "
                           f"its content is a {content} file")
    return content


def load_model_file(path: Path, fmt: str | None = None, trusted: tuple[str, ...] = ()) -> Any:
    """Load a model file: its bytes are read once, scanned (`model_scan.inspect_bytes`) and,
    when nothing is found, built from those same bytes by the restricted reader the scan
    models (pickle, joblib, PyTorch state_dict) or by skops with the reviewed `trusted` types.
    A file that cannot be verified raises `SubjectError`; one with findings `UnsafeModelError`
    (skops: `SubjectError` naming the types to review)."""
    from . import _pickle_model
    from ._model_sniff import not_a_model
    from .model_scan import inspect_bytes
    path = Path(path)
    extra = frozenset(trusted)
    why = not_a_model(path)
    if why is not None:
        raise SubjectError(f"{path} is not a model file: {why}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SubjectError(f"cannot read model file {path}: {exc}") from None
    try:
        report, decoded = inspect_bytes(data, str(path), extra)
    except ValueError as exc:
        raise SubjectError(f"refusing to load {path}: it is not a model file the scanner can "
                           f"verify ({exc})") from None
    kind = model_format(path, fmt, decoded.kind)
    if kind == "skops":
        return _load_skops(path, trusted, data, [f["global"] for f in report.findings])
    if report.findings:
        raise UnsafeModelError(path, report.findings)
    if kind == "torch":
        from .model_scan import torch_storages
        try:
            import torch  # noqa: F401
        except ImportError:
            raise SubjectError("loading a PyTorch checkpoint needs torch (pip install torch)") from None
        return _restricted_load(lambda: _pickle_model.load(
            decoded.payload, extra, arrays=False,
            storages=torch_storages(decoded.records, decoded.prefix)), path)
    return _restricted_load(lambda: _pickle_model.load(decoded.payload, extra,
                                                       arrays=kind == "joblib"), path)


def _restricted_load(build: Any, path: Path) -> Any:
    """Run the restricted reader; what the scan would have reported is `UnsafeModelError`,
    anything else that stops it a `SubjectError` (never a half-built model)."""
    from . import _pickle_model
    try:
        return build()
    except _pickle_model.Refused as exc:
        raise UnsafeModelError(path, [exc.finding]) from None
    except (MemoryError, RecursionError) as exc:
        raise SubjectError(f"cannot load {path}: {type(exc).__name__}") from None
    except Exception as exc:  # noqa: BLE001 - whatever the restricted reader met
        raise SubjectError(f"cannot load {path}: {type(exc).__name__}: {exc}") from None


def _load_skops(path: Path, trusted: tuple[str, ...], data: bytes, unknown: list[str]) -> Any:
    """A skops archive, its bytes already scanned: `unknown` are the types skops does not
    trust by default and the model's `trusted:` does not list."""
    try:
        from skops import io as sio
    except ImportError:
        raise SubjectError("loading .skops files needs skops (pip install skops)") from None
    if unknown:
        raise SubjectError(
            f"{path.name} contains types skops does not trust by default: {', '.join(unknown)}. "
            f"If you trust them, list them under `trusted:` of this model in mlqa.yaml.")
    try:
        untrusted = sio.get_untrusted_types(data=data)
        return sio.loads(data, trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001 - skops raises many kinds on a bad archive
        raise SubjectError(f"cannot read skops file {path}: {exc}") from None


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
    if callable(obj) and not hasattr(obj, "predict") and not isinstance(obj, type) or isinstance(obj, type):
        obj = obj()
    return obj
