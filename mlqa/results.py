"""The one data model of a check's outcome (`CheckResult`) and of a gate's (`Decision`)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Status = Literal["passed", "failed", "error", "skipped"]
STATUSES: tuple[str, ...] = ("passed", "failed", "error", "skipped")


def _jsonable(value: Any) -> Any:
    """Numbers, strings, lists and dicts only; numpy scalars and NaN made JSON-safe."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """What one check found. `bool(result)` is True only when it passed.

    `thresholds` maps a metric name to its bound as written (``"<= 0.2"``); the first
    threshold names the key metric shown in gate tables. `evidence` is small JSON
    (counterexamples, per-group tables, top findings; charts under ``evidence["charts"]``).
    `seed` and `config_sha256` say which run produced it: the session stamps both on every
    result it runs or records (a check never sets them by hand). `recorded_by` is None for
    a result mlqa produced by running a configured check, else who recorded it (the node id
    of the hand-written pytest test, or ``"api"``): a recorded result is never the evidence
    of a configured check, whatever its id.
    """

    id: str = ""
    status: Status
    message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    artifacts: tuple[str, ...] = ()
    seed: int | None = None
    config_sha256: str | None = None
    recorded_by: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")

    def __bool__(self) -> bool:
        return self.status == "passed"

    def with_(self, **changes: Any) -> "CheckResult":
        return replace(self, **changes)

    def _repr_html_(self) -> str:
        """How a notebook shows it: id, status, message and metrics (escaped HTML)."""
        from .reports.notebook import result_html
        return result_html(self.to_dict())

    @property
    def key_metric(self) -> tuple[str, float | None, str] | None:
        """(name, value, bound) of the first threshold, for one-line summaries."""
        for name, bound in self.thresholds.items():
            return name, self.metrics.get(name), bound
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["artifacts"] = list(self.artifacts)
        return _jsonable(data)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CheckResult":
        known = {k: data[k] for k in ("id", "status", "message", "metrics", "thresholds",
                                      "evidence", "duration_s", "seed", "config_sha256", "recorded_by")
                 if k in data}
        return cls(**known, artifacts=tuple(data.get("artifacts", ())))


def error_result(check_id: str, message: str, **evidence: Any) -> CheckResult:
    """A check that could not run. Never a pass: the gate blocks on it by default."""
    return CheckResult(id=check_id, status="error", message=message, evidence=_jsonable(evidence))


@dataclass(frozen=True, kw_only=True)
class GatedCheck:
    """A result as the gate saw it: blocking or advisory, waived or not, and why."""

    result: CheckResult
    blocking: bool
    waived: bool = False
    waiver: dict[str, Any] | None = None
    note: str = ""

    @property
    def blocks(self) -> bool:
        return self.blocking and not self.waived and self.result.status in ("failed", "error")

    def to_dict(self) -> dict[str, Any]:
        row = self.result.to_dict()
        row.update(blocking=self.blocking, waived=self.waived, blocks=self.blocks)
        if self.waiver is not None:
            row["waiver"] = _jsonable(self.waiver)
        if self.note:
            row["note"] = self.note
        return row


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A stage's verdict over a set of results (`decision.json`, schema mlqa/decision/v1)."""

    decision: Literal["promote", "block"]
    stage: str
    reasons: tuple[str, ...]
    checks: tuple[GatedCheck, ...]
    subject: dict[str, Any] = field(default_factory=dict)
    mlqa_version: str = ""
    started_at: str = ""
    duration_s: float = 0.0
    notes: tuple[str, ...] = ()

    SCHEMA = "mlqa/decision/v1"

    @property
    def promoted(self) -> bool:
        return self.decision == "promote"

    def __bool__(self) -> bool:
        return self.promoted

    def _repr_html_(self) -> str:
        """How a notebook shows it: the decision, why it blocks and the failing checks."""
        from .reports.notebook import decision_html
        return decision_html(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.SCHEMA,
            "decision": self.decision,
            "stage": self.stage,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "checks": [c.to_dict() for c in self.checks],
            "subject": _jsonable(self.subject),
            "mlqa_version": self.mlqa_version,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
        }
