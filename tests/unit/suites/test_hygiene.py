"""data.single_value and data.mixed_nulls: planted defects built from real UCI Adult at
several strengths are caught with the defaults; their clean twins pass."""
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa.registry import Registry, spec_of
from mlqa.session import run_check
from mlqa.suites.data._hygiene import NULL_SPELLINGS, mixed_nulls, single_value

SPECS = {"data.single_value": spec_of(single_value), "data.mixed_nulls": spec_of(mixed_nulls)}


def run(cid, ctx, **params):
    spec = SPECS[cid]
    return run_check(spec, ctx, spec.bind(params), key=cid)


def test_both_checks_are_registered():
    reg = Registry.discover()
    assert {"data.single_value", "data.mixed_nulls"} <= set(reg.checks)


# ------------------------------------------------------------------ single value
def test_adult_as_is_has_no_single_value_column(make_ctx, adult_train, adult_test):
    res = run("data.single_value", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and res.metrics["single_value_columns"] == 0


@pytest.mark.parametrize("column,value", [("workclass", "Private"), ("hours-per-week", 40), ("sex", "Male")])
def test_a_column_constant_in_test_is_flagged(make_ctx, adult_train, adult_test, column, value):
    test = adult_test.copy()
    test[column] = value
    res = run("data.single_value", make_ctx(adult_train, test))
    assert res.status == "failed" and res.metrics["single_value_columns"] == 1
    assert column in res.message and "test" in res.message
    assert res.evidence["columns"][0]["column"] == column and res.evidence["columns"][0]["flagged"]


def test_one_value_plus_missing_is_still_single_value(make_ctx, adult_train, adult_test):
    train = adult_train.copy()
    train.loc[train["occupation"].notna(), "occupation"] = "Prof-specialty"  # 1,843 rows stay missing
    res = run("data.single_value", make_ctx(train, adult_test))
    assert res.status == "failed" and "occupation (train: only 'Prof-specialty'" in res.message
    assert res.evidence["columns"][0]["missing"] == int(adult_train["occupation"].isna().sum())


def test_a_column_constant_in_every_split_is_flagged(make_ctx, adult_train, adult_test):
    train, test = adult_train.copy(), adult_test.copy()
    train["source_system"], test["source_system"] = "crm", "crm"
    res = run("data.single_value", make_ctx(train, test))
    assert res.status == "failed" and res.metrics["single_value_columns"] == 1 and "source_system" in res.message


def test_an_entirely_missing_column_is_flagged(make_ctx, adult_train, adult_test):
    test = adult_test.copy()
    test["capital-gain"] = float("nan")
    res = run("data.single_value", make_ctx(adult_train, test))
    assert res.status == "failed" and "capital-gain (test: entirely missing" in res.message


@pytest.mark.parametrize("rows,caught", [(5000, True), (50, True), (15, False)])
def test_a_constant_small_split_is_judged_against_chance(make_ctx, adult_train, adult_test, rows, caught):
    """workclass is 'Private' on ~74% of train's known rows: a test sample of 15 rows all
    'Private' happens by chance (0.74^15 ~ 1%), of 50 rows it does not (~3e-7)."""
    test = adult_test[adult_test["workclass"] == "Private"].sample(rows, random_state=0)
    res = run("data.single_value", make_ctx(adult_train, test.reset_index(drop=True)), columns=["workclass"])
    assert res.status == ("failed" if caught else "passed"), res.message


def test_a_mostly_zero_column_constant_in_a_small_sample_passes(make_ctx, adult_train, adult_test):
    """The clean twin: 30 test rows, all with capital-loss 0 (95% of Adult) — chance."""
    test = adult_test[adult_test["capital-loss"] == 0].sample(30, random_state=0).reset_index(drop=True)
    res = run("data.single_value", make_ctx(adult_train, test), columns=["capital-loss", "age"])
    assert res.status == "passed", res.message
    assert res.evidence["columns"][0]["column"] == "capital-loss" and not res.evidence["columns"][0]["flagged"]
    assert "by chance" in res.message


def test_single_value_with_one_split_flags_any_constant(make_ctx, adult_test):
    test = adult_test.copy()
    test["race"] = "White"
    res = run("data.single_value", make_ctx(None, test))
    assert res.status == "failed" and "race" in res.message


def test_single_value_allows_what_max_columns_allows(make_ctx, adult_train, adult_test):
    test = adult_test.copy()
    test["race"] = "White"
    assert run("data.single_value", make_ctx(adult_train, test), max_columns=1).status == "passed"


def test_single_value_on_an_empty_split_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.single_value", make_ctx(adult_train, adult_test.iloc[:0]))
    assert res.status == "error" and "no rows" in res.message


def test_single_value_on_an_absent_column_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.single_value", make_ctx(adult_train, adult_test), columns=["nope"])
    assert res.status == "error" and "nope" in res.message


# ------------------------------------------------------------------ mixed nulls
def _plant(frame: pd.DataFrame, column: str, spelling: str, rows: int) -> pd.DataFrame:
    out = frame.copy()
    out[column] = out[column].astype(object)
    idx = out.index[out[column].isna()][:rows]
    out.loc[idx, column] = spelling
    return out


def test_adult_as_stored_writes_missing_one_way(make_ctx, adult_train, adult_test):
    res = run("data.mixed_nulls", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and res.metrics["max_null_kinds"] == 1
    assert {r["column"] for r in res.evidence["columns"]} == {"workclass", "occupation", "native-country"}


def test_raw_adult_with_question_marks_only_passes(make_ctx, adult_train, adult_test):
    """The raw census files write every missing value as `?`: one spelling, consistent."""
    raw = [f.astype(object).where(f.notna(), "?") for f in (adult_train, adult_test)]
    res = run("data.mixed_nulls", make_ctx(*raw))
    assert res.status == "passed" and res.metrics["max_null_kinds"] == 1
    assert res.evidence["columns"][0]["spellings"] == ["'?'"]


@pytest.mark.parametrize("rows", [1, 18, 900])
@pytest.mark.parametrize("spelling", ["N/A", "", "  ", "null", "?", "None"])
def test_a_second_spelling_of_missing_is_caught(make_ctx, adult_train, adult_test, rows, spelling):
    train = _plant(adult_train, "workclass", spelling, rows)
    res = run("data.mixed_nulls", make_ctx(train, adult_test))
    assert res.status == "failed" and res.metrics["max_null_kinds"] == 2 and res.metrics["columns_over_limit"] == 1
    top = res.evidence["columns"][0]
    assert top["column"] == "workclass" and top["rows"]["train"][repr(spelling)] == rows
    assert top["rows"]["train"]["<missing>"] == int(adult_train["workclass"].isna().sum()) - rows


def test_three_spellings_in_one_column(make_ctx, adult_train, adult_test):
    train = _plant(_plant(adult_train, "occupation", "NA", 10), "occupation", "-", 10)
    res = run("data.mixed_nulls", make_ctx(train, adult_test))
    assert res.status == "failed" and res.metrics["max_null_kinds"] == 3
    assert run("data.mixed_nulls", make_ctx(train, adult_test), max_kinds=3).status == "passed"


def test_train_and_test_spelling_missing_differently_is_caught(make_ctx, adult_train, adult_test):
    test = adult_test.astype({"native-country": object})
    test["native-country"] = test["native-country"].where(test["native-country"].notna(), "?")
    res = run("data.mixed_nulls", make_ctx(adult_train, test))
    assert res.status == "failed" and "native-country" in res.message
    assert res.evidence["columns"][0]["rows"]["test"] == {"'?'": int(adult_test["native-country"].isna().sum())}


def test_each_column_consistent_on_its_own_passes(make_ctx, adult_train, adult_test):
    """The twin of the split mismatch: `?` throughout workclass, NaN in the other columns."""
    frames = []
    for f in (adult_train, adult_test):
        f = f.astype({"workclass": object})
        f["workclass"] = f["workclass"].where(f["workclass"].notna(), "?")
        frames.append(f)
    assert run("data.mixed_nulls", make_ctx(*frames)).status == "passed"


def test_a_real_category_is_not_a_spelling_of_missing_unless_declared(make_ctx, adult_train, adult_test):
    train = _plant(adult_train, "workclass", "Unknown", 50)
    assert run("data.mixed_nulls", make_ctx(train, adult_test)).status == "passed"
    assert run("data.mixed_nulls", make_ctx(train, adult_test), tokens=["unknown"]).status == "failed"


def test_mixed_nulls_on_an_empty_split_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.mixed_nulls", make_ctx(adult_train.iloc[:0], adult_test))
    assert res.status == "error" and "train split has no rows" in res.message


@settings(max_examples=40)
@given(st.lists(st.sampled_from(sorted(NULL_SPELLINGS | {"NA", "Null", " n/a "})), max_size=6),
       st.booleans())
def test_kinds_count_the_distinct_spellings(make_ctx, spellings, with_nan):
    values = ["a", "b"] * 5 + spellings + ([None] if with_nan else [])
    frame = pd.DataFrame({"col": pd.Series(values, dtype=object), "income": ["x"] * len(values)})
    res = run("data.mixed_nulls", make_ctx(None, frame), columns=["col"])
    expected = len(set(spellings)) + int(with_nan)
    assert res.metrics["max_null_kinds"] == expected
    assert res.status == ("passed" if expected <= 1 else "failed")


def test_category_dtype_unused_categories_do_not_count(make_ctx, adult_train, adult_test):
    """A category dtype lists categories no row holds: they are neither values nor spellings."""
    test = adult_test.copy()
    test["workclass"] = pd.Categorical(["Private"] * len(test), categories=["Private", "State-gov", "N/A"])
    res = run("data.single_value", make_ctx(adult_train, test))
    assert res.status == "failed" and "workclass (test: only 'Private'" in res.message
    assert run("data.mixed_nulls", make_ctx(adult_train, test)).status == "passed"
