"""Policy x results -> Decision. Fail closed: errors block, missing evidence blocks."""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from ._config_gates import Stage, Waiver, any_glob_matches
from ._version import __version__
from .results import CheckResult, Decision, GatedCheck

#: the policy without a stage (`mlqa run`, pytest without --mlqa-stage): every check blocks
ALL_STAGES = Stage(name="default", blocking=("*",))


def _matches(key: str, patterns: Iterable[str]) -> bool:
    return any_glob_matches(key, patterns)


def classify(stage: Stage, key: str) -> tuple[bool, str]:
    """(blocking, note). Blocking globs win over advisory ones; a check no glob names
    blocks (fail closed) and the note says so."""
    if _matches(key, stage.blocking):
        return True, ""
    if _matches(key, stage.advisory):
        return False, ""
    return True, f"matched no glob of stage `{stage.name}`: blocking by default"


def _waiver_for(stage: Stage, key: str, today: _dt.date) -> tuple[Waiver | None, Waiver | None]:
    """(active waiver, expired waiver) matching `key`."""
    active = expired = None
    for w in stage.waivers:
        if w.matches(key):
            if w.expired(today):
                expired = expired or w
            else:
                active = active or w
    return active, expired


def gate_check(stage: Stage, result: CheckResult, today: _dt.date) -> GatedCheck:
    blocking, note = classify(stage, result.id)
    if result.status == "error" and stage.on_error == "advisory":
        blocking, note = False, "errors are advisory in this stage (on_error: advisory)"
    waived = False
    waiver_info: dict[str, Any] | None = None
    if result.status in ("failed", "error"):
        active, expired = _waiver_for(stage, result.id, today)
        if active is not None:
            waived = True
            waiver_info = {"reason": active.reason, "owner": active.owner,
                           "expires": active.expires.isoformat(), "expired": False}
        elif expired is not None:
            waiver_info = {"reason": expired.reason, "owner": expired.owner,
                           "expires": expired.expires.isoformat(), "expired": True}
            note = f"waiver expired on {expired.expires.isoformat()} (owner {expired.owner}): no longer waives"
    return GatedCheck(result=result, blocking=blocking, waived=waived, waiver=waiver_info, note=note)


def decide(stage: Stage, results: Sequence[CheckResult], *, expected: Iterable[str] = (),
           today: _dt.date | None = None, subject: dict[str, Any] | None = None,
           started_at: str = "", duration_s: float = 0.0) -> Decision:
    """The stage's verdict. Promote only when every blocking check passed (or was skipped
    on purpose, or is validly waived) and every `expected` check produced a result by
    running: a result recorded elsewhere (`recorded_by` set) never stands in for one, even
    under its id — it is gated as a result of its own, and its row says so."""
    today = today or _dt.date.today()
    expected = list(expected)
    gated = tuple(_attributed(gate_check(stage, r, today), expected) for r in results)
    reasons: list[str] = []
    notes: list[str] = []
    for g in gated:
        r = g.result
        if g.blocks:
            what = "could not run" if r.status == "error" else "failed"
            line = f"{r.id} {what}: {r.message}"
            if g.waiver and g.waiver.get("expired"):
                line += f" [waiver expired on {g.waiver['expires']}, owner {g.waiver['owner']}]"
            reasons.append(line)
        elif g.waived and g.waiver:
            notes.append(f"{r.id} {r.status} but is waived until {g.waiver['expires']} by "
                         f"{g.waiver['owner']}: {g.waiver['reason']}")
        elif r.status in ("failed", "error"):
            notes.append(f"{r.id} {r.status} (advisory): {r.message}")
    ran = {r.id for r in results if r.recorded_by is None}
    missing = [k for k in expected if k not in ran]
    for key in missing:
        if classify(stage, key)[0]:
            reasons.append(f"{key} did not run: a promotion needs evidence from every blocking check")
    if not results:
        reasons.append("no checks ran: nothing supports a promotion")
    for w in stage.waivers:
        if not any(w.matches(r.id) for r in results):
            notes.append(f"waiver for `{w.check}` matches no check that ran (line {w.line})")
    return Decision(decision="block" if reasons else "promote", stage=stage.name,
                    reasons=tuple(reasons), checks=gated, subject=subject or {},
                    mlqa_version=__version__, started_at=started_at, duration_s=duration_s,
                    notes=tuple(notes))


def _attributed(g: GatedCheck, expected: list[str]) -> GatedCheck:
    """A recorded result under the id of an expected (configured) check, noted as such."""
    r = g.result
    if r.recorded_by is None or r.id not in expected:
        return g
    note = (f"recorded by {r.recorded_by}, not run: a configured check's evidence comes only from "
            f"running it")
    return replace(g, note=f"{g.note}; {note}" if g.note else note)


def default_decision(results: Sequence[CheckResult]) -> Decision:
    """Without a stage every check is blocking (`mlqa run`, plain pytest runs, results
    files read back)."""
    return decide(ALL_STAGES, results)
