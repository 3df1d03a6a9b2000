"""data.multivariate_drift: joint drift planted in real UCI Adult (a column re-paired at
random among a share of the test rows: every column's distribution, and so every
per-feature PSI, unchanged) is caught at the strength a reviewer calls a defect; clean twins
(an i.i.d. split, the real Adult test file) pass; bad input is an error, never a pass."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from mlqa.registry import Registry
from mlqa.reports.html import view
from mlqa.session import run_check
from mlqa.suites.data import _multivariate
from mlqa.suites.data._multivariate import delong
from mlqa.suites.data._multivariate_joint import LEVELS, correlation_ratio, cramers_v, levels

REG = Registry.discover()
REG.add_object(_multivariate)  # idempotent once the package exports the check
CID = "data.multivariate_drift"


def run(ctx, **params):
    spec = REG.get(CID)
    return run_check(spec, ctx, spec.bind(params), key=CID)


def repair(test: pd.DataFrame, column: str, share: float, seed: int = 0) -> pd.DataFrame:
    """`column`'s values shuffled among a random `share` of the test rows: the column keeps
    its distribution, the rows lose their pairing with the other columns."""
    rng = np.random.default_rng(seed)
    out = test.copy()
    rows = rng.choice(len(out), round(share * len(out)), replace=False)
    values = out[column].to_numpy().copy()
    values[rows] = values[rng.permutation(rows)]
    out[column] = values
    return out


@pytest.fixture(scope="module")
def clean(make_ctx, adult_train, adult_test):
    return run(make_ctx(adult_train, adult_test))


@pytest.fixture(scope="module")
def education(make_ctx, adult_train, adult_test):
    """education re-paired with education-num (and the rest) among 10%, 20%, all test rows."""
    return {share: run(make_ctx(adult_train, repair(adult_test, "education", share)))
            for share in (0.1, 0.2, 1.0)}


# ------------------------------------------------------------------ planted joint drift
@pytest.mark.parametrize("share", [0.2, 1.0])
def test_education_repaired_among_test_rows_is_joint_drift(education, share):
    res = education[share]
    assert res.status == "failed" and res.metrics["drift_score"] > 0.1
    assert res.metrics["auc_ci_low"] > 0.5
    top = {r["feature"] for r in res.evidence["features"][:2]}
    assert top == {"education", "education-num"} and "education" in res.message
    joint = res.evidence["joint"][0]
    assert {joint["feature_a"], joint["feature_b"]} == {"education", "education-num"}
    assert joint["measure"] == "correlation ratio" and joint["train"] > 0.99 and joint["test"] < 0.9
    cells = res.evidence["joint_cells"]
    assert cells[0]["test_share"] != cells[0]["train_share"]


def test_drift_score_grows_with_the_share_repaired_and_ten_percent_is_below_the_limit(clean, education):
    scores = [clean.metrics["drift_score"]] + [education[s].metrics["drift_score"] for s in (0.1, 0.2, 1.0)]
    assert scores == sorted(scores) and scores[-1] > 0.7
    weak = education[0.1]  # the docstring's "weakest defect caught" is 20%: 10% is visible, not judged
    assert weak.status == "passed" and weak.metrics["auc_ci_low"] > 0.5 > clean.metrics["auc_ci_low"]


def test_per_feature_drift_is_blind_to_the_repairing(make_ctx, adult_train, adult_test):
    """The twin that motivates the check: data.drift sees exactly the same PSI per feature."""
    spec = REG.get("data.drift")

    def psi(test):
        res = run_check(spec, make_ctx(adult_train, test), spec.bind({}), key="data.drift")
        assert res.status == "passed"
        return {r["feature"]: r["psi"] for r in res.evidence["features"]}
    assert psi(repair(adult_test, "education", 0.2)) == psi(adult_test)
    assert psi(repair(adult_test, "marital-status", 0.3)) == psi(adult_test)


def test_marital_status_repaired_among_30_percent_is_joint_drift(make_ctx, adult_train, adult_test):
    res = run(make_ctx(adult_train, repair(adult_test, "marital-status", 0.3)))
    assert res.status == "failed" and res.evidence["features"][0]["feature"] in ("marital-status", "relationship")
    joint = res.evidence["joint"][0]
    assert joint["measure"] == "Cramér's V" and joint["test"] < joint["train"] - 0.05


# ------------------------------------------------------------------ clean twins
def test_real_adult_test_file_is_not_joint_drift(clean):
    """The credit demo's data (examples/credit/data): the same population, passes by default."""
    assert clean.status == "passed" and clean.metrics["drift_score"] < 0.05
    assert clean.metrics["auc_ci_low"] <= 0.5 <= clean.metrics["auc_ci_high"]
    assert clean.metrics["rows_per_split"] == 10_000 and len(clean.evidence["folds"]) == 3


def test_iid_split_is_not_joint_drift(make_ctx, adult_train):
    shuffled = adult_train.sample(frac=1.0, random_state=0).reset_index(drop=True)
    half = len(shuffled) // 2
    res = run(make_ctx(shuffled.iloc[:half], shuffled.iloc[half:]), sample=5000)
    assert res.status == "passed" and res.metrics["drift_score"] < 0.05


# ------------------------------------------------------------------ what it looks at
def test_the_label_is_not_a_feature_of_the_domain_classifier(make_ctx, adult_train, adult_test):
    test = adult_test.copy()
    test["income"] = ">50K"  # label drift only: not this check's business
    res = run(make_ctx(adult_train, test), sample=2000)
    assert res.status == "passed" and "income" not in {r["feature"] for r in res.evidence["features"]}


def test_regression_data_works_the_same(make_ctx, adult_train, adult_test):
    ctx = make_ctx(adult_train, repair(adult_test, "education", 1.0), label="hours-per-week", task="regression")
    res = run(ctx, sample=2000)
    assert res.status == "failed" and "hours-per-week" not in {r["feature"] for r in res.evidence["features"]}


def test_identifier_columns_are_left_out_and_listed(make_ctx, adult_train, adult_test):
    """A fresh surrogate key per split separates train from test perfectly: it is excluded
    by default (and named), and counted when the user names it as a feature."""
    train, test = adult_train.copy(), adult_test.copy()
    train.insert(0, "customer_id", np.arange(len(train)))
    test.insert(0, "customer_id", np.arange(len(train), len(train) + len(test)))
    res = run(make_ctx(train, test), sample=2000)
    assert res.status == "passed" and res.evidence["excluded_as_identifiers"] == ["customer_id"]
    assert "excluded as identifiers: customer_id" in res.message
    named = run(make_ctx(train, test), sample=2000, columns=["customer_id", "age", "education"])
    assert named.status == "failed" and named.evidence["features"][0]["feature"] == "customer_id"


def test_same_seed_same_result_and_the_seed_is_recorded(make_ctx, adult_train, adult_test):
    a = run(make_ctx(adult_train, adult_test, seed=7), sample=1000)
    b = run(make_ctx(adult_train, adult_test, seed=7), sample=1000)
    assert a.metrics == b.metrics and a.evidence["sample"]["seed"] == 7


def test_column_kinds_the_encoder_must_handle(make_ctx):
    """Datetimes, booleans with gaps, mixed types and more categories than the model's 255
    codes: encoded, not an error; a shifted datetime is drift."""
    rng = np.random.default_rng(0)
    n = 600

    def frame(offset_days: int) -> pd.DataFrame:
        return pd.DataFrame({
            "when": pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30, n) + offset_days, "D"),
            "flag": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "mixed": pd.Series([1, "a", 2.5, None] * (n // 4), dtype=object),
            "city": [f"c{v}" for v in rng.integers(0, 400, n)],
            "x": rng.normal(size=n), "y": rng.integers(0, 2, n)})
    res = run(make_ctx(frame(0), frame(60), label="y"), min_rows=100)
    assert res.status == "failed" and res.evidence["features"][0]["feature"] == "when"
    same = run(make_ctx(frame(0), frame(0), label="y"), min_rows=100)
    assert same.status == "passed"


def test_a_small_sample_fails_only_on_a_significant_score(make_ctx):
    """100 rows a side: a half-SD shift scores above the limit by chance-sized margins (its
    AUC interval includes 0.5) and passes, saying so; a 0.8-SD shift is significant and fails."""
    def score(shift: float):
        rng = np.random.default_rng(0)
        train = pd.DataFrame({"x": rng.normal(size=100), "y": 0})
        test = pd.DataFrame({"x": rng.normal(size=100) + shift, "y": 0})
        return run(make_ctx(train, test, label="y"))
    weak, strong = score(0.5), score(0.8)
    assert weak.status == "passed" and weak.metrics["drift_score"] > 0.1 and "not significant" in weak.message
    assert weak.metrics["auc_ci_low"] <= 0.5
    assert strong.status == "failed" and strong.metrics["auc_ci_low"] > 0.5


# ------------------------------------------------------------------ fail closed
def test_empty_or_tiny_splits_are_errors(make_ctx, adult_train, adult_test):
    empty = run(make_ctx(adult_train, adult_test.iloc[:0]))
    assert empty.status == "error" and "test data is empty" in empty.message
    tiny = run(make_ctx(adult_train.iloc[:50], adult_test))
    assert tiny.status == "error" and "50 rows" in tiny.message and "min_rows" in tiny.message


def test_a_feature_missing_from_test_is_an_error(make_ctx, adult_train, adult_test):
    res = run(make_ctx(adult_train, adult_test.drop(columns=["age"])))
    assert res.status == "error" and "age" in res.message and "test" in res.message


def test_only_identifiers_is_an_error(make_ctx):
    train = pd.DataFrame({"id": np.arange(300), "income": ["a", "b"] * 150})
    test = pd.DataFrame({"id": np.arange(300, 600), "income": ["a", "b"] * 150})
    res = run(make_ctx(train, test))
    assert res.status == "error" and "excluded as identifiers: id" in res.message


# ------------------------------------------------------------------ the report
def test_the_report_draws_importance_and_the_joint_view(education):
    res = education[0.2]
    kinds = [c["type"] for c in res.evidence["charts"]]
    assert kinds == ["bar", "bars"]
    row = view({"checks": [{"id": CID, **res.to_dict()}]})["rows"][0]
    assert len(row["charts"]) == 2 and all(c.startswith("<svg") for c in row["charts"])
    assert {t["name"] for t in row["tables"]} >= {"features", "joint", "joint_cells"}


# ------------------------------------------------------------------ the statistics
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=4, max_size=80))
def test_delong_auc_is_the_roc_auc(pairs):
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float)
    auc, se = delong(y, s)
    if min((y == 1).sum(), (y == 0).sum()) < 2:
        assert np.isnan(auc)
        return
    assert auc == pytest.approx(roc_auc_score(y, s)) and 0 <= se <= 0.5


def test_delong_standard_error_matches_the_bootstrap():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 2000)
    s = y * 0.5 + rng.normal(size=2000)
    _, se = delong(y, s)
    boot = [roc_auc_score(y[i], s[i]) for i in (rng.integers(0, 2000, 2000) for _ in range(300))]
    assert se == pytest.approx(np.std(boot), rel=0.2)


def test_association_measures_span_zero_to_one():
    rng = np.random.default_rng(0)
    a = rng.choice(list("abcd"), 2000)
    assert cramers_v(a, a) == pytest.approx(1.0)
    assert cramers_v(a, rng.choice(list("xyz"), 2000)) < 0.1
    codes = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    assert correlation_ratio(a, np.array([codes[v] for v in a])) == pytest.approx(1.0)
    assert correlation_ratio(a, rng.normal(size=2000)) < 0.1


def test_levels_are_capped_and_fitted_on_both_splits():
    rng = np.random.default_rng(0)
    tr, te = levels(pd.Series(rng.normal(size=500)), pd.Series(rng.normal(size=500) + [np.nan] * 500))
    assert len(set(tr)) <= LEVELS and set(te) == {"<missing>"}
    ca, cb = levels(pd.Series([f"k{i % 30}" for i in range(300)]), pd.Series(["new"] * 10))
    assert len(set(ca) | set(cb)) == LEVELS and "other" in set(ca)
