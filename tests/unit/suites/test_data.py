"""Planted data defects are caught; their clean twins raise no alarm (real UCI Adult data)."""
import numpy as np
import pandas as pd
import pytest

from mlqa.registry import Registry
from mlqa.session import run_check

REG = Registry.discover()


def run(cid, ctx, **params):
    spec = REG.get(cid)
    return run_check(spec, ctx, spec.bind(params), key=cid)


@pytest.fixture(scope="module")
def iid_halves(adult_train):
    """A clean twin: two random halves of the same file."""
    shuffled = adult_train.sample(frac=1.0, random_state=0).reset_index(drop=True)
    half = len(shuffled) // 2
    return shuffled.iloc[:half].reset_index(drop=True), shuffled.iloc[half:].reset_index(drop=True)


# ------------------------------------------------------------------ label leakage
def test_label_copy_is_leakage(make_ctx, adult_train, adult_test):
    train, test = adult_train.copy(), adult_test.copy()
    for frame in (train, test):
        frame["approved_flag"] = (frame["income"] == ">50K").map({True: "Y", False: "N"})
    res = run("data.label_leakage", make_ctx(train, test))
    assert res.status == "failed" and res.metrics["max_auc"] > 0.99
    assert res.evidence["features"][0]["feature"] == "approved_flag" and "approved_flag" in res.message


def test_noisy_numeric_leak_is_leakage(make_ctx, adult_train, adult_test):
    rng = np.random.default_rng(0)
    train, test = adult_train.copy(), adult_test.copy()
    for frame in (train, test):
        frame["score_v2"] = (frame["income"] == ">50K") * 3.0 + rng.normal(0, 0.5, len(frame))
    res = run("data.label_leakage", make_ctx(train, test))
    assert res.status == "failed" and res.evidence["features"][0]["feature"] == "score_v2"


def test_honest_features_are_not_leakage(make_ctx, adult_train, adult_test):
    res = run("data.label_leakage", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and 0.7 < res.metrics["max_auc"] < 0.9


def test_leakage_with_one_split_uses_a_seeded_half_split(make_ctx, adult_train):
    train = adult_train.copy()
    train["leak"] = train["income"]
    res = run("data.label_leakage", make_ctx(None, train))
    assert res.status == "failed"


# ------------------------------------------------------------------ drift
def test_shifted_test_set_drifts(make_ctx, iid_halves):
    train, test = iid_halves
    shifted = test.copy()
    shifted["age"] = shifted["age"] + 15
    res = run("data.drift", make_ctx(train, shifted))
    assert res.status == "failed" and res.evidence["features"][0]["feature"] == "age"
    assert res.metrics["max_psi"] > 0.2 and "age" in res.message
    assert res.evidence["features"][0]["p_value"] < 1e-6


def test_category_mix_shift_drifts(make_ctx, iid_halves):
    train, test = iid_halves
    biased = test[test["workclass"] != "Private"]
    res = run("data.drift", make_ctx(train, biased))
    assert res.status == "failed" and res.evidence["drifted"][0] in ("workclass",)


def test_iid_split_does_not_drift(make_ctx, iid_halves):
    res = run("data.drift", make_ctx(*iid_halves))
    assert res.status == "passed" and res.metrics["max_psi"] < 0.01


def test_real_adult_train_vs_test_does_not_drift(make_ctx, adult_train, adult_test):
    assert run("data.drift", make_ctx(adult_train, adult_test)).status == "passed"


def test_p_values_judged_only_on_request(make_ctx, iid_halves):
    train, test = iid_halves
    nudged = test.copy()
    nudged["hours-per-week"] = nudged["hours-per-week"] + 1  # tiny, but significant at n=16k
    assert run("data.drift", make_ctx(train, nudged)).status == "passed"
    assert run("data.drift", make_ctx(train, nudged), min_p_value=0.001).status == "failed"


# ------------------------------------------------------------------ duplicates / overlap
def test_duplicated_rows_are_caught(make_ctx, adult_train, adult_test):
    dup = pd.concat([adult_test, adult_test.sample(frac=0.1, random_state=1)], ignore_index=True)
    res = run("data.duplicates", make_ctx(adult_train, dup))
    assert res.status == "failed" and res.metrics["duplicate_fraction"] > 0.08
    assert res.evidence["examples"] and res.evidence["examples"][0]["copies"] >= 2


def test_natural_adult_duplicates_pass(make_ctx, adult_train, adult_test):
    res = run("data.duplicates", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and 0 < res.metrics["duplicate_fraction"] < 0.01


def test_test_rows_copied_from_train_overlap(make_ctx, iid_halves):
    train, test = iid_halves
    leaky = pd.concat([test.iloc[:12000], train.sample(4000, random_state=2)], ignore_index=True)
    res = run("data.train_test_overlap", make_ctx(train, leaky))
    assert res.status == "failed" and res.metrics["overlap_fraction"] == pytest.approx(0.25, abs=0.01)


def test_disjoint_split_has_no_overlap(make_ctx, iid_halves):
    assert run("data.train_test_overlap", make_ctx(*iid_halves)).status == "passed"


# ------------------------------------------------------------------ missing / schema
def test_missing_values_over_the_limit(make_ctx, adult_train, adult_test):
    holed = adult_test.copy()
    holed.loc[holed.sample(frac=0.3, random_state=0).index, "age"] = np.nan
    res = run("data.missing", make_ctx(adult_train, holed), max_fraction=0.06)
    assert res.status == "failed" and "age" in res.message
    assert res.evidence["columns"][0]["column"] == "age"


def test_missing_values_within_limits(make_ctx, adult_train, adult_test):
    assert run("data.missing", make_ctx(adult_train, adult_test), max_fraction=0.06).status == "passed"
    strict = run("data.missing", make_ctx(adult_train, adult_test))
    assert strict.status == "failed" and "occupation" in strict.message
    per_col = run("data.missing", make_ctx(adult_train, adult_test),
                  per_column={"occupation": 0.07, "workclass": 0.07})
    assert per_col.status == "passed"


def test_schema_catches_dropped_column_changed_kind_and_new_categories(make_ctx, adult_train, adult_test):
    dropped = adult_test.drop(columns=["education"])
    assert "education" in run("data.schema", make_ctx(adult_train, dropped)).message
    retyped = adult_test.copy()
    retyped["age"] = retyped["age"].astype(str) + " years"
    res = run("data.schema", make_ctx(adult_train, retyped))
    assert res.status == "failed" and "kind changed: age" in res.message
    novel = adult_test.copy()
    novel.loc[novel.sample(frac=0.05, random_state=0).index, "workclass"] = "Space-agency"
    res = run("data.schema", make_ctx(adult_train, novel))
    assert res.status == "failed" and res.metrics["unseen_category_fraction"] == pytest.approx(0.05, abs=0.002)


def test_schema_of_the_real_test_set_matches_train(make_ctx, adult_train, adult_test):
    assert run("data.schema", make_ctx(adult_train, adult_test)).status == "passed"


def test_declared_schema(make_ctx, adult_test):
    declared = {"age": {"kind": "numeric", "min": 17, "max": 90}, "sex": {"kind": "categorical",
                                                                          "categories": ["Male", "Female"]}}
    ok = run("data.schema", make_ctx(None, adult_test[["age", "sex", "income"]]), reference="declared",
             declared={**declared, "income": {"kind": "categorical"}})
    assert ok.status == "passed"
    narrower = {**declared, "age": {"kind": "numeric", "min": 17, "max": 60}, "income": {"kind": "categorical"}}
    bad = run("data.schema", make_ctx(None, adult_test[["age", "sex", "income"]]), reference="declared",
              declared=narrower)
    assert bad.status == "failed" and bad.metrics["out_of_range_fraction"] > 0.01
