"""The verdict and stop-condition languages: values in their figure's unit, figure against
figure, and `holds` on missing and infinite values."""
from __future__ import annotations

import math
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa.chaos._catalogue import FIGURES, LIVE
from mlqa.chaos._expr import ExprError, parse_stop, parse_verdict, show_value

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
       "!=": operator.ne}


# ------------------------------------------------------------------ values and units
@pytest.mark.parametrize(("text", "value"), [
    ("availability >= 99.9%", 0.999),
    ("availability >= 0.999", 0.999),
    ("availability >= 100%", 1.0),
    ("availability > 0", 0.0),
    ("time_to_detect <= 500ms", 0.5),             # a seconds figure
    ("time_to_detect <= 2s", 2.0),
    ("time_to_detect <= 2", 2.0),                 # bare: the figure's unit
    ("time_to_recover <= 1m", 60.0),
    ("time_to_recover <= 1min", 60.0),
    ("p99_fault <= 1s", 1000.0),                  # an ms figure
    ("p99_fault <= 250ms", 250.0),
    ("p99_fault <= 250", 250.0),
    ("p99_ratio <= 1.5", 1.5),
    ("requests_lost <= 1", 1.0),
    ("training_steps_lost <= 30", 30.0),
])
def test_values_are_converted_to_the_figures_unit(text, value):
    c = parse_verdict(text)
    assert c.value == pytest.approx(value) and c.other is None
    assert c.unit == FIGURES[c.name].unit and c.text == text


@pytest.mark.parametrize(("text", "value"), [("training_completed == true", True),
                                             ("checkpoint_integrity != false", False),
                                             ("stopped == FALSE", False)])
def test_bool_figures(text, value):
    c = parse_verdict(text)
    assert c.value is value and c.unit == "bool"


def test_whitespace_is_free():
    c = parse_verdict("  availability>=99%  ")
    assert (c.name, c.op, c.value, c.text) == ("availability", ">=", pytest.approx(0.99), "availability>=99%")


@pytest.mark.parametrize(("text", "message"), [
    ("availability >= 99.9", "did you mean 99.9%?"),
    ("availability >= 5s", "write it as a percentage"),
    ("time_to_detect <= 5%", "is a duration"),
    ("requests_lost <= 1s", "plain number"),
    ("training_completed >= true", "compare it with == or !="),
    ("training_completed == yes", "true or false"),
    ("availabilty >= 99%", "did you mean `availability`?"),
    ("nonsense_figure_xyz >= 1", "known: "),
    ("availability 99%", "is not `NAME OP VALUE`"),
    ("availability >= lots", "is not a number"),
    ("availability => 99%", "is not `NAME OP VALUE`"),
])
def test_bad_verdicts_say_what_is_wrong(text, message):
    with pytest.raises(ExprError, match=None) as err:
        parse_verdict(text)
    assert message in str(err.value), str(err.value)


def test_a_verdict_must_be_a_string():
    with pytest.raises(ExprError, match="is a string like"):
        parse_verdict(99)  # type: ignore[arg-type]


# ------------------------------------------------------------------ figure against figure
def test_figure_against_figure():
    c = parse_verdict("training_steps_lost <= checkpoint_interval")
    assert (c.name, c.op, c.other, c.value, c.unit) == ("training_steps_lost", "<=", "checkpoint_interval",
                                                        None, "steps")
    assert c.holds(20, 25) is True and c.holds(30, 25) is False and c.holds(25, 25) is True
    assert c.holds(20, None) is None and c.holds(20, float("nan")) is None


def test_figure_against_figure_of_the_same_unit():
    c = parse_verdict("p99_fault <= p99_steady")
    assert c.other == "p99_steady" and c.unit == "ms"
    assert c.holds(120.0, 100.0) is False and c.holds(90.0, 100.0) is True


@pytest.mark.parametrize("text", ["availability >= p99_fault", "training_steps_lost <= requests_lost",
                                  "time_to_detect <= p99_fault", "training_completed == requests_lost"])
def test_figure_against_figure_with_another_unit_is_refused(text):
    with pytest.raises(ExprError, match="cannot be compared with"):
        parse_verdict(text)


# ------------------------------------------------------------------ holds
def test_holds_is_none_when_not_measured():
    c = parse_verdict("availability >= 99%")
    assert c.holds(None) is None and c.holds(float("nan")) is None


@pytest.mark.parametrize(("text", "observed", "expected"), [
    ("availability >= 99%", 0.995, True),
    ("availability >= 99%", 0.99, True),
    ("availability >= 99%", 0.98, False),
    ("availability > 99%", 0.99, False),
    ("time_to_detect <= 2s", math.inf, False),       # never detected
    ("time_to_detect < 2s", 1.999, True),
    ("time_to_recover > 1s", math.inf, True),
    ("p99_ratio != 1", math.inf, True),
    ("p99_ratio == 1", 1.0, True),
    ("time_to_detect >= 0", -math.inf, False),
    ("training_completed == true", True, True),
    ("training_completed == true", False, False),
    ("checkpoint_integrity != false", True, True),
    ("stopped == false", False, True),
])
def test_holds(text, observed, expected):
    assert parse_verdict(text).holds(observed) is expected


def test_holds_returns_a_real_bool():
    assert type(parse_verdict("requests_lost <= 1").holds(0)) is bool


def test_show_value():
    assert show_value(None, "s") == "not measured" and show_value(float("nan"), "ms") == "not measured"
    assert show_value(math.inf, "s") == "never" and show_value(True, "bool") == "true"
    assert show_value(0.995, "fraction") == "99.5%" and show_value(0.5, "s") == "0.5s"
    assert show_value(250.0, "ms") == "250ms"


# ------------------------------------------------------------------ stop conditions
def test_stop_condition_with_for():
    s = parse_stop("success_rate < 90% for 5s")
    assert s.for_s == 5.0 and s.text == "success_rate < 90% for 5s"
    assert (s.comparison.name, s.comparison.op, s.comparison.value) == ("success_rate", "<", pytest.approx(0.9))


@pytest.mark.parametrize(("text", "for_s"), [("success_rate < 90% for 500ms", 0.5),
                                             ("error_rate > 10% for 1.5s", 1.5),
                                             ("p99 > 2s for 2m", 120.0),
                                             ("p99 > 2s for 1min", 60.0),
                                             ("healthy_replicas < 3", 0.0)])
def test_stop_condition_durations(text, for_s):
    assert parse_stop(text).for_s == pytest.approx(for_s)


def test_stop_condition_units():
    assert parse_stop("p99 > 1s").comparison.value == pytest.approx(1000.0)        # p99 is in ms
    assert parse_stop("error_rate > 0.1").comparison.value == pytest.approx(0.1)
    assert parse_stop("healthy_replicas < 3").comparison.unit == LIVE["healthy_replicas"][0]


@pytest.mark.parametrize(("text", "message"), [
    ("availability < 90% for 5s", "unknown live measurement `availability`"),
    ("succes_rate < 90% for 5s", "did you mean `success_rate`?"),
    ("success_rate < 90 for 5s", "did you mean 90%?"),
    ("success_rate < 90% during 5s", "is not a number"),
])
def test_bad_stop_conditions(text, message):
    with pytest.raises(ExprError) as err:
        parse_stop(text)
    assert message in str(err.value), str(err.value)


def test_a_stop_condition_must_be_a_string():
    with pytest.raises(ExprError, match="is a string like"):
        parse_stop(["success_rate < 90%"])  # type: ignore[arg-type]


# ------------------------------------------------------------------ property
_UNIT_FIGURES = {
    "fraction": ["availability", "success_rate_after"],
    "s": ["time_to_detect", "time_to_recover"],
    "ms": ["p99_fault", "p50_steady"],
    "count": ["requests_lost", "training_restarts"],
    "ratio": ["p99_ratio"],
}
#: (unit written, figure unit) -> factor from the written number to the figure's unit
_FACTOR = {("%", "fraction"): 0.01, ("", "fraction"): 1.0,
           ("s", "s"): 1.0, ("ms", "s"): 0.001, ("", "s"): 1.0, ("m", "s"): 60.0,
           ("s", "ms"): 1000.0, ("ms", "ms"): 1.0, ("", "ms"): 1.0,
           ("", "count"): 1.0, ("", "ratio"): 1.0}


@st.composite
def verdicts(draw):
    written, unit = draw(st.sampled_from(sorted(_FACTOR)))
    name = draw(st.sampled_from(_UNIT_FIGURES[unit]))
    op = draw(st.sampled_from(sorted(OPS)))
    top = 100 if written == "%" else (1 if unit == "fraction" else 10_000)
    whole = draw(st.integers(0, top))
    frac = draw(st.integers(0, 999)) if whole < top else 0
    number = f"{whole}.{frac:03d}"
    return f"{name} {op} {number}{written}", float(number) * _FACTOR[(written, unit)], op


@given(verdicts(), st.one_of(st.floats(allow_nan=False), st.integers(-10**6, 10**6)))
def test_holds_agrees_with_the_operator_on_the_converted_value(verdict, observed):
    text, expected_value, op = verdict
    c = parse_verdict(text)
    assert c.value == pytest.approx(expected_value, rel=1e-12, abs=1e-12)
    assert c.holds(observed) is OPS[op](observed, c.value)


@given(st.sampled_from(sorted(OPS)), st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_holds_figure_against_figure_agrees_with_the_operator(op, a, b):
    c = parse_verdict(f"p99_fault {op} p99_steady")
    assert c.holds(a, b) is OPS[op](a, b)
    assert c.holds(float("nan"), b) is None and c.holds(a, None) is None
