"""Models as checks see them: `Model` (an object called in mlqa's process) and
`RemoteModel` (the proxy of one loaded in a worker process), both held to the prediction
contract; `load_model` and `start_model` make them from a file or a `model:` section."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SubjectError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ._config_subjects import ModelRef


class Model:
    """Any object with `predict` (and `predict_proba` for probabilistic classifiers),
    or a plain callable ``f(X) -> predictions``, called in mlqa's own process.

    Models declared in mlqa.yaml run out of process (`RemoteModel`) unless the config
    says `isolation: in-process`. Either way every answer is checked against the
    prediction contract (`mlqa._contract`): a breach raises `ContractError`, so the check
    that asked is `error`, never a pass."""

    #: where the model runs: "in-process" (this class) or "process" (`RemoteModel`)
    isolation = "in-process"

    def __init__(self, obj: Any, *, name: str = "model", source: Path | None = None) -> None:
        if isinstance(obj, Model):
            obj = obj.obj
        if not hasattr(obj, "predict") and not callable(obj):
            raise SubjectError(f"the {name} has no `predict` method and is not callable "
                               f"({type(obj).__name__}); wrap it in an object with predict(X)")
        self.obj = obj
        self._setup(name, source)

    def _setup(self, name: str, source: Path | None) -> None:
        self.name = name
        self.source = source
        self._expect: Any = None
        self._contract_done = True  # nothing to check until the data's expectation is bound
        self._contract_lock = threading.Lock()

    # ------------------------------------------------------------------ what the model offers
    @property
    def has_proba(self) -> bool:
        return hasattr(self.obj, "predict_proba")

    @property
    def classes(self) -> list | None:
        classes = getattr(self.obj, "classes_", None)
        return None if classes is None else list(classes)

    @property
    def classes_(self) -> Any:
        """scikit-learn's name for `classes`, so a `Model` stands in for an estimator."""
        import numpy as np
        classes = self.classes
        if classes is None:
            raise AttributeError("classes_")
        return np.asarray(classes)

    def _raw_predict(self, X: Any) -> "np.ndarray":
        import numpy as np
        fn = self.obj.predict if hasattr(self.obj, "predict") else self.obj
        return np.asarray(fn(X))

    def _raw_proba(self, X: Any) -> "np.ndarray":
        import numpy as np
        return np.asarray(self.obj.predict_proba(X), dtype=float)

    # ------------------------------------------------------------------ the contract
    def expect(self, expectation: Any) -> None:
        """Bind what the data says answers must look like (`mlqa._contract.Expectation`):
        the one-time agreement check runs on its sample before the first prediction."""
        self._expect = expectation
        self._contract_done = expectation is None or expectation.sample is None

    def _ensure_contract(self) -> None:
        if self._contract_done:
            return
        from .deadline import current
        deadline = current()
        while not self._contract_lock.acquire(timeout=0.05):  # never wait past the check's deadline
            deadline.check()
        try:
            if self._contract_done:
                return
            from ._contract import ContractError, agreement_breach
            sample = self._expect.sample
            pred = self._checked_predict(sample)
            if self.has_proba and self._expect.task == "classification":
                proba = self._checked_proba(sample)
                breach = agreement_breach(pred, proba, self.classes)
                if breach:
                    raise ContractError(f"the {self.name} breaks the prediction contract: {breach}")
            self._contract_done = True
        finally:
            self._contract_lock.release()

    def _checked_predict(self, X: Any) -> "np.ndarray":
        return self._check("predict", self._raw_predict(X), len(X))

    def _checked_proba(self, X: Any) -> "np.ndarray":
        return self._check("predict_proba", self._raw_proba(X), len(X))

    def _check(self, method: str, out: "np.ndarray", n: int) -> "np.ndarray":
        """`out` of `method` for n rows, or `ContractError` with what breaks the contract."""
        from ._contract import ContractError, predict_breach, proba_breach
        if method == "predict":
            breach = predict_breach(out, n, self._expect)
            out = out.ravel() if not breach and out.ndim == 2 else out
        elif out.dtype.kind not in "biuf":
            breach = f"predict_proba returned {out.dtype} values"
        else:
            out = out.astype(float, copy=False)
            breach = proba_breach(out, n, self.classes, self._expect)
        if breach:
            raise ContractError(f"the {self.name} breaks the prediction contract: {breach}")
        return out

    def timed(self, method: str, X: Any, *, trace_memory: bool = False) -> "tuple[np.ndarray, float, int | None]":
        """Call `predict` or `predict_proba` and measure it: the answer, the seconds it
        took as mlqa sees them (for a model in a worker, from request to answer: the pipe is
        included, a model cannot stop mlqa's clock) and, with `trace_memory`, the peak
        bytes Python allocated during the call (a worker's own report)."""
        if method not in ("predict", "predict_proba"):
            raise ValueError(f"timed() calls predict or predict_proba, not {method!r}")
        self._ensure_contract()
        out, seconds, peak = self._raw_timed(method, X, trace_memory)
        return self._check(method, out, len(X)), seconds, peak

    def _raw_timed(self, method: str, X: Any, trace_memory: bool) -> "tuple[np.ndarray, float, int | None]":
        import time
        import tracemalloc
        raw = self._raw_predict if method == "predict" else self._raw_proba
        if trace_memory:
            tracemalloc.start()
        try:
            t = time.perf_counter()
            out = raw(X)
            seconds = time.perf_counter() - t
            peak = tracemalloc.get_traced_memory()[1] if trace_memory else None
        finally:
            if trace_memory:
                tracemalloc.stop()
        return out, seconds, peak

    # ------------------------------------------------------------------ predictions
    def predict(self, X: Any) -> "np.ndarray":
        """Labels (or values) for the rows of X, checked against the contract."""
        self._ensure_contract()
        return self._checked_predict(X)

    def predict_proba(self, X: Any) -> "np.ndarray":
        """Class probabilities (columns in `classes` order), checked against the contract."""
        if not self.has_proba:
            raise SubjectError(f"the {self.name} has no predict_proba")
        self._ensure_contract()
        return self._checked_proba(X)

    def fit_clone(self, X: Any, y: Any) -> "Model":
        """An unfitted copy of this model (scikit-learn's `clone`) fitted on X, y — what
        shadow-model attacks train. Raises `SubjectError` when the model cannot be cloned."""
        from sklearn.base import clone
        try:
            template = clone(self.obj)
        except Exception as exc:  # noqa: BLE001
            raise SubjectError(f"the {self.name} cannot be cloned by scikit-learn: {exc}") from None
        return Model(template.fit(X, y), name=f"{self.name} (clone)")

    def close(self) -> None:
        """Release what the model holds (a worker process); nothing for in-process models."""


class RemoteModel(Model):
    """A model loaded and called in a worker process (`mlqa._model_process`): loading it
    runs no code in mlqa's process, its answers travel as plain arrays, and a check's
    deadline kills the worker. `obj` does not exist on this side."""

    isolation = "process"

    def __init__(self, process: Any, *, name: str = "model", source: Path | None = None,
                 handle: int = 0) -> None:
        self.process = process
        self.handle = handle
        self.generation: int | None = None  # a clone: the worker generation that holds it
        self._clone_info: dict[str, Any] | None = None
        self._setup(name, source)

    @property
    def obj(self) -> Any:
        raise SubjectError(f"the {self.name} runs in a worker process (isolation: process); there is no "
                           f"object in mlqa's process. Declare `isolation: in-process` for a trusted model "
                           f"whose object a test needs")

    def _info(self) -> dict[str, Any]:
        return self._clone_info if self._clone_info is not None else self.process.info()

    @property
    def has_proba(self) -> bool:
        return bool(self._info().get("has_proba"))

    @property
    def classes(self) -> list | None:
        return self._info().get("classes")

    def _raw_predict(self, X: Any) -> "np.ndarray":
        info = self._info()
        if not info.get("has_predict") and not info.get("callable"):
            raise SubjectError(f"the {self.name} ({info.get('type')}) has no `predict` method and is not callable")
        return self.process.call("predict", X=X, handle=self.handle, generation=self.generation)[1][0]

    def _raw_proba(self, X: Any) -> "np.ndarray":
        return self.process.call("predict_proba", X=X, handle=self.handle, generation=self.generation)[1][0]

    def _raw_timed(self, method: str, X: Any, trace_memory: bool) -> "tuple[np.ndarray, float, int | None]":
        # timed here, from request to answer (the pipe included): a model could stop its own clock
        import time
        t = time.perf_counter()
        header, arrays = self.process.call(method, X=X, handle=self.handle, trace_memory=trace_memory,
                                          generation=self.generation)
        seconds = time.perf_counter() - t
        peak = header.get("peak_bytes")  # as the worker reports it
        peak = int(peak) if isinstance(peak, (int, float)) and 0 <= peak < float("inf") else None
        return arrays[0], seconds, peak

    def fit_clone(self, X: Any, y: Any) -> "Model":
        header, arrays = self.process.call("clone_fit", X=X, y=y, handle=self.handle,
                                           generation=self.generation)
        clone = RemoteModel(self.process, name=f"{self.name} (clone)", handle=int(header["handle"]))
        clone.generation = self.process.generation
        clone._clone_info = {**header, "classes": arrays[0].tolist() if header.get("has_classes") and arrays
                             else None}
        return clone

    def close(self) -> None:
        """Kill the worker (the loaded model), or drop a fitted clone from it."""
        if self.handle == 0:
            self.process.close()
            return
        try:
            self.process.call("drop", handle=self.handle, generation=self.generation)
        except SubjectError:  # the worker is gone: so is the clone
            pass


def load_model(path: Path, format: str | None = None, trusted: tuple[str, ...] = (), *,
               name: str = "model") -> Model:
    """A model file loaded into this process as a `Model` (what `mlqa serve` serves): skops
    through its type allowlist; pickle and joblib scanned statically and loaded through an
    allowlisted unpickler (`UnsafeModelError` when the file imports anything else)."""
    from ._model_loading import load_model_file
    return Model(load_model_file(path, format, trusted), name=name, source=path)


def start_model(ref: "ModelRef", base: Path, *, name: str = "model") -> Model:
    """The model a `model:` / `baseline:` section declares: in a worker process that
    starts loading now (the default), or in this process when the section says
    `isolation: in-process`."""
    if ref.isolation == "in-process":
        if ref.python:
            from ._model_loading import load_python_ref
            return Model(load_python_ref(ref.python, base), name=name)
        assert ref.path is not None
        return load_model(ref.path, ref.format, ref.trusted, name=name)
    from ._model_process import ModelProcess
    spec = ({"kind": "python", "ref": ref.python, "base": str(base)} if ref.python else
            {"kind": "file", "path": str(ref.path), "format": ref.format, "trusted": list(ref.trusted)})
    return RemoteModel(ModelProcess(spec, ref.limits, name=name), name=name, source=ref.path)
