"""A check that cannot run is `error`, never `passed`."""
import time

from mlqa import CheckResult, check
from mlqa.registry import spec_of
from mlqa.session import run_check
from mlqa.context import CheckContext


@check("acme.raises")
def raises(ctx):
    raise ValueError("boom")


@check("acme.returns_none")
def returns_none(ctx):
    return None


@check("acme.slow")
def slow(ctx, *, seconds: float = 2.0):
    time.sleep(seconds)
    return CheckResult(status="passed")


@check("acme.needs_model", requires=("model",))
def needs_model(ctx):
    return CheckResult(status="passed")


@check("acme.ok")
def ok(ctx, *, value: float = 1.0):
    return CheckResult(status="passed", metrics={"value": value})


def test_a_crash_is_an_error_with_the_traceback():
    res = run_check(spec_of(raises), CheckContext(), {})
    assert res.status == "error" and "ValueError: boom" in res.message and not res
    assert any("boom" in line for line in res.evidence["traceback"])


def test_a_wrong_return_type_is_an_error():
    res = run_check(spec_of(returns_none), CheckContext(), {})
    assert res.status == "error" and "not a CheckResult" in res.message


def test_a_timeout_is_an_error():
    res = run_check(spec_of(slow), CheckContext(), {"seconds": 5.0}, timeout=0.2)
    assert res.status == "error" and "timed out after 0.2s" in res.message


def test_a_missing_subject_is_an_error_saying_what_to_declare():
    res = run_check(spec_of(needs_model), CheckContext(), {})
    assert res.status == "error" and "declare `model:" in res.message


def test_a_subject_that_failed_to_load_is_named():
    ctx = CheckContext(subject_errors={"model": "mlqa.yaml:3: refusing to load m.pkl"})
    res = run_check(spec_of(needs_model), ctx, {})
    assert res.status == "error" and "refusing to load m.pkl" in res.message


def test_id_and_duration_are_filled_in():
    res = run_check(spec_of(ok), CheckContext(), {"value": 2.0}, key="acme.ok[two]")
    assert res.id == "acme.ok[two]" and res.status == "passed" and res.duration_s >= 0
