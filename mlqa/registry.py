"""One registry of checks: built-ins and a team's own register the same way.

A check is a function ``fn(ctx, *, param=default, ...) -> CheckResult`` decorated with
``@mlqa.check("suite.name")``. The decorator only attaches a `CheckSpec`; discovery
(`Registry.discover`) imports the modules named by the ``mlqa.checks`` entry-point group
and by the config's ``plugins:`` list and collects every decorated function. There is no
import-time global registry.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import re
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import MlqaError, did_you_mean
from .params import ParamTypeError, coerce, is_column, type_name
from .results import CheckResult
from .subjects import subject_names

CHECK_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+\Z")
#: the id of a result: a check id, optionally with an instance name (`performance.metric[auc]`)
RESULT_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+(\[[A-Za-z0-9_.:-]+\])?")
#: the longest deadline a check may have (what the platform's timed waits accept)
MAX_TIMEOUT_S = 30 * 24 * 3600.0

RESERVED_PARAMS = ("timeout",)
_ATTR = "__mlqa_check__"


def valid_timeout(value: Any) -> bool:
    """A positive, finite number of seconds no longer than `MAX_TIMEOUT_S` (not a bool)."""
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and 0 < value <= MAX_TIMEOUT_S)


@dataclass(frozen=True)
class ParamSpec:
    name: str
    annotation: Any
    default: Any
    required: bool
    doc: str = ""

    @property
    def type_name(self) -> str:
        return type_name(self.annotation)

    @property
    def names_columns(self) -> bool:
        return is_column(self.annotation)


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its id, function, parameters and the subjects it needs."""

    id: str
    func: Callable[..., Any]
    params: tuple[ParamSpec, ...]
    requires: tuple[str, ...]
    summary: str
    doc: str
    source: str = ""
    validate: Callable[[dict[str, Any]], None] | None = None
    #: the check's deadline in seconds when mlqa.yaml gives it no `timeout:` (None: the
    #: session's default)
    timeout: float | None = None
    #: how long it may take to clean up once cancelled (a deadline, Ctrl-C), when that is
    #: longer than the session's grace (None: the session's); a chaos experiment's rollback
    grace_s: float | None = None

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def bind(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Validated keyword arguments for `func`, defaults filled in.

        Raises `KeyError` (unknown name, with a suggestion) or `ParamTypeError`.
        """
        names = [p.name for p in self.params]
        bound: dict[str, Any] = {}
        for key, value in raw.items():
            spec = self.param(key)
            if spec is None:
                hint = did_you_mean(key, names + list(RESERVED_PARAMS))
                known = ", ".join(names) or "none"
                raise KeyError(f"unknown parameter `{key}` for {self.id} (parameters: {known})"
                               + (f"; {hint}" if hint else ""))
            bound[key] = coerce(value, spec.annotation, f"{self.id}.{key}")
        for spec in self.params:
            if spec.name not in bound:
                if spec.required:
                    raise ParamTypeError(f"{self.id} needs parameter `{spec.name}` ({spec.type_name})")
                bound[spec.name] = spec.default
        if self.validate is not None:
            try:
                self.validate(bound)
            except ValueError as exc:
                raise ParamTypeError(f"{self.id}: {exc}") from None
        return bound


def check(check_id: str, *, requires: Iterable[str] = (),
          validate: Callable[[dict[str, Any]], None] | None = None,
          timeout: float | None = None, grace_s: float | None = None) -> Callable[[Callable], Callable]:
    """Declare a function as an mlqa check with id ``suite.name``.

    Parameters are the function's keyword-only arguments: their annotations are the
    types the config is validated against, their defaults the documented defaults. A
    ``Parameters:`` block in the docstring (``name: text`` lines) documents each one for
    ``mlqa checks``. `requires` names the subjects the check needs (model, baseline,
    train, test, endpoint, image); a check whose subjects are missing is ``error``.
    `validate(params)` may raise ValueError for combinations the types cannot express;
    the config loader reports it at the check's line. `timeout` is the check's default
    deadline in seconds (a `timeout:` in mlqa.yaml overrides it); the check sees it as
    `ctx.deadline`. `grace_s`: how long it may take to clean up once cancelled, when it
    needs longer than the session's grace (a chaos experiment rolling its faults back).

    Called directly (in a hand-written test), the check's result carries its id and the
    context's seed.
    """
    if not CHECK_ID.match(check_id):
        raise ValueError(f"check id {check_id!r} must look like 'suite.name' (lower case, dots)")
    needs = tuple(requires)
    known = subject_names()
    bad = [s for s in needs if s not in known]
    if bad:
        raise ValueError(f"unknown subject(s) {bad} in requires; use {known}")
    if timeout is not None and not valid_timeout(timeout):
        raise ValueError(f"timeout must be a positive number of seconds up to {MAX_TIMEOUT_S:g}, got {timeout!r}")
    if grace_s is not None and not valid_timeout(grace_s):
        raise ValueError(f"grace_s must be a positive number of seconds, got {grace_s!r}")

    def decorate(func: Callable) -> Callable:
        spec = _spec_from_function(check_id, func, needs)

        @functools.wraps(func)
        def direct_call(ctx: Any, **params: Any) -> Any:
            """Called directly (in a hand-written test), the result carries the check's id
            and the context's seed."""
            result = func(ctx, **params)
            if isinstance(result, CheckResult):
                if result.id == "":
                    result = result.with_(id=check_id)
                if result.seed is None and isinstance(getattr(ctx, "seed", None), int):
                    result = result.with_(seed=ctx.seed)
            return result
        setattr(direct_call, _ATTR, CheckSpec(**{**spec.__dict__, "validate": validate,
                                                 "timeout": None if timeout is None else float(timeout),
                                                 "grace_s": None if grace_s is None else float(grace_s)}))
        return direct_call

    return decorate


def _param_docs(doc: str) -> dict[str, str]:
    docs: dict[str, str] = {}
    in_block = False
    current = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped.lower().rstrip(":") == "parameters":
            in_block = True
            continue
        if not in_block:
            continue
        match = re.match(r"^(\w+):\s*(.*)$", stripped)
        if match:
            current = match.group(1)
            docs[current] = match.group(2)
        elif stripped and current:
            docs[current] += " " + stripped
        elif not stripped and docs:
            in_block = False
    return docs


def _spec_from_function(check_id: str, func: Callable, requires: tuple[str, ...]) -> CheckSpec:
    sig = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)
    doc = inspect.getdoc(func) or ""
    pdocs = _param_docs(doc)
    params = []
    for name, p in list(sig.parameters.items())[1:]:
        if p.kind is not inspect.Parameter.KEYWORD_ONLY:
            raise TypeError(f"check {check_id}: parameter {name!r} must be keyword-only "
                            f"(write `def {func.__name__}(ctx, *, {name}=...)`)")
        if name in RESERVED_PARAMS:
            raise TypeError(f"check {check_id}: parameter name {name!r} is reserved")
        required = p.default is inspect.Parameter.empty
        params.append(ParamSpec(name=name, annotation=hints.get(name, Any),
                                default=None if required else p.default,
                                required=required, doc=pdocs.get(name, "")))
    summary = doc.split("\n\n")[0].replace("\n", " ").strip()
    module = getattr(func, "__module__", "")
    return CheckSpec(id=check_id, func=func, params=tuple(params), requires=requires,
                     summary=summary, doc=doc, source=module)


def spec_of(obj: Any) -> CheckSpec | None:
    return getattr(obj, _ATTR, None)


@dataclass
class Registry:
    """The checks known to one run, by id."""

    checks: dict[str, CheckSpec] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)

    def add(self, spec: CheckSpec) -> None:
        existing = self.checks.get(spec.id)
        if existing is not None and existing.func is not spec.func:
            raise MlqaError(f"check id {spec.id} is registered twice: by {existing.source} "
                            f"and by {spec.source}; rename one of them")
        self.checks[spec.id] = spec

    def add_object(self, obj: Any) -> int:
        """Register a decorated function, or every decorated function of a module."""
        spec = spec_of(obj)
        if spec is not None:
            self.add(spec)
            return 1
        if isinstance(obj, types.ModuleType):
            found = [spec_of(v) for v in vars(obj).values() if spec_of(v) is not None]
            for s in found:  # a package that re-exports its submodules' checks registers them
                self.add(s)
            return len(found)
        raise MlqaError(f"{obj!r} is neither a module nor a function decorated with @mlqa.check")

    def add_module(self, name: str) -> int:
        module_name, _, attr = name.partition(":")
        module = importlib.import_module(module_name)
        obj = getattr(module, attr) if attr else module
        return self.add_object(obj)

    @classmethod
    def discover(cls, plugins: Iterable[str] = (), *, entry_points: bool = True) -> "Registry":
        """Checks from the ``mlqa.checks`` entry points, then from `plugins` modules.

        A plugin that fails to import raises (the config named it); a broken third-party
        entry point is recorded in `broken` and named when one of its ids is missing.
        """
        reg = cls()
        if entry_points:
            from importlib.metadata import entry_points as _eps
            for ep in sorted(_eps(group="mlqa.checks"), key=lambda e: e.name):
                try:
                    reg.add_object(ep.load())
                except Exception as exc:  # a broken third-party plugin must not hide the rest
                    reg.broken.append(f"entry point {ep.name} = {ep.value}: {exc}")
        for name in plugins:
            reg.add_module(name)
        return reg

    def get(self, check_id: str) -> CheckSpec:
        try:
            return self.checks[check_id]
        except KeyError:
            hint = did_you_mean(check_id, self.checks)
            msg = f"unknown check id `{check_id}`"
            if self.broken:
                msg += " (some check plugins failed to load: " + "; ".join(self.broken) + ")"
            raise KeyError(msg + (f"; {hint}" if hint else "; run `mlqa checks` for the list")) from None

    def __contains__(self, check_id: str) -> bool:
        return check_id in self.checks

    def __iter__(self):
        return iter(sorted(self.checks.values(), key=lambda s: s.id))
