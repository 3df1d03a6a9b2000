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
