from typing import Literal

import pytest
from hypothesis import given, strategies as st

from mlqa.params import Columns, ParamTypeError, coerce, is_column, type_name


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
    if isinstance(value, int) and not isinstance(value, bool):
        assert coerce(value, float) == float(value)
    else:
        with pytest.raises(ParamTypeError):
            coerce(value, float)
