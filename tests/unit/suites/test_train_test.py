"""Train-vs-test checks through the label (data.label_drift, data.new_categories,
data.feature_label_correlation_change): defects planted in real UCI Adult at several
strengths are caught at the strength a reviewer calls a defect; clean twins pass."""
import numpy as np
import pandas as pd
import pytest

from mlqa.registry import Registry
from mlqa.session import run_check
from mlqa.suites.data import _train_test

REG = Registry.discover()
REG.add_object(_train_test)  # idempotent once the package exports the checks


def run(cid, ctx, **params):
    spec = REG.get(cid)
    return run_check(spec, ctx, spec.bind(params), key=cid)


def relabel(test: pd.DataFrame, share: float, seed: int = 0) -> pd.DataFrame:
    """`share` of the test's negatives relabelled positive."""
    out = test.copy()
    neg = np.flatnonzero(out["income"].to_numpy() == "<=50K")
    pick = np.random.default_rng(seed).choice(neg, int(share * len(neg)), replace=False)
    out.loc[pick, "income"] = ">50K"
    return out


# ------------------------------------------------------------------ label drift
@pytest.mark.parametrize("share", [0.15, 0.3])
def test_label_prior_shift_is_caught(make_ctx, adult_train, adult_test, share):
    res = run("data.label_drift", make_ctx(adult_train, relabel(adult_test, share)))
    assert res.status == "failed" and res.metrics["psi"] > 0.05 and "psi" in res.message
    assert res.evidence["classes"][0]["change"] != 0 and res.evidence["charts"]


def test_slight_label_shift_is_not_a_defect(make_ctx, adult_train, adult_test):
    res = run("data.label_drift", make_ctx(adult_train, relabel(adult_test, 0.05)))
    assert res.status == "passed" and 0 < res.metrics["psi"] < 0.02
    assert res.metrics["p_value"] < 1e-6  # significant, yet too small to matter: not judged by default
    assert run("data.label_drift", make_ctx(adult_train, relabel(adult_test, 0.05)), min_p_value=0.01).status == "failed"


def test_real_adult_label_does_not_drift(make_ctx, adult_train, adult_test):
    res = run("data.label_drift", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and res.metrics["psi"] < 0.001 and res.metrics["cramers_v"] < 0.01


def test_regression_target_drift(make_ctx, adult_train, adult_test):
    label = "hours-per-week"
    shifted = adult_test.assign(**{label: adult_test[label] + 8})
    bad = run("data.label_drift", make_ctx(adult_train, shifted, label=label, positive=None, task="regression"))
    assert bad.status == "failed" and bad.metrics["ks_statistic"] > 0.15
    ok = run("data.label_drift", make_ctx(adult_train, adult_test, label=label, positive=None, task="regression"))
    assert ok.status == "passed" and ok.metrics["ks_statistic"] < 0.05


def test_label_drift_without_label_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.label_drift", make_ctx(adult_train, adult_test, label=None))
    assert res.status == "error" and "data.label" in res.message


# ------------------------------------------------------------------ new categories
def with_new_workclass(test: pd.DataFrame, share: float) -> pd.DataFrame:
    out = test.copy()
    pick = np.random.default_rng(1).choice(len(out), int(share * len(out)), replace=False)
    out.loc[pick, "workclass"] = "Gig-economy"
    return out


@pytest.mark.parametrize("share", [0.015, 0.05])
def test_new_category_is_caught(make_ctx, adult_train, adult_test, share):
    res = run("data.new_categories", make_ctx(adult_train, with_new_workclass(adult_test, share)))
    assert res.status == "failed" and "workclass" in res.message and "Gig-economy" in res.message
    row = res.evidence["features"][0]
    assert row["column"] == "workclass" and row["new_categories"] == 1
    assert row["examples"] == [{"value": "Gig-economy", "count": int(share * len(adult_test))}]


def test_a_few_rows_with_a_new_category_pass(make_ctx, adult_train, adult_test):
    res = run("data.new_categories", make_ctx(adult_train, with_new_workclass(adult_test, 0.005)))
    assert res.status == "passed" and res.metrics["columns_with_new"] == 1 and "Gig-economy" in res.message


def test_new_label_class_is_caught(make_ctx, adult_train, adult_test):
    test = adult_test.copy()
    test.loc[:9, "income"] = ">100K"
    res = run("data.new_categories", make_ctx(adult_train, test))
    assert res.status == "failed" and res.metrics["new_labels"] == 1 and ">100K" in res.message
    assert res.evidence["label"]["rows"] == 10


def test_real_adult_has_no_new_categories(make_ctx, adult_train, adult_test):
    res = run("data.new_categories", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and res.metrics["max_new_share"] == 0 and res.metrics["new_labels"] == 0
    assert {r["column"] for r in res.evidence["features"]} >= {"workclass", "native-country", "sex"}


def test_identifier_columns_are_left_out(make_ctx, adult_train, adult_test):
    train = adult_train.assign(customer_id=[f"c{i}" for i in range(len(adult_train))])
    test = adult_test.assign(customer_id=[f"t{i}" for i in range(len(adult_test))])
    res = run("data.new_categories", make_ctx(train, test))
    assert res.status == "passed" and res.evidence["excluded_as_identifiers"] == ["customer_id"]


def test_missing_values_are_not_new_categories(make_ctx, adult_train, adult_test):
    test = adult_test.copy()
    test.loc[: len(test) // 4, "occupation"] = np.nan
    assert run("data.new_categories", make_ctx(adult_train, test)).status == "passed"


def test_no_categorical_column_is_an_error(make_ctx, adult_train, adult_test):
    nums = [c for c in adult_train.columns if adult_train[c].dtype.kind in "if"]
    res = run("data.new_categories", make_ctx(adult_train[nums], adult_test[nums], label="hours-per-week",
                                              positive=None, task="regression"))
    assert res.status == "error" and "columns" in res.message


# ------------------------------------------------------------------ feature-label correlation change
def leak_in_train(train: pd.DataFrame, test: pd.DataFrame, share: float):
    """A flag equal to the label in `share` of the train rows (random elsewhere); random in test."""
    rng = np.random.default_rng(2)
    a, b = train.copy(), test.copy()
    y = (a["income"] == ">50K").astype(int).to_numpy()
    a["approved"] = np.where(rng.random(len(a)) < share, y, rng.integers(0, 2, len(a)))
    b["approved"] = rng.integers(0, 2, len(b))
    return a, b


@pytest.mark.parametrize("share", [0.3, 1.0])
def test_feature_leaking_in_train_only_is_caught(make_ctx, adult_train, adult_test, share):
    res = run("data.feature_label_correlation_change", make_ctx(*leak_in_train(adult_train, adult_test, share)))
    top = res.evidence["features"][0]
    assert res.status == "failed" and top["feature"] == "approved" and "approved" in res.message
    assert top["power_train"] > share - 0.1 and abs(top["power_test"]) < 0.05


def test_weak_train_only_signal_passes(make_ctx, adult_train, adult_test):
    res = run("data.feature_label_correlation_change", make_ctx(*leak_in_train(adult_train, adult_test, 0.1)))
    assert res.status == "passed" and res.evidence["features"][0]["feature"] == "approved"


@pytest.mark.parametrize("share, caught", [(0.2, False), (0.5, True), (1.0, True)])
def test_relationship_broken_by_a_join_in_test(make_ctx, adult_train, adult_test, share, caught):
    """`relationship` shuffled among a share of the test rows: its distribution is unchanged
    (data.drift passes), its tie to the label is not."""
    rng = np.random.default_rng(3)
    test = adult_test.copy()
    rows = np.flatnonzero(rng.random(len(test)) < share)
    test.loc[rows, "relationship"] = test.loc[rng.permutation(rows), "relationship"].to_numpy()
    ctx = make_ctx(adult_train, test)
    res = run("data.feature_label_correlation_change", ctx)
    assert (res.status == "failed") is caught
    assert res.evidence["features"][0]["feature"] == "relationship"
    assert run("data.drift", ctx).status == "passed"


def test_flipped_relationship_is_caught(make_ctx, adult_train, adult_test):
    rng = np.random.default_rng(4)
    a, b = adult_train.copy(), adult_test.copy()
    a["score"] = rng.normal(0, 1, len(a)) + 0.5 * (a["income"] == ">50K")
    b["score"] = rng.normal(0, 1, len(b)) + 0.5 * (b["income"] != ">50K")  # flipped in test
    res = run("data.feature_label_correlation_change", make_ctx(a, b))
    top = res.evidence["features"][0]
    assert res.status == "failed" and top["feature"] == "score"
    assert abs(top["power_train"] - top["power_test"]) < 0.05 and top["power_train_to_test"] < -0.2


def test_real_adult_relationships_hold(make_ctx, adult_train, adult_test):
    res = run("data.feature_label_correlation_change", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and res.metrics["max_change"] < 0.08
    rel = next(r for r in res.evidence["features"] if r["feature"] == "relationship")
    assert rel["power_train"] > 0.4 and rel["power_test"] > 0.4


def test_correlation_change_for_a_regression_target(make_ctx, adult_train, adult_test):
    label = "hours-per-week"
    kw = {"label": label, "positive": None, "task": "regression"}
    a = adult_train.assign(shifted=adult_train[label] + np.random.default_rng(5).normal(0, 1, len(adult_train)))
    b = adult_test.assign(shifted=np.random.default_rng(6).permutation(adult_test[label].to_numpy()))
    res = run("data.feature_label_correlation_change", make_ctx(a, b, **kw))
    assert res.status == "failed" and res.evidence["features"][0]["feature"] == "shifted"
    assert res.evidence["measure"] == "R^2"
    assert run("data.feature_label_correlation_change", make_ctx(adult_train, adult_test, **kw)).status == "passed"


def test_correlation_change_is_seeded(make_ctx, adult_train, adult_test):
    a = run("data.feature_label_correlation_change", make_ctx(adult_train, adult_test, seed=3))
    b = run("data.feature_label_correlation_change", make_ctx(adult_train, adult_test, seed=3))
    assert a.metrics == b.metrics


def test_correlation_change_without_label_is_an_error(make_ctx, adult_train, adult_test):
    res = run("data.feature_label_correlation_change", make_ctx(adult_train, adult_test, label=None))
    assert res.status == "error" and "data.label" in res.message
