"""The core entry points shared by the CLI, the pytest plugin and Python users."""
from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ._files import sha256_file
from .config import CheckInstance, Config, load_config  # noqa: F401 (re-exported)
from .gate import ALL_STAGES, decide
from .results import CheckResult, Decision
from .runner import Runner


def subject_info(config: Config) -> dict[str, Any]:
    """What was tested: sha256 of every model and data file, endpoint url, image ref."""
    info: dict[str, Any] = {"config": str(config.path)}
    for name in ("model", "baseline"):
        ref = getattr(config, name)
        if ref is not None:
            info[name] = ({"path": str(ref.path), "sha256": sha256_file(ref.path)} if ref.path
                          else {"python": ref.python})
    for split in ("train", "test"):
        path = getattr(config.data, split)
        if path is not None:
            info[f"data_{split}"] = {"path": str(path), "sha256": sha256_file(path)}
    if config.endpoint:
        info["endpoint"] = config.endpoint.get("url")
    if config.image:
        info["image"] = config.image
    return info


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class RunOutcome:
    """Results of one run and, when a stage was applied, its decision."""

    config: Config
    results: list[CheckResult]
    decision: Decision | None
    started_at: str
    duration_s: float
    selected: list[CheckInstance]


def execute(config: Config | str | os.PathLike, *, stage: str | None = None,
            only: list[str] | None = None,
            on_result: Callable[[CheckInstance, CheckResult], None] | None = None,
            on_start: Callable[[list[CheckInstance]], None] | None = None,
            extra_results: list[CheckResult] | None = None,
            today: _dt.date | None = None) -> RunOutcome:
    """Run the selected checks and, with `stage`, decide. A partial run (`only`) never
    promotes: the checks it left out are missing evidence."""
    if not isinstance(config, Config):
        config = load_config(config)
    policy = config.stage(stage) if stage else None
    started, t0 = now_iso(), time.perf_counter()
    runner = Runner(config)
    selected = runner.select(only)
    if on_start is not None:
        on_start(selected)
    results = runner.run(only, on_result=on_result) + list(extra_results or [])
    duration = time.perf_counter() - t0
    decision = None
    if policy is not None:
        decision = decide(policy, results, expected=[c.key for c in config.checks], today=today,
                          subject=subject_info(config), started_at=started, duration_s=duration)
    return RunOutcome(config=config, results=results, decision=decision, started_at=started,
                      duration_s=duration, selected=selected)


def run(config: Config | str | os.PathLike, only: list[str] | None = None) -> list[CheckResult]:
    return execute(config, only=only).results


def gate(config: Config | str | os.PathLike, stage: str, out: str | os.PathLike | None = None) -> Decision:
    outcome = execute(config, stage=stage)
    if out is not None:
        from .reports import write_all
        write_all(Path(out), outcome)
    assert outcome.decision is not None
    return outcome.decision


def default_decision(results: list[CheckResult]) -> Decision:
    """Without a stage every check is blocking (used by `mlqa run` and plain pytest runs)."""
    return decide(ALL_STAGES, results)
