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


def with_fresh_ids(train, test):
    """Surrogate keys numbered on from train into test, one per row (as a warehouse hands out)."""
    return (train.assign(customer_id=np.arange(len(train))),
            test.assign(customer_id=np.arange(len(train), len(train) + len(test))))


def test_a_key_numbered_on_into_test_is_not_drift(make_ctx, adult_train, adult_test):
    ctx = make_ctx(*with_fresh_ids(adult_train, adult_test))
    res = run("data.drift", ctx)
    assert res.status == "passed" and "excluded as identifiers: customer_id" in res.message
    assert list(res.evidence["excluded_as_identifiers"]) == ["customer_id"]
    assert "customer_id" not in {r["feature"] for r in res.evidence["features"]}
    kept = run("data.drift", ctx, exclude_identifiers=False)
    assert kept.status == "failed" and kept.evidence["features"][0]["feature"] == "customer_id"


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


def reingested(rows, shout=False):
    """`rows` as another export writes them: categories upper-cased, text padded with spaces."""
    out = rows.copy()
    if shout:
        out["workclass"] = out["workclass"].str.upper()
        out["occupation"] = out["occupation"] + "  "
        out["sex"] = " " + out["sex"].str.lower()
    return out


@pytest.mark.parametrize("share", [0.02, 0.1])
def test_rows_copied_behind_a_fresh_key_are_duplicates(make_ctx, adult_train, adult_test, share):
    copies = adult_test.sample(frac=share, random_state=4)
    test = pd.concat([adult_test, copies], ignore_index=True)
    res = run("data.duplicates", make_ctx(*with_fresh_ids(adult_train, test)))
    assert res.status == "failed" and res.metrics["duplicate_fraction"] == pytest.approx(share / (1 + share), abs=0.002)
    assert "excluded as identifiers: customer_id" in res.message and "customer_id" in res.evidence["excluded_as_identifiers"]


def test_a_fresh_key_on_clean_data_is_not_a_duplicate(make_ctx, adult_train, adult_test):
    res = run("data.duplicates", make_ctx(*with_fresh_ids(adult_train, adult_test)))
    assert res.status == "passed" and res.metrics["near_duplicate_fraction"] == 0
    assert "excluded as identifiers: customer_id" in res.message


def test_copies_in_another_case_are_near_duplicates_not_exact(make_ctx, adult_train, adult_test):
    copies = reingested(adult_test.dropna().sample(frac=0.03, random_state=5), shout=True)
    test = pd.concat([adult_test, copies], ignore_index=True)
    res = run("data.duplicates", make_ctx(*with_fresh_ids(adult_train, test)))
    assert res.status == "failed" and res.metrics["duplicate_fraction"] < 0.01
    assert res.metrics["near_duplicate_fraction"] == pytest.approx(len(copies) / len(test), abs=0.001)
    variants = res.evidence["near_examples"][0]["rows"]
    assert len(variants) == 2 and variants[0]["workclass"].upper() == variants[1]["workclass"].upper()


def copied_into_test(train, test, share, *, shout=False, seed=3):
    """`share` of the test set replaced by training rows, re-ingested with fresh ids."""
    k = int(share * len(test))
    copies = reingested(train.drop(columns="customer_id").sample(k, random_state=seed), shout=shout)
    out = pd.concat([test.drop(columns="customer_id").iloc[: len(test) - k], copies], ignore_index=True)
    return out.assign(customer_id=np.arange(len(train), len(train) + len(out)))


@pytest.mark.parametrize("share,caught", [(0.005, False), (0.02, True), (0.1, True)])
def test_training_rows_reingested_with_fresh_ids_overlap(make_ctx, adult_train, adult_test, share, caught):
    train, test = with_fresh_ids(adult_train, adult_test)
    res = run("data.train_test_overlap", make_ctx(train, copied_into_test(train, test, share)))
    assert res.status == ("failed" if caught else "passed")
    assert res.metrics["overlap_fraction"] == pytest.approx(share + 0.0014, abs=0.002)
    assert res.evidence["excluded_as_identifiers"] == {"customer_id": res.evidence["excluded_as_identifiers"]["customer_id"]}
    assert "excluded as identifiers: customer_id" in res.message
    blind = run("data.train_test_overlap", make_ctx(train, copied_into_test(train, test, share)),
                exclude_identifiers=False)
    assert blind.status == "passed" and blind.metrics["overlap_fraction"] == 0


def test_reingested_rows_in_another_case_overlap_as_near(make_ctx, adult_train, adult_test):
    train, test = with_fresh_ids(adult_train.dropna(), adult_test)
    res = run("data.train_test_overlap", make_ctx(train, copied_into_test(train, test, 0.02, shout=True)))
    assert res.status == "failed" and res.metrics["overlap_fraction"] < 0.01
    assert res.metrics["near_overlap_fraction"] == pytest.approx(0.02, abs=0.002)
    pair = res.evidence["near_examples"][0]
    assert pair["test"]["workclass"] == pair["train"]["workclass"].upper()


def test_reingested_rows_with_a_float_rounded_otherwise_overlap_as_near(make_ctx, adult_train, adult_test):
    train, test = (f.assign(hours_share=f["hours-per-week"] / 168 + f["age"] / 7e4) for f in (adult_train, adult_test))
    train, test = with_fresh_ids(train, test)
    mixed = copied_into_test(train, test, 0.02)
    copied = mixed.index[-int(0.02 * len(test)):]
    mixed.loc[copied, "hours_share"] = mixed.loc[copied, "hours_share"].astype("float32").astype(float)  # a float32 export
    res = run("data.train_test_overlap", make_ctx(train, mixed))
    assert res.status == "failed" and res.metrics["overlap_fraction"] < 0.01
    assert res.metrics["near_overlap_fraction"] > 0.015
    loose = run("data.train_test_overlap", make_ctx(train, mixed), near_digits=10)
    assert loose.metrics["near_overlap_fraction"] < 0.005


def test_real_adult_and_an_iid_split_with_fresh_ids_do_not_overlap(make_ctx, adult_train, adult_test, iid_halves):
    real = run("data.train_test_overlap", make_ctx(adult_train, adult_test))
    assert real.status == "passed" and 0 < real.metrics["overlap_fraction"] < 0.002
    assert real.metrics["near_overlap_fraction"] == 0 and real.evidence["excluded_as_identifiers"] == {}
    res = run("data.train_test_overlap", make_ctx(*with_fresh_ids(*iid_halves)))
    assert res.status == "passed" and res.metrics["near_overlap_fraction"] == 0


def test_overlap_with_nothing_left_to_compare_is_an_error(make_ctx, adult_train, adult_test):
    train, test = with_fresh_ids(adult_train[["income"]], adult_test[["income"]])
    res = run("data.train_test_overlap", make_ctx(train[["customer_id"]], test[["customer_id"]], label=None))
    assert res.status == "error" and "exclude_identifiers" in res.message


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
