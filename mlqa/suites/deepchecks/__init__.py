"""deepchecks adapter: run deepchecks' tabular suites and gate on their conditions.

deepchecks 0.19.1 breaks at import on numpy 2 / scikit-learn >= 1.6, so its suites run in
a separate interpreter from its own pinned environment; data and (for model_evaluation)
predictions are handed over as files, never a pickled model.
"""
from __future__ import annotations

from ...context import CheckContext
from ...registry import check
from ...results import CheckResult
from ...params import PositiveInt
from ._adapter import find_python, not_applicable, run_suite

#: deepchecks' default deadline: its three suites take minutes on the example's data
TIMEOUT_S = 1800.0


def _suite_check(suite: str, requires: tuple[str, ...], what: str):
    def run(ctx: CheckContext, *, sample: PositiveInt | None = None, allow_errors: list[str] = [],  # noqa: B006
            fail_on_warn: bool = False) -> CheckResult:
        return run_suite(ctx, suite, sample=sample, allow_errors=allow_errors, fail_on_warn=fail_on_warn)
    run.__name__ = run.__qualname__ = suite
    run.__doc__ = (f"Runs {what} in deepchecks' own pinned environment and gates on its condition "
                   "results: failed when a condition fails, error when a deepchecks check could not run "
                   "(never a silent pass). deepchecks' process runs under the check's deadline "
                   "(its suites take minutes on a few tens of thousands of rows, so the default is "
                   "longer than other checks') and is stopped when it passes.\n\n"
                   "Parameters:\n"
                   "sample: rows per split handed to deepchecks (seeded; default: all)\n"
                   "allow_errors: deepchecks checks (by header) that may fail to run without making this an error\n"
                   "fail_on_warn: count WARN conditions as failures (default false)\n")
    return check(f"deepchecks.{suite}", requires=requires, timeout=TIMEOUT_S)(run)


data_integrity = _suite_check("data_integrity", ("train",), "deepchecks' data_integrity suite on the training data")
train_test_validation = _suite_check("train_test_validation", ("train", "test"),
                                     "deepchecks' train_test_validation suite on train vs test")
model_evaluation = _suite_check("model_evaluation", ("model", "train", "test"),
                                "deepchecks' model_evaluation suite, from the model's predictions")

__all__ = ["data_integrity", "model_evaluation", "train_test_validation", "find_python", "not_applicable",
           "run_suite"]
