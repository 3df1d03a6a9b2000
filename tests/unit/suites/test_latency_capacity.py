"""The capacity search on a monotone oracle: the SLO holds below a knee and fails above it."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa.suites.latency._capacity import CapacitySettings, search


def oracle(knee):
    probed = []

    def holds(rate):
        probed.append(rate)
        return rate <= knee
    return holds, probed


@settings(max_examples=200, deadline=None)
@given(knee=st.floats(10, 2000), precision=st.sampled_from([0.05, 0.1, 0.25]))
def test_finds_the_knee_within_precision(knee, precision):
    holds, probed = oracle(knee)
    cap, capped = search(holds, start=10, max_rate=2000, precision=precision, max_probes=40)
    assert cap <= knee, "never reports a rate at which the SLO failed"
    if knee >= 2000:
        assert capped and cap == 2000
    else:
        assert not capped and cap * (1 + precision) >= knee
    assert all(10 <= r <= 2000 for r in probed)


def test_fails_at_start_is_zero_after_one_probe():
    holds, probed = oracle(5)
    assert search(holds, start=10, max_rate=2000, precision=0.1, max_probes=12) == (0.0, False)
    assert probed == [10]


def test_the_probe_budget_bounds_the_search_and_an_unbroken_search_is_a_lower_bound():
    holds, probed = oracle(10_000)
    cap, capped = search(holds, start=1, max_rate=1e9, precision=0.1, max_probes=5)
    assert len(probed) == 5 and cap == 16 and capped


def test_probe_budget_stops_the_bisection():
    holds, probed = oracle(777)
    cap, capped = search(holds, start=10, max_rate=2000, precision=0.001, max_probes=9)
    assert len(probed) == 9 and cap <= 777 and not capped


@pytest.mark.parametrize("params, fragment", [
    ({"start": "100/s", "max_rate": "50/s"}, "start"),
    ({"precision": 1.5}, "precision"),
    ({"max_probes": 1}, "max_probes"),
    ({"slo": ["p95 under 5ms"]}, "p95 under 5ms"),
    ({"probe": "0s"}, "probe")])
def test_bad_settings_are_rejected(params, fragment):
    with pytest.raises(ValueError, match=fragment):
        CapacitySettings.from_params(params).validate()
