import math
from typing import Literal

import pytest
from hypothesis import given, strategies as st

from mlqa.params import (Columns, Count, Finite, Fraction, NonNegative, ParamTypeError, Positive, PositiveInt,
                         Range, coerce, is_column, is_numeric, range_of, type_name)


def test_int_is_accepted_for_float_but_bool_is_not():
    assert coerce(1, float) == 1.0 and isinstance(coerce(1, float), float)
    with pytest.raises(ParamTypeError):
        coerce(True, float)


def test_a_string_is_never_split_into_a_list():
    with pytest.raises(ParamTypeError, match="must be a list"):
        coerce("sex", list[str])


def test_optional_literal_and_mapping():
    assert coerce(None, float | None) is None
    assert coerce("a", Literal["a", "b"]) == "a"
    with pytest.raises(ParamTypeError, match="one of"):
        coerce("c", Literal["a", "b"])
    assert coerce({"x": 1}, dict[str, float]) == {"x": 1.0}


def test_column_marker():
    assert is_column(Columns) and is_column(Columns | None) and not is_column(list[str])
    assert type_name(Columns | None) == "list[str] | null"


@given(st.lists(st.text(max_size=5), max_size=5))
def test_list_of_strings_roundtrips(values):
    assert coerce(values, list[str]) == values


@given(st.one_of(st.integers(), st.text(), st.booleans(), st.none()))
def test_floats_reject_everything_but_numbers(value):
    from mlqa.params import _EXPONENT
    if isinstance(value, int) and not isinstance(value, bool):
        assert coerce(value, float) == float(value)
    elif isinstance(value, str) and _EXPONENT.match(value):
        assert coerce(value, float) == float(value)  # `1e-6`: PyYAML's string, YAML 1.2's number
    else:
        with pytest.raises(ParamTypeError):
            coerce(value, float)


def test_one_column_name_reads_as_a_list_where_columns_are_expected():
    """`sensitive: race` (DESIGN.md's own example) was refused: a list was expected."""
    assert coerce("race", Columns) == ["race"] and coerce("race", Columns | None) == ["race"]
    with pytest.raises(ParamTypeError, match="must be a list"):
        coerce("race", list[str])  # elsewhere a string is still never split into a list


@pytest.mark.parametrize("value, tp, match", [(-5, NonNegative, "must be >= 0"), (1.01, Fraction, "must be 0..1"),
                                              (0, Positive, "must be > 0"), (0, PositiveInt, "must be >= 1"),
                                              (float("nan"), Finite, "finite"), (float("inf"), float, "finite"),
                                              (10**5000, Finite, "finite"), (2, Fraction | None, "must be 0..1"),
                                              (0.2, Count, "must be int")],
                         ids=lambda v: type(v).__name__ if isinstance(v, int) and v > 10**6 else None)
def test_ranges_refuse_values_outside_them(value, tp, match):
    with pytest.raises(ParamTypeError, match=match):
        coerce(value, tp, "x")


def test_ranges_render_in_type_names_and_are_found_through_unions():
    assert type_name(Fraction | None) == "float (0..1) | null" and type_name(list[PositiveInt]) == "list[int (>= 1)]"
    assert range_of(dict[str, Fraction]) == Range(0.0, 1.0) and range_of(Columns) is None
    assert is_numeric(Count | None) and not is_numeric(Columns) and not is_numeric(Literal["a"])


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_fraction_is_exactly_the_finite_numbers_from_0_to_1(value):
    if math.isfinite(value) and 0 <= value <= 1:
        assert coerce(value, Fraction) == value
    else:
        with pytest.raises(ParamTypeError):
            coerce(value, Fraction)


def test_exponent_notation_pyyaml_reads_as_a_string_is_a_number():
    assert coerce("1e-6", float) == 1e-6 and coerce("2E3", NonNegative) == 2000.0
    with pytest.raises(ParamTypeError):
        coerce("1e-6x", float)


def test_a_plugin_check_gets_the_same_range_checks_as_a_built_in():
    """The README's Extending section: `max_ms: Positive` on a team's own check."""
    from mlqa.params import ParamTypeError, Positive
    from mlqa.registry import _spec_from_function

    def latency_budget(ctx, *, max_ms: Positive = 20.0):
        """Parameters:
        max_ms: the budget in milliseconds per row (default 20)
        """
    spec = _spec_from_function("acme.latency_budget", latency_budget, ("model",))
    assert spec.bind({"max_ms": 5})["max_ms"] == 5.0
    for bad in (-5, 0, float("nan"), "1e999"):
        with pytest.raises(ParamTypeError):
            spec.bind({"max_ms": bad})
