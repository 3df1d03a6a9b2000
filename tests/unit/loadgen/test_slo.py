"""SLOs written as k6 thresholds."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa.loadgen import judge_slos, parse_slo


@pytest.mark.parametrize("text, metric, op, value", [
    ("p95 < 50ms", "p95", "<", 50.0), ("p(99.9)<1s", "p99.9", "<", 1000.0),
    ("error_rate < 0.1%", "error_rate", "<", 0.001), ("rps > 150", "rps", ">", 150.0),
    ("avg <= 20ms", "avg", "<=", 20.0)])
def test_slo_parsing(text, metric, op, value):
    s = parse_slo(text)
    assert (s.metric, s.op) == (metric, op) and s.value == pytest.approx(value)


@pytest.mark.parametrize("bad", ["p95 50ms", "latency < 3", "rps > 10ms", "p95 < 5%"])
def test_bad_slos_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_slo(bad)


@given(value=st.floats(0.001, 10_000, allow_nan=False), observed=st.floats(0, 20_000, allow_nan=False))
def test_a_latency_slo_holds_exactly_below_its_bound(value, observed):
    slo = parse_slo(f"p95 < {value}ms")
    [verdict] = judge_slos([slo], {"p95_ms": observed})
    assert verdict["holds"] == (observed < slo.value)


def test_an_slo_never_holds_on_a_missing_measurement():
    [verdict] = judge_slos([parse_slo("p99 < 10ms")], {"p99_ms": float("nan")})
    assert verdict["holds"] is False


def test_a_latency_slo_never_holds_when_nothing_was_answered():
    """With no answer there is no percentile: an empty histogram's 0 ms must not pass."""
    stats = {"requests": 0, "percentile": lambda p: 0.0, "error_rate": 1.0}
    [verdict] = judge_slos([parse_slo("p95 < 200ms")], stats)
    assert not verdict["holds"]


def test_undelivered_requests_of_the_open_model_are_errors():
    from mlqa.loadgen._locust import _count_undelivered
    stats = {"error_rate": 0.0}
    # 150 due; 100 sent in the window, 95 answered (2 of them errors); 50 never sent
    _count_undelivered(stats, {"requests": 95, "sent": 100, "errors": 2}, scheduled=150)
    assert stats["unanswered"] == 5 and stats["unsent"] == 50
    assert stats["error_rate"] == (2 + 5 + 50) / 150


def test_a_fully_delivered_run_keeps_its_error_rate():
    from mlqa.loadgen._locust import _count_undelivered
    stats = {"error_rate": 0.01}
    _count_undelivered(stats, {"requests": 100, "sent": 100, "errors": 1}, scheduled=100)
    assert stats["unanswered"] == stats["unsent"] == 0 and stats["error_rate"] == 0.01
