"""Identifier columns (keys, not features): detection on real UCI Adult with keys planted in
several forms, no false keys among Adult's own columns or unique measurements, and the
`data.identifiers` check (a key used as a feature, a key that predicts the label, test keys
found in train) with a clean twin for each; plus the row-hashing helpers near matches use."""
import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from mlqa.context import CheckContext
from mlqa.registry import Registry
from mlqa.session import run_check
from mlqa.subjects import Dataset
from mlqa.suites._frames import near_row_hashes, normalise, round_significant, row_hashes
from mlqa.suites.data import _identifiers
from mlqa.suites.data._identifiers import find_identifiers, identifier_columns, key_like_name

REG = Registry.discover()
REG.add_object(_identifiers)  # idempotent once the package exports the check


def run(cid, ctx, **params):
    spec = REG.get(cid)
    return run_check(spec, ctx, spec.bind(params), key=cid)


def without(frame_train, frame_test, drop=("customer_id",)):
    """A context whose declared features leave `drop` out (the model does not see them)."""
    feats = tuple(c for c in frame_train.columns if c != "income" and c not in drop)
    return CheckContext(train=Dataset("train", frame_train, "income", feats),
                        test=Dataset("test", frame_test, "income", feats), positive_label=">50K")


def fresh_ids(train, test):
    """Surrogate keys numbered on from train into test, one per row."""
    return (train.assign(customer_id=np.arange(len(train))),
            test.assign(customer_id=np.arange(len(train), len(train) + len(test))))


# ------------------------------------------------------------------ detection
def test_no_column_of_adult_is_an_identifier(adult_train, adult_test):
    assert identifier_columns(adult_train, adult_test, label="income") == {}
    assert identifier_columns(adult_train) == {} and identifier_columns(adult_test) == {}


def test_keys_of_every_form_are_found(adult_train, adult_test):
    rng = np.random.default_rng(0)
    n, m = len(adult_train), len(adult_test)
    plant = {
        "customer_id": (rng.permutation(n), rng.permutation(m) + n),
        "CustomerID": ([f"c{i}" for i in range(n)], [f"t{i}" for i in range(m)]),
        "ref": ([str(uuid.UUID(int=int(x))) for x in rng.integers(0, 2**62, n)],
                [str(uuid.UUID(int=int(x))) for x in rng.integers(2**62, 2**63, m)]),
        "token": ([f"{x:016x}" for x in rng.integers(0, 2**62, n)], [f"{x:016x}" for x in rng.integers(0, 2**62, m)]),
        "code": ([f"AB-{i:07d}" for i in rng.permutation(n)], [f"CD-{i:07d}" for i in range(m)]),
        "Unnamed: 0": (np.arange(n), np.arange(m)),
        "n": (np.arange(n) * 3 + 7, np.arange(m) * 3 + 10**7),
    }
    train = adult_train.assign(**{k: v[0] for k, v in plant.items()})
    test = adult_test.assign(**{k: v[1] for k, v in plant.items()})
    found = {i.column: i for i in find_identifiers(train, test, label="income")}
    assert set(found) == set(plant)
    assert "key-like name" in found["customer_id"].reason and "UUID" in found["ref"].reason
    assert "hex" in found["token"].reason and "codes" in found["code"].reason
    assert "sequence" in found["n"].reason
    assert found["Unnamed: 0"].row_number and not found["customer_id"].row_number
    assert all(i.distinct_share == 1.0 for i in found.values())


def test_unique_measurements_and_free_text_are_not_keys(adult_train, adult_test):
    rng = np.random.default_rng(1)
    n, m = len(adult_train), len(adult_test)
    train = adult_train.assign(score=rng.normal(size=n), amount=rng.integers(0, 10**12, n),
                               note=[f"called on day {i} about the loan" for i in range(n)],
                               flag=rng.random(n) < 0.5,
                               sparse_id=np.where(rng.random(n) < 0.7, np.nan, np.arange(n)))
    test = adult_test.assign(score=rng.normal(size=m), amount=rng.integers(0, 10**12, m),
                             note=[f"called on day {i} about the loan" for i in range(m)],
                             flag=rng.random(m) < 0.5,
                             sparse_id=np.where(rng.random(m) < 0.7, np.nan, np.arange(m)))
    assert identifier_columns(train, test, label="income") == {}


def test_the_label_is_never_a_key(adult_train):
    frame = adult_train.assign(row_id=np.arange(len(adult_train)))
    assert identifier_columns(frame, label="row_id") == {}
    assert "row_id" in identifier_columns(frame, label="income")


def test_small_data_is_not_enough_to_call_a_measurement_a_key():
    ages = pd.DataFrame({"age": np.arange(20, 50), "city": ["x"] * 30})
    assert identifier_columns(ages) == {}
    assert list(identifier_columns(ages.rename(columns={"age": "user_id"}))) == ["user_id"]
    assert identifier_columns(ages.head(10).rename(columns={"age": "user_id"})) == {}


def test_min_unique_sets_how_distinct_a_key_is(adult_train):
    codes = [f"K{i % 9500}" for i in range(10000)]  # 95% distinct
    frame = adult_train.head(10000).assign(ref=codes, order_no=codes)
    assert list(identifier_columns(frame, label="income")) == ["order_no"]  # a key-like name needs 90%
    assert set(identifier_columns(frame, label="income", min_unique=0.9)) == {"ref", "order_no"}


@pytest.mark.parametrize("name", ["id", "ID", "Id", "customer_id", "CustomerID", "customerId", "user-id",
                                  "uuid", "guid", "order_no", "row_number", "Unnamed: 0", "id_client",
                                  "account.nr", "primary_key"])
def test_key_like_names(name):
    assert key_like_name(name)


@pytest.mark.parametrize("name", ["paid", "valid", "fluid", "idea", "identity", "price_index", "width",
                                  "fnlwgt", "hours-per-week", "android", "video", "keyboard"])
def test_names_that_are_not_keys(name):
    assert not key_like_name(name)


@settings(max_examples=25)
@given(st.sampled_from(["normal", "lognormal", "uniform"]), st.integers(50, 400), st.integers(0, 10**6))
def test_continuous_floats_are_never_keys(dist, n, seed):
    rng = np.random.default_rng(seed)
    values = getattr(rng, dist)(size=n) * 1000
    frame = pd.DataFrame({"reading": values, "sensor_temp": values + 1})
    assert identifier_columns(frame) == {}


@settings(max_examples=25)
@given(st.sampled_from(["id", "customer_id", "OrderID", "uuid", "record_no"]), st.integers(20, 400),
       st.integers(0, 10**6), st.booleans())
def test_a_key_name_over_distinct_values_is_always_a_key(name, n, seed, as_text):
    keys = np.random.default_rng(seed).permutation(n) + 10**5
    frame = pd.DataFrame({name: [f"k{k}" for k in keys] if as_text else keys, "x": np.zeros(n)})
    assert list(identifier_columns(frame)) == [name]


# ------------------------------------------------------------------ data.identifiers
def test_adult_without_an_id_passes(make_ctx, adult_train, adult_test):
    res = run("data.identifiers", make_ctx(adult_train, adult_test))
    assert res.status == "passed" and res.metrics["identifiers"] == 0 and "no identifier columns" in res.message


def test_a_key_used_as_a_feature_fails(make_ctx, adult_train, adult_test):
    res = run("data.identifiers", make_ctx(*fresh_ids(adult_train, adult_test)))
    assert res.status == "failed" and res.metrics["identifier_features"] == 1
    assert "used as features: customer_id" in res.message and "data.features" in res.message
    row = res.evidence["identifiers"][0]
    assert row["column"] == "customer_id" and row["feature"] is True and row["distinct_share"] == 1.0
    assert "key-like name" in row["reason"] and row["key_overlap"] == 0.0 and 0.45 < row["label_auc"] < 0.55


def test_a_random_key_the_model_does_not_see_passes(adult_train, adult_test):
    train, test = fresh_ids(adult_train, adult_test)
    res = run("data.identifiers", without(train, test))
    assert res.status == "passed" and res.metrics["identifiers"] == 1 and res.metrics["max_label_auc"] < 0.55


def label_sorted_ids(frame, random_share, seed):
    """Row ids handed out after sorting by the label, except `random_share` of rows placed at random."""
    rng = np.random.default_rng(seed)
    score = (frame["income"] == ">50K").to_numpy(dtype=float) + rng.random(len(frame)) * 1e-3
    placed = rng.random(len(frame)) < random_share
    score = np.where(placed, rng.random(len(frame)) * 1.001, score)
    return frame.assign(customer_id=np.argsort(np.argsort(score)))


@pytest.mark.parametrize("random_share", [0.0, 0.5, 0.8])
def test_ids_in_label_order_predict_the_label(adult_train, adult_test, random_share):
    train, test = label_sorted_ids(adult_train, random_share, 1), label_sorted_ids(adult_test, random_share, 2)
    res = run("data.identifiers", without(train, test))
    assert res.status == "failed" and res.metrics["max_label_auc"] > 0.65 and "label auc" in res.message
    assert "max_key_overlap" not in res.metrics  # numbered 0..n-1 in each file: not a leak


def test_ids_in_random_order_do_not_predict_the_label(adult_train, adult_test):
    train, test = label_sorted_ids(adult_train, 1.0, 1), label_sorted_ids(adult_test, 1.0, 2)
    res = run("data.identifiers", without(train, test))
    assert res.status == "passed" and res.metrics["max_label_auc"] < 0.55


def test_test_keys_found_in_train_are_index_leakage(adult_train, adult_test):
    train, test = fresh_ids(adult_train, adult_test)
    leaked = pd.concat([test.iloc[:-20], train.sample(20, random_state=0)], ignore_index=True)  # 0.12%
    res = run("data.identifiers", without(train, leaked))
    assert res.status == "failed" and res.metrics["max_key_overlap"] == pytest.approx(20 / len(leaked), abs=1e-6)
    assert "of test keys also in train" in res.message


def test_text_keys_disjoint_between_splits_pass(adult_train, adult_test):
    train = adult_train.assign(ref=[str(uuid.UUID(int=i)) for i in range(len(adult_train))])
    test = adult_test.assign(ref=[str(uuid.UUID(int=10**9 + i)) for i in range(len(adult_test))])
    res = run("data.identifiers", without(train, test, drop=("ref",)))
    assert res.status == "passed" and res.metrics["max_key_overlap"] == 0
    assert "UUID" in res.evidence["identifiers"][0]["reason"]


def test_declared_identifier_columns(adult_train, adult_test):
    res = run("data.identifiers", without(adult_train, adult_test, drop=("fnlwgt",)), columns=["fnlwgt"])
    assert [r["column"] for r in res.evidence["identifiers"]] == ["fnlwgt"]
    assert res.evidence["identifiers"][0]["feature"] is False and "declared" in res.evidence["identifiers"][0]["reason"]


def test_regression_judges_r2(make_ctx, adult_train, adult_test):
    train, test = fresh_ids(adult_train, adult_test)
    res = run("data.identifiers", make_ctx(train, test, label="age", positive=None, task="regression"))
    assert "max_label_r2" in res.metrics and res.metrics["max_label_r2"] < 0.05


def test_no_label_or_no_rows_is_an_error(make_ctx, adult_train, adult_test):
    assert run("data.identifiers", make_ctx(adult_train, adult_test, label=None)).status == "error"
    res = run("data.identifiers", make_ctx(adult_train, adult_test.head(0)))
    assert res.status == "error" and "empty" in res.message


# ------------------------------------------------------------------ row hashing helpers
def test_numbers_hash_alike_whatever_their_dtype():
    ints = pd.DataFrame({"a": [1, 2, 40], "b": ["x", "y", "z"]})
    floats = pd.DataFrame({"a": [1.0, 2.0, 40.0], "b": ["x", "y", "z"]})
    assert row_hashes(ints).tolist() == row_hashes(floats).tolist()
    assert row_hashes(ints).nunique() == 3


def test_round_significant():
    out = round_significant(np.array([0.1 + 0.2, 0.3, 1234567.0, -0.0, np.nan, 9.9999996, 10.0000001]), 6)
    assert out[0] == out[1] == 0.3 and out[2] == 1234570.0 and str(out[3]) == "0.0"
    assert np.isnan(out[4]) and out[5] == out[6] == 10.0


def test_near_rows_equal_after_normalising_text_and_numbers():
    a = pd.DataFrame({"x": [0.123456789, 5.0], "s": ["Private", "Self emp"]})
    b = pd.DataFrame({"x": [np.float32(0.123456789), 5], "s": ["  PRIVATE ", "self \t emp"]})
    assert row_hashes(a).tolist() != row_hashes(b).tolist()
    assert near_row_hashes(a, 6).tolist() == near_row_hashes(b, 6).tolist()
    c = b.assign(s=["Privat", "self-emp"])
    assert not set(near_row_hashes(a, 6)) & set(near_row_hashes(c, 6))
    assert normalise(pd.Series(["A", None]), 6).tolist() == ["a", None]


@settings(max_examples=50)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
                min_size=1, max_size=20), st.integers(1, 12))
def test_rounding_is_idempotent_and_close(values, digits):
    x = np.array(values)
    once = round_significant(x, digits)
    assert np.array_equal(round_significant(once, digits), once)
    assert np.allclose(once, x, rtol=10.0 ** (1 - digits), atol=0)
