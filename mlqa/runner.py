"""Run checks: bind subjects, enforce timeouts, and turn every crash into an `error` result."""
from __future__ import annotations

import fnmatch
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .config import CheckInstance, Config
from .registry import CheckSpec
from .results import CheckResult, error_result
from .subjects import CheckContext, build_context

DEFAULT_TIMEOUT_S = 900.0
_HOW_TO_DECLARE = {
    "model": "declare `model: {path: ...}` in mlqa.yaml",
    "baseline": "declare the current champion as `baseline: {path: ...}`",
    "train": "declare `data.train`",
    "test": "declare `data.test`",
    "endpoint": "declare `endpoint: {url: ...}`",
    "image": "declare `image: REF`",
}


def run_check(spec: CheckSpec, ctx: CheckContext, params: dict[str, Any], *,
              key: str | None = None, timeout: float | None = None) -> CheckResult:
    """Run one check and always return a result: crashes, timeouts and missing inputs are `error`."""
    key = key or spec.id
    started = time.perf_counter()
    for subject in spec.requires:
        if not ctx.has(subject):
            reason = ctx.subject_errors.get(subject)
            msg = (f"needs `{subject}`, which could not be loaded: {reason}" if reason
                   else f"needs `{subject}`: {_HOW_TO_DECLARE[subject]}")
            return error_result(key, msg)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = spec.func(ctx, **params)
        except BaseException as exc:  # noqa: BLE001 - a check must never take the run down
            box["exc"] = exc
            box["tb"] = traceback.format_exc(limit=-6)

    limit = timeout or DEFAULT_TIMEOUT_S
    worker = threading.Thread(target=target, name=f"mlqa-check-{key}", daemon=True)
    worker.start()
    worker.join(limit)
    elapsed = time.perf_counter() - started
    if worker.is_alive():
        result = error_result(key, f"timed out after {limit:g}s (set `timeout:` on the check to allow more)")
    elif "exc" in box:
        exc = box["exc"]
        result = error_result(key, f"the check raised {type(exc).__name__}: {exc}",
                              traceback=box["tb"].splitlines()[-12:])
    elif not isinstance(box.get("result"), CheckResult):
        result = error_result(key, f"the check returned {type(box.get('result')).__name__}, "
                                   f"not a CheckResult")
    else:
        result = box["result"].with_(id=key)
    return result.with_(duration_s=round(elapsed, 4))


@dataclass
class Runner:
    """Runs the checks of one config against subjects loaded once."""

    config: Config
    _ctx: CheckContext | None = None

    @property
    def context(self) -> CheckContext:
        if self._ctx is None:
            self._ctx = build_context(self.config)
        return self._ctx

    def select(self, only: Iterable[str] | None = None) -> list[CheckInstance]:
        patterns = list(only or [])
        if not patterns:
            return list(self.config.checks)
        return [c for c in self.config.checks
                if any(fnmatch.fnmatchcase(c.key, p) or fnmatch.fnmatchcase(c.check_id, p)
                       for p in patterns)]

    def run_one(self, instance: CheckInstance) -> CheckResult:
        spec = self.config.registry.get(instance.check_id)
        return run_check(spec, self.context, instance.params, key=instance.key,
                         timeout=instance.timeout)

    def run(self, only: Iterable[str] | None = None,
            on_result: Callable[[CheckInstance, CheckResult], None] | None = None) -> list[CheckResult]:
        results = []
        for instance in self.select(only):
            result = self.run_one(instance)
            results.append(result)
            if on_result is not None:
                on_result(instance, result)
        return results
