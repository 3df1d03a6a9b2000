"""`chaos.experiment`: a chaos experiment as a check of mlqa.yaml, so stages, waivers,
reports, JUnit and exit codes treat it like any other.

    checks:
      - chaos.experiment[zone_outage]: {file: ../chaos/experiments/zone-outage.yaml}
"""
from __future__ import annotations

from pathlib import Path

from ..context import CheckContext
from ..errors import MlqaError
from ..registry import check
from ..results import CheckResult
from ._catalogue import ROLLBACK_GRACE_S


@check("chaos.experiment", requires=(), timeout=1800.0, grace_s=ROLLBACK_GRACE_S)
def experiment(ctx: CheckContext, *, file: str, state_dir: str | None = None) -> CheckResult:
    """A chaos experiment (steady state, faults, rollback always) judged by its file's
    `verdict:` thresholds — e.g. availability >= 99% while a zone is lost.

    Passed when every threshold holds; failed when one is breached or a stop condition
    aborted the method; error when the steady state did not hold before the method (nothing
    is injected then), the target could not be reached, or a figure could not be measured.
    Its deadline is 30 minutes unless mlqa.yaml sets `timeout:`; cancelled (the deadline,
    Ctrl-C, SIGTERM), it gets 60 s to roll every fault back before the run moves on.

    Parameters:
    file: the experiment file (relative to mlqa.yaml)
    state_dir: the state folder of a running reference stack to attach to (default: the file's target)
    """
    from ._api import run_experiment
    base = ctx.config.path.resolve().parent if ctx.config is not None and ctx.config.path else Path.cwd()
    try:
        return run_experiment(base / file, deadline=ctx.deadline,
                              attach=(base / state_dir) if state_dir else None)
    except MlqaError as exc:   # a file that is wrong, a plan that cannot apply: error, with file:line
        return CheckResult(status="error", message=str(exc))
