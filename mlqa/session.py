"""One session for every way in: the only code that runs checks and decides.

`mlqa gate` / `mlqa run`, the pytest plugin and the Python API (`mlqa.run`, `mlqa.gate`)
are thin clients of `Session`: built from a config and a stage (resolved once, here), it
selects checks, runs each under its deadline (`run`), takes results produced elsewhere — a
hand-written test, a chaos experiment — (`record`), stamps every result with the run's seed
and the config's identity, and finishes with the decision and the report files (`finish`).
It knows nothing of pytest or of the terminal.
"""
from __future__ import annotations

import datetime as _dt
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ._config_gates import any_glob_matches
from .config import CheckInstance, Config, load_config
from .context import CheckContext, build_context
from .deadline import Cancelled, Deadline, active
from .errors import MlqaError, SubjectError
from .gate import ALL_STAGES, decide, gate_check
from .registry import MAX_TIMEOUT_S, RESULT_ID, CheckSpec
from .results import CheckResult, Decision, GatedCheck, error_result
from .subjects import subject_info, subject_kind

#: a check's deadline when neither mlqa.yaml (`timeout:`) nor the check declares one
DEFAULT_TIMEOUT_S = 900.0
#: how long a check that was asked to stop may take to clean up before it is abandoned
GRACE_S = 10.0


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunOutcome:
    """What a session produced.

    `decision` is the stage's (None when no stage was given); `verdict` is what the run
    says either way — the stage's decision, or, without a stage, every check blocking —
    and decides exit codes. `files` are the reports `finish(out)` wrote."""

    config: Config | None
    results: tuple[CheckResult, ...]
    decision: Decision | None
    verdict: Decision
    subject: dict[str, Any]
    started_at: str
    duration_s: float
    selected: tuple[CheckInstance, ...] = ()
    files: dict[str, Path] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        """How a notebook shows it: the verdict, why it blocks and the failing checks."""
        return self.verdict._repr_html_()


def run_check(spec: CheckSpec, ctx: CheckContext, params: dict[str, Any], *, key: str | None = None,
              timeout: float | None = None, grace_s: float = GRACE_S) -> CheckResult:
    """Run one check under its deadline and always return a result: a crash, a timeout and
    a missing input are `error`, never a pass.

    The check runs on its own thread and sees `ctx.deadline`. When the deadline passes,
    the deadline's event is set and the check gets `grace_s` seconds to clean up (a check
    that polls it raises `Cancelled` from inside its `try/finally`); then the result is
    recorded as `error` ("timed out after N s"). A check that ignores the event is
    abandoned on its (daemon) thread: the run goes on. Ctrl-C cancels the check the same
    way before it propagates."""
    key = key or spec.id
    started = time.perf_counter()
    for subject in spec.requires:
        if not ctx.has(subject):
            reason = ctx.subject_errors.get(subject)
            msg = (f"needs `{subject}`, which could not be loaded: {reason}" if reason
                   else f"needs `{subject}`: {subject_kind(subject).declare}")
            return error_result(key, msg).with_(seed=ctx.seed)
    limit = min(timeout or spec.timeout or DEFAULT_TIMEOUT_S, MAX_TIMEOUT_S)
    deadline = Deadline(limit)
    box: dict[str, Any] = {}
    done = threading.Event()  # (not Thread.join: an interrupted join marks the thread stopped)

    def target() -> None:
        try:
            with active(deadline):
                box["result"] = spec.func(ctx.for_check(deadline), **params)
        except BaseException as exc:  # noqa: BLE001 - a check must never take the run down
            box["exc"] = exc
            box["tb"] = traceback.format_exc(limit=-6)
        finally:
            box["ended"] = time.monotonic()
            done.set()

    threading.Thread(target=target, name=f"mlqa-check-{key}", daemon=True).start()
    try:
        if not done.wait(limit):
            deadline.cancel(f"timed out after {limit:g}s")
            done.wait(grace_s)
    except KeyboardInterrupt:
        deadline.cancel("interrupted")
        done.wait(grace_s)
        raise
    elapsed = time.perf_counter() - started
    timed_out = (deadline.event.is_set() or isinstance(box.get("exc"), Cancelled)
                 or box.get("ended", 0.0) >= (deadline.at or float("inf")))
    if not done.is_set():
        result = error_result(key, f"timed out after {limit:g}s and did not stop within the {grace_s:g}s grace "
                                   f"period; abandoned (a long-running check should poll ctx.deadline)")
    elif timed_out:
        result = error_result(key, f"timed out after {limit:g}s; stopped and cleaned up "
                                   f"(set `timeout:` on the check to allow more)")
    elif isinstance(box.get("exc"), SubjectError):  # the model died, broke its contract, did not load
        result = error_result(key, str(box["exc"]))
    elif "exc" in box:
        exc = box["exc"]
        result = error_result(key, f"the check raised {type(exc).__name__}: {exc}",
                              traceback=box["tb"].splitlines()[-12:])
    elif not isinstance(box.get("result"), CheckResult):
        result = error_result(key, f"the check returned {type(box.get('result')).__name__}, "
                                   f"not a CheckResult")
    else:
        result = box["result"].with_(id=key)
    return result.with_(duration_s=round(elapsed, 4), seed=ctx.seed)


class Session:
    """A run of mlqa: one config (or none: only recorded results), one stage (or none:
    every check blocks), the results gathered, and the decision they support."""

    def __init__(self, config: Config | str | os.PathLike | None, stage: str | None = None, *,
                 grace_s: float = GRACE_S, today: _dt.date | None = None) -> None:
        """`config`: a `Config`, the path of an mlqa.yaml, or None (only recorded results).
        `stage`: the stage whose policy decides (resolved here, once: an unknown stage is a
        `ConfigError`); None: every check blocks. `grace_s`: how long a timed-out check may
        take to clean up. `today`: the date waivers expire against (default: today)."""
        if config is not None and not isinstance(config, Config):
            config = load_config(config)
        if stage is not None and (not isinstance(stage, str) or not stage.strip()):
            raise MlqaError(f"a stage is the name of one under `gates:` in mlqa.yaml, got {stage!r}")
        if stage is not None and config is None:
            raise MlqaError(f"stage `{stage}` needs a config: the stages are declared under `gates:` in mlqa.yaml")
        self.config: Config | None = config
        self.stage = config.stage(stage) if (stage is not None and config is not None) else None
        self.policy = self.stage or ALL_STAGES
        self.grace_s = grace_s
        self.today = today
        self.started_at = now_iso()
        self._t0 = time.perf_counter()
        self._results: list[CheckResult] = []
        self._lock = threading.Lock()
        self._ctx: CheckContext | None = None

    # ------------------------------------------------------------------ inputs
    @property
    def context(self) -> CheckContext:
        """The config's subjects, loaded once (a `ConfigError` when the labels contradict
        the config)."""
        if self.config is None:
            raise MlqaError("this needs an mlqa config (mlqa.yaml): no subjects without one")
        if self._ctx is None:
            self._ctx = build_context(self.config)
        return self._ctx

    @property
    def results(self) -> list[CheckResult]:
        with self._lock:
            return list(self._results)

    def select(self, only: Iterable[str] | str | None = None) -> list[CheckInstance]:
        """The configured checks whose key or id matches a glob of `only` (all without);
        globs as in stages: `*` and `?` are wildcards, an `[instance]` is literal."""
        checks = list(self.config.checks) if self.config is not None else []
        patterns = [only] if isinstance(only, str) else list(only or [])
        if not patterns:
            return checks
        return [c for c in checks if any_glob_matches(c.key, patterns)]

    # ------------------------------------------------------------------ running
    def run(self, instance: CheckInstance) -> CheckResult:
        """Run one configured check under its deadline and record its result."""
        assert self.config is not None, "a configured check needs its config"
        spec = self.config.registry.get(instance.check_id)
        result = run_check(spec, self.context, instance.params, key=instance.key,
                           timeout=instance.timeout, grace_s=max(self.grace_s, spec.grace_s or 0.0))
        return self._add(result.with_(recorded_by=None))

    def run_all(self, only: Iterable[str] | str | None = None,
                on_result: Callable[[CheckInstance, CheckResult], None] | None = None, *,
                on_start: Callable[[CheckInstance], None] | None = None) -> list[CheckResult]:
        """Run the selected checks in config order; `on_start` and `on_result` are called
        as each starts and ends (a client shows progress with them)."""
        out = []
        for instance in self.select(only):
            if on_start is not None:
                on_start(instance)
            result = self.run(instance)
            out.append(result)
            if on_result is not None:
                on_result(instance, result)
        return out

    def record(self, result: CheckResult, *, recorded_by: str | None = None) -> CheckResult:
        """Add a result produced elsewhere (a hand-written test, a chaos experiment) to the
        gate, attributed to `recorded_by` (the recorder: the pytest plugin passes the test's
        node id; default ``"api"``). Its id must look like `suite.name` (or
        `suite.name[instance]`). A recorded result is gated as a result of its own: it never
        stands in for a configured check, even under the same id (that check, if it did not
        run, is still missing evidence)."""
        if not isinstance(result, CheckResult):
            raise TypeError(f"record() takes an mlqa.CheckResult, not {type(result).__name__}")
        if not isinstance(result.id, str) or not RESULT_ID.fullmatch(result.id):
            raise ValueError(f"a recorded result needs an id like 'suite.name' or 'suite.name[instance]' "
                             f"(lower case, dots; instance: letters, digits, _.:-), got {result.id!r}")
        if recorded_by is not None and (not isinstance(recorded_by, str) or not recorded_by.strip()):
            raise ValueError(f"recorded_by names who recorded the result, got {recorded_by!r}")
        result = result.with_(recorded_by=recorded_by or "api")
        if result.seed is None and self.config is not None:
            result = result.with_(seed=self.config.seed)
        return self._add(result)

    def _add(self, result: CheckResult) -> CheckResult:
        if self.config is not None:
            result = result.with_(config_sha256=self.config.sha256 or None)
        with self._lock:
            self._results.append(result)
        return result

    # ------------------------------------------------------------------ deciding
    def gate_one(self, result: CheckResult) -> GatedCheck:
        """How the stage sees one result: blocking or advisory, waived or not."""
        return gate_check(self.policy, result, self.today or _dt.date.today())

    def decide(self) -> Decision:
        """The verdict over every result so far. With a stage, every configured check must
        have produced a result by running (a partial run never promotes, and a recorded
        result never fills the gap); without one, every check blocks and no result is
        expected."""
        expected = [c.key for c in self.config.checks] if (self.stage and self.config is not None) else []
        subject = subject_info(self.config) if self.config is not None else {}
        verdict = decide(self.policy, self.results, expected=expected, today=self.today, subject=subject,
                         started_at=self.started_at, duration_s=time.perf_counter() - self._t0)
        trusted = [name for name, info in subject.items()
                   if isinstance(info, dict) and info.get("isolation") == "in-process"]
        if trusted:  # the report says so: nothing stood between these models and the run
            note = (f"{' and '.join(trusted)} ran in mlqa's own process (isolation: in-process): no worker, "
                    f"no resource limits, no kill at a check's deadline")
            verdict = replace(verdict, notes=(*verdict.notes, note))
        return verdict

    def finish(self, out: str | os.PathLike | None = None) -> RunOutcome:
        """Decide and, with `out`, write the reports there (results.json, decision.json
        with a stage, summary.md, report.html, junit.xml, security.sarif with findings)."""
        verdict = self.decide()
        outcome = RunOutcome(config=self.config, results=tuple(self.results),
                             decision=verdict if self.stage is not None else None, verdict=verdict,
                             subject=verdict.subject, started_at=self.started_at,
                             duration_s=verdict.duration_s, selected=tuple(self.select()))
        from .redact import redact_outcome  # personal data reaches no report and no console
        outcome = redact_outcome(outcome, self._ctx)
        if out is not None:
            from .reports import write_all
            outcome = replace(outcome, files=write_all(Path(out), outcome))
        return outcome


def run(config: Config | str | os.PathLike, only: Iterable[str] | str | None = None) -> list[CheckResult]:
    """Run the checks of a config (path or `Config`), or those matching the globs in
    `only`, and return their results (no gate)."""
    session = Session(config)
    return session.run_all(only)


def gate(config: Config | str | os.PathLike, stage: str, out: str | os.PathLike | None = None) -> Decision:
    """Run every check of a config, apply `stage`'s policy and return the `Decision`
    (promote only on evidence from every blocking check); with `out`, write the reports."""
    session = Session(config, stage)
    session.run_all()
    decision = session.finish(out).decision
    assert decision is not None  # a stage was given
    return decision
