"""Data integrity (deepchecks' default integrity checks): conflicting labels, string
mismatches, mixed types, special characters and outlier rows. Each planted defect is built
from real UCI Adult at several strengths and caught with the defaults; each clean twin
(Adult as is) passes; a check that cannot run is `error`."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlqa.registry import Registry
from mlqa.session import run_check
from mlqa.suites.data import _integrity
from mlqa.suites.data._integrity_strings import _is_number, _special, base_form

IDS = ("data.conflicting_labels", "data.string_mismatch", "data.mixed_types", "data.special_characters",
       "data.outliers")
REG = Registry.discover()
REG.add_object(_integrity)  # the checks register from this module (whether or not the package re-exports them)


def run(cid, ctx, **params):
    spec = REG.get(cid)
    return run_check(spec, ctx, spec.bind(params), key=cid)


def test_every_integrity_check_is_registered_and_documents_its_parameters():
    for cid in IDS:
        spec = REG.get(cid)
        assert spec.summary and spec.requires == ("test",)
        assert all(p.doc for p in spec.params), cid
        assert "weakest" in spec.doc, f"{cid} must state the weakest defect it catches"


@pytest.mark.parametrize("cid", IDS)
def test_untouched_adult_passes(cid, make_ctx, adult_train, adult_test):
    res = run(cid, make_ctx(adult_train, adult_test))
    assert res.status == "passed", res.message


@pytest.mark.parametrize("cid", IDS)
def test_an_empty_split_is_an_error(cid, make_ctx, adult_train, adult_test):
    res = run(cid, make_ctx(adult_train, adult_test.iloc[:0]))
    assert res.status == "error" and "test data has no rows" in res.message


# ------------------------------------------------------------------ conflicting labels
def with_flipped_copies(frame: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """`n` rows copied with the opposite income: the same features, two labels."""
    rows = frame.sample(n, random_state=seed).copy()
    rows["income"] = rows["income"].map({">50K": "<=50K", "<=50K": ">50K"})
    return pd.concat([frame, rows], ignore_index=True)


@pytest.mark.parametrize("copies", [16, 65, 326])  # 0.05% (the weakest caught), 0.2%, 1% of Adult's train
def test_rows_copied_with_the_other_label_conflict(copies, make_ctx, adult_train, adult_test):
    res = run("data.conflicting_labels", make_ctx(with_flipped_copies(adult_train, copies), adult_test))
    assert res.status == "failed" and "train" in res.message
    train = res.evidence["splits"][0]
    assert train["groups"] >= copies and train["conflicting_rows"] >= 2 * copies
    group = res.evidence["groups"][0]  # minimal first: a pair, one row per label
    assert group["rows"] == 2 and group["labels"] == {"<=50K": 1, ">50K": 1}
    assert set(group["features"]) == set(adult_train.columns) - {"income"}


@pytest.mark.parametrize("copies", [8, 15])
def test_a_few_conflicts_under_the_limit_are_reported_not_judged(copies, make_ctx, adult_train, adult_test):
    res = run("data.conflicting_labels", make_ctx(with_flipped_copies(adult_train, copies), adult_test))
    assert res.status == "passed" and res.evidence["splits"][0]["groups"] == copies + 1  # + the natural pair
    assert 0 < res.metrics["conflicting_fraction"] <= 0.001


def test_adult_natural_conflicts_are_the_two_census_twins(make_ctx, adult_train, adult_test):
    res = run("data.conflicting_labels", make_ctx(adult_train, adult_test))
    assert [(s["conflicting_rows"], s["groups"]) for s in res.evidence["splits"]] == [(2, 1), (2, 1)]
    assert run("data.conflicting_labels", make_ctx(adult_train, adult_test), max_fraction=0.0).status == "failed"


def test_a_fresh_key_does_not_hide_conflicts(make_ctx, adult_train, adult_test):
    train = with_flipped_copies(adult_train, 65)
    train["customer_id"] = np.arange(len(train))
    test = adult_test.assign(customer_id=np.arange(10**6, 10**6 + len(adult_test)))
    res = run("data.conflicting_labels", make_ctx(train, test))
    assert res.status == "failed" and "customer_id" in res.evidence["excluded_as_identifiers"]
    assert "customer_id" not in res.evidence["features"]


def test_conflicting_labels_without_a_label_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.conflicting_labels", make_ctx(adult_train, adult_test, label=None))
    assert res.status == "error" and "data.label" in res.message


def test_conflicting_labels_on_regression_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.conflicting_labels", make_ctx(adult_train, adult_test, task="regression"))
    assert res.status == "error" and "regression" in res.message


# ------------------------------------------------------------------ string mismatch
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
       st.lists(st.sampled_from([" ", "-", "_", ".", "  ", "'"]), max_size=4), st.booleans())
def test_base_form_ignores_case_spaces_and_punctuation(word, seps, upper):
    variant = word.upper() if upper else word.capitalize()
    for i, sep in enumerate(seps):
        at = min(i + 1, len(variant))
        variant = variant[:at] + sep + variant[at:]
    assert base_form(f"  {variant} ") == base_form(word) == word


def test_base_form_keeps_symbols_that_carry_meaning():
    assert base_form("<=50K") != base_form(">50K")
    assert base_form("-5") != base_form("5") and base_form(">50K.") == base_form(">50K")
    assert base_form("?") == base_form("--") == ""


@pytest.mark.parametrize("column,spelling,rows", [
    ("sex", "male ", 1),               # one trailing space, one row
    ("sex", "MALE", 200),
    ("workclass", "Self emp inc", 50),  # separators
    ("race", "white", 3000),
])
def test_a_second_spelling_of_a_category_is_a_mismatch(column, spelling, rows, make_ctx, adult_train, adult_test):
    train = adult_train.copy()
    original = {"sex": "Male", "workclass": "Self-emp-inc", "race": "White"}[column]
    at = train.index[train[column] == original][:rows]
    train.loc[at, column] = spelling
    res = run("data.string_mismatch", make_ctx(train, adult_test))
    assert res.status == "failed" and res.metrics["variant_groups"] == 1 and column in res.message
    found = {r["variant"]: r for r in res.evidence["variants"] if r["column"] == column}
    assert set(found) == {original, spelling} and found[spelling]["train"] == rows


def test_a_spelling_only_test_uses_is_caught_across_splits(make_ctx, adult_train, adult_test):
    test = adult_test.copy()
    test["income"] = test["income"] + "."  # the raw UCI adult.test writes ">50K."
    res = run("data.string_mismatch", make_ctx(adult_train, test))
    assert res.status == "failed" and res.metrics["variant_groups"] == 2  # <=50K and >50K
    rows = {r["variant"]: (r["train"], r["test"]) for r in res.evidence["variants"]}
    assert rows[">50K"][1] == 0 and rows[">50K."][0] == 0 and rows[">50K."][1] > 0


def test_string_mismatch_with_no_text_columns_says_so(make_ctx, adult_train, adult_test):
    cols = ["age", "hours-per-week"]
    train = adult_train[cols].assign(income=(adult_train["income"] == ">50K").astype(int))
    test = adult_test[cols].assign(income=(adult_test["income"] == ">50K").astype(int))
    res = run("data.string_mismatch", make_ctx(train, test))
    assert res.status == "passed" and "no text columns" in res.message


def test_string_mismatch_on_a_numeric_column_named_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.string_mismatch", make_ctx(adult_train, adult_test), columns=["age"])
    assert res.status == "error" and "age" in res.message and "text" in res.message


# ------------------------------------------------------------------ mixed types
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers())
def test_numbers_written_as_text_are_numbers(x):
    assert _is_number(str(x)) and _is_number(f" {x} ") and _is_number(x)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1))
def test_words_are_not_numbers(word):
    assert not _is_number(word) and not _is_number(True)


@pytest.mark.parametrize("share", [0.05, 0.01, 0.001])
def test_numbers_among_categories_are_mixed_types(share, make_ctx, adult_train, adult_test):
    train = adult_train.copy()
    at = train.sample(frac=share, random_state=1).index
    train.loc[at, "occupation"] = "12"
    res = run("data.mixed_types", make_ctx(train, adult_test))
    assert res.status == "failed" and "occupation" in res.message
    row = res.evidence["columns"][0]
    assert row["column"] == "occupation" and row["minority"] == "numbers" and row["number_examples"] == ["12"]


def test_one_word_in_a_numeric_column_is_mixed_types(make_ctx, adult_train, adult_test):
    train = adult_train.copy()
    train["age"] = train["age"].astype(object)
    train.loc[7, "age"] = "unknown"  # as an object column of ints and one string (e.g. from Parquet)
    res = run("data.mixed_types", make_ctx(train, adult_test))
    assert res.status == "failed" and "'unknown'" in res.message
    assert res.evidence["columns"][0]["minority"] == "text"


def test_a_column_mixed_by_design_is_reported_not_judged(make_ctx, adult_train, adult_test):
    train = adult_train.copy()
    at = train.sample(frac=0.3, random_state=1).index
    train.loc[at, "occupation"] = train.loc[at, "hours-per-week"].astype(str)
    res = run("data.mixed_types", make_ctx(train, adult_test))
    assert res.status == "passed" and "mixed by design" in res.message
    assert res.evidence["columns"][0]["judged"] is False


def test_mixed_types_with_only_numbers_says_so(make_ctx, adult_train, adult_test):
    cols = ["age", "fnlwgt"]
    res = run("data.mixed_types", make_ctx(adult_train[cols], adult_test[cols], label="fnlwgt"))
    assert res.status == "passed" and "no text columns" in res.message


# ------------------------------------------------------------------ special characters
@pytest.mark.parametrize("value", ["?", "-", "#", "***", "", "   ", "#@!x", "**1**", "---1"])
def test_special_values(value):
    assert _special(value)


@pytest.mark.parametrize("value", ["<=50K", ">50K", "Self-emp-inc", "1st-4th", "C++", "(n/a)", "$1.5", "Male"])
def test_ordinary_values(value):
    assert not _special(value)


def test_raw_adult_question_marks_are_special_characters(make_ctx, adult_train, adult_test):
    """The raw UCI files write missing as `?`; read without na_values they hide from data.missing."""
    train = adult_train.copy()
    for col in ("workclass", "occupation", "native-country"):
        train[col] = train[col].fillna("?")
    res = run("data.special_characters", make_ctx(train, adult_test))
    assert res.status == "failed" and "na_values" in res.message
    assert {r["column"] for r in res.evidence["columns"]} == {"workclass", "occupation", "native-country"}
    assert res.evidence["columns"][0]["values"] == {"'?'": int((train["occupation"] == "?").sum())}


@pytest.mark.parametrize("marker,rows,caught", [("?", 33, True), ("***", 500, True), ("#@!x", 100, True),
                                                ("-", 32, False)])  # 0.101%, 1.5%, 0.3% / 0.098%
def test_special_values_caught_from_a_tenth_of_a_percent(marker, rows, caught, make_ctx, adult_train, adult_test):
    train = adult_train.copy()
    at = train.sample(rows, random_state=2).index
    train.loc[at, "education"] = marker
    res = run("data.special_characters", make_ctx(train, adult_test))
    assert (res.status == "failed") is caught, res.message
    assert res.evidence["columns"][0]["column"] == "education" and res.evidence["columns"][0]["rows"] == rows


def test_special_characters_on_a_numeric_column_named_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.special_characters", make_ctx(adult_train, adult_test), columns=["fnlwgt"])
    assert res.status == "error" and "fnlwgt" in res.message


# ------------------------------------------------------------------ outliers
def with_random_rows(frame: pd.DataFrame, share: float, seed: int = 5) -> tuple[pd.DataFrame, set]:
    """`share` of the rows replaced by random values (each column drawn over its range or
    its categories): rows from a broken parse or join. Returns (frame, planted row labels)."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(out), round(share * len(out)), replace=False)
    for col in out.columns:
        if col == "income":
            continue
        j = out.columns.get_loc(col)
        if pd.api.types.is_numeric_dtype(out[col]):
            out.iloc[rows, j] = rng.uniform(out[col].min(), out[col].max(), len(rows)).round()
        else:
            out.iloc[rows, j] = rng.choice(out[col].dropna().unique(), len(rows))
    return out, set(out.index[rows])


@pytest.mark.parametrize("share", [0.005, 0.02])
def test_rows_of_random_values_are_outliers(share, make_ctx, adult_train, adult_test):
    test, planted = with_random_rows(adult_test, share)
    res = run("data.outliers", make_ctx(adult_train, test))
    assert res.status == "failed" and res.evidence["splits"][1]["fraction"] > 0.003
    top = [r for r in res.evidence["top_outliers"] if r["split"] == "test"]
    assert top and all(r["row"] in planted for r in top)
    why = top[0]["why"][0]
    assert why["feature"] in test.columns and why["rows_as_extreme"] < 0.05


def test_outliers_are_seeded(make_ctx, adult_train, adult_test):
    small = adult_test.iloc[:3000]
    a = run("data.outliers", make_ctx(None, small, seed=3))
    b = run("data.outliers", make_ctx(None, small, seed=3))
    assert a.metrics == b.metrics and a.evidence["top_outliers"] == b.evidence["top_outliers"]


def test_outliers_on_too_few_rows_is_an_error(make_ctx, adult_test):
    res = run("data.outliers", make_ctx(None, adult_test.iloc[:10]))
    assert res.status == "error" and "too few" in res.message


def test_outliers_with_no_varying_feature_is_an_error(make_ctx, adult_test):
    frame = pd.DataFrame({"a": [1.0] * 50, "b": ["x"] * 50, "income": ["<=50K", ">50K"] * 25})
    res = run("data.outliers", make_ctx(None, frame))
    assert res.status == "error" and "columns" in res.message


def test_outliers_read_dates_booleans_and_categories(make_ctx):
    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame({"seen": pd.date_range("2024-01-01", periods=n // 3, freq="D").repeat(3), "flag": rng.random(n) > 0.5,
                          "tier": pd.Categorical(rng.choice(["a", "b", "c"], n)), "amount": rng.normal(100, 5, n),
                          "income": rng.choice(["<=50K", ">50K"], n)})
    frame.loc[3, "seen"] = pd.NaT
    frame.loc[7, "amount"] = 10_000.0  # one row off by x100
    res = run("data.outliers", make_ctx(None, frame))
    top = res.evidence["top_outliers"][0]
    assert top["row"] == 7 and top["why"][0]["feature"] == "amount" and top["why"][0]["value"] == 10_000.0
    assert set(res.evidence["features"]) == {"seen", "flag", "tier", "amount"}
