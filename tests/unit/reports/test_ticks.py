"""Axis ticks are round (1, 2 or 5 times a power of ten), evenly spaced, cover the data and
are few; their labels are short (0.05, 1,500, 15k) — not the raw range cut in four
(0.0473, 1.73e+03). Property-tested with hypothesis."""
from __future__ import annotations

import itertools
import math
import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlqa.judge import bar_chart, line_chart
from mlqa.reports._svg import render_chart
from mlqa.reports._ticks import nice_ticks, tick_label, tick_labels, value_label

FINITE = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def parse(label: str) -> float:
    scale = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(label[-1:], 1.0)
    return float((label[:-1] if scale != 1.0 else label).replace(",", "")) * scale


@settings(max_examples=400, deadline=None)
@given(lo=FINITE, hi=FINITE, intervals=st.integers(1, 10))
def test_ticks_cover_the_range_evenly_with_a_round_step(lo, hi, intervals):
    small, big = min(lo, hi), max(lo, hi)
    assume(all(v == 0 or abs(v) >= 1e-9 for v in (lo, hi)))  # what a chart of measurements holds
    # a span below a millionth of the values is beyond what a chart can show
    assume(big == small or big - small >= 1e-6 * max(abs(small), abs(big), 1e-6))
    ticks, step = nice_ticks(lo, hi, intervals)
    tol = step * 1e-6
    assert ticks[0] <= small + tol and ticks[-1] >= big - tol
    assert 2 <= len(ticks) <= intervals + 3
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-9) for m in (1, 2, 5))
    for a, b in itertools.pairwise(ticks):
        assert math.isclose(b - a, step, rel_tol=1e-6, abs_tol=tol)
    for t in ticks:  # each a multiple of the step
        assert abs(t / step - round(t / step)) < 1e-6
    labels = tick_labels(ticks, step)
    assert len(set(labels)) == len(labels)  # distinct ticks, distinct labels
    for t, text in zip(ticks, labels):
        assert "e" not in text or abs(step) < 1e-6, text
        assert math.isclose(parse(text), t, rel_tol=1e-9, abs_tol=step * 1e-3), (text, t)
        assert len(text) <= 9, text


@pytest.mark.parametrize("lo, hi, labels", [
    (0, 0.0473, ["0", "0.01", "0.02", "0.03", "0.04", "0.05"]),
    (0, 1730, ["0", "500", "1,000", "1,500", "2,000"]),
    (0, 17300, ["0", "5k", "10k", "15k", "20k"]),
    (0, 2.4e6, ["0", "0.5M", "1M", "1.5M", "2M", "2.5M"]),
    (0.9, 0.95, ["0.9", "0.91", "0.92", "0.93", "0.94", "0.95"]),
    (-3, 7, ["-4", "-2", "0", "2", "4", "6", "8"]),
    (0, 1, ["0", "0.2", "0.4", "0.6", "0.8", "1"]),
])
def test_tick_labels(lo, hi, labels):
    ticks, step = nice_ticks(lo, hi, 5)
    assert tick_labels(ticks, step) == labels


def test_a_lone_value_is_short():
    assert [value_label(v) for v in (1730, 0.0473, 50, 12345678, 0)] == ["1,730", "0.0473", "50", "12.3M", "0"]
    assert tick_label(1500, 500) == "1,500" and tick_label(15000, 5000) == "15k"


def axis_labels(svg: str) -> list[str]:
    return re.findall(r'class="tick">([^<]*)</text>', svg)


def test_bar_and_line_axes_read_round_numbers():
    bar = render_chart(bar_chart("Missing", ["a", "b"], [0.0473, 0.02], threshold=0.06))
    assert {"0", "0.02", "0.04", "0.06"} <= set(axis_labels(bar))
    assert not any(t in bar for t in ("0.0473<", "0.0118", "0.0355"))  # the range cut in four
    line = render_chart(line_chart("Latency", [{"name": "p95", "x": [10, 1730], "y": [3, 1730]}]))
    labels = axis_labels(line)
    assert "1,500" in labels and not any("e+" in t or t == "1.73e+03" for t in labels)
