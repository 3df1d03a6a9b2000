"""Membership inference flags a memorising model and not a regularised one; PII is found
and never shown raw."""
import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlqa.reports import render
from mlqa.gate import ALL_STAGES, decide
from mlqa.suites import privacy as P
from mlqa.suites.privacy._pii import iban_ok, luhn_ok, redact

NUMS = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]


@pytest.fixture(scope="module")
def small_split(adult_train, adult_test):
    return (adult_train.sample(2000, random_state=0)[NUMS + ["income"]],
            adult_test.sample(2000, random_state=0)[NUMS + ["income"]])


def test_memorising_model_is_flagged(make_ctx, small_split):
    tr, te = small_split
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(1)).fit(tr[NUMS], tr.income)
    r = P.membership_inference(make_ctx(tr, te, model=knn))
    assert r.status == "failed" and r.metrics["attack_auc"] > 0.6
    assert r.evidence["attacks"][0]["auc_ci95"][0] > 0.55 and r.evidence["charts"][0]["type"] == "line"
    assert "tpr_at_0.1pct_fpr" in r.evidence["attacks"][0]


def test_regularised_model_passes(make_ctx, small_split):
    tr, te = small_split
    lr = make_pipeline(StandardScaler(), LogisticRegression(C=0.1)).fit(tr[NUMS], tr.income)
    r = P.membership_inference(make_ctx(tr, te, model=lr), shadow_models=2)
    assert r.status == "passed" and r.metrics["attack_auc"] < 0.56
    assert {a["attack"] for a in r.evidence["attacks"]} == {"loss", "confidence", "shadow"}


def test_membership_inference_is_reproducible(make_ctx, small_split):
    tr, te = small_split
    knn = make_pipeline(StandardScaler(), KNeighborsClassifier(3)).fit(tr[NUMS], tr.income)
    a = P.membership_inference(make_ctx(tr, te, model=knn), samples=500)
    b = P.membership_inference(make_ctx(tr, te, model=knn), samples=500)
    assert a.metrics == b.metrics


RAW = ["alice.smith@example.org", "bob@corp.example.com", "4111 1111 1111 1111", "5500-0000-0000-0004"]


@pytest.fixture
def pii_frames(adult_test):
    frame = adult_test.head(200).copy()
    frame["contact"] = [RAW[i % 2] if i % 3 == 0 else "none" for i in range(200)]
    frame["payment_note"] = [f"paid with {RAW[2 + i % 2]}" if i % 4 == 0 else "cash" for i in range(200)]
    frame["order_ref"] = [f"4111 1111 1111 111{i % 10}" for i in range(200)]  # mostly Luhn-invalid
    return frame


def test_emails_and_card_numbers_are_found_and_redacted(make_ctx, pii_frames):
    r = P.pii(make_ctx(None, pii_frames))
    kinds = {(f["column"], f["kind"]): f for f in r.evidence["findings"]}
    assert r.status == "failed"
    assert kinds[("contact", "email")]["rows"] == 67 and kinds[("payment_note", "card")]["rows"] == 50
    assert kinds[("order_ref", "card")]["rows"] == 20  # only the Luhn-valid ones
    doc = decide(ALL_STAGES, [r]).to_dict()
    for text in (json.dumps(r.to_dict()), render(doc, "html"), render(doc, "md"), render(doc, "junit"), r.message):
        for raw in RAW:
            assert raw not in text and raw.replace(" ", "") not in text
    assert "a***@***.org" in kinds[("contact", "email")]["samples"]
    assert "**** **** **** 1111" in kinds[("payment_note", "card")]["samples"]


def test_identifier_column_names_and_allow_columns(make_ctx, adult_test):
    frame = adult_test.head(50).assign(customer_email="x", first_name="Ann")
    r = P.pii(make_ctx(None, frame))
    assert {f["column"] for f in r.evidence["findings"]} == {"customer_email", "first_name"}
    ok = P.pii(make_ctx(None, frame), allow_columns=["customer_email", "first_name"])
    assert ok.status == "passed" and len(ok.evidence["allowed"]) == 2


def test_clean_census_data_has_no_pii(make_ctx, adult_train, adult_test):
    assert P.pii(make_ctx(adult_train, adult_test)).status == "passed"


@pytest.mark.parametrize("number, ok", [("4111111111111111", True), ("4111111111111112", False),
                                         ("79927398713", True), ("79927398710", False)])
def test_luhn(number, ok):
    assert luhn_ok(number) is ok


def test_iban_checksum_and_redaction():
    assert iban_ok("GB82 WEST 1234 5698 7654 32") and not iban_ok("GB82 WEST 1234 5698 7654 33")
    assert redact("ssn", "123-45-6789") == "***-**-6789"
    assert redact("email", "john@example.com") == "j***@***.com"


def test_text_the_model_produces_is_scanned(make_ctx, adult_test):
    frame = adult_test.head(100)

    class Echo:  # a "generative" model that leaks an e-mail address in its answers
        def predict(self, X):
            return np.array([f"contact carol{i}@example.net" if i % 10 == 0 else "ok" for i in range(len(X))],
                            dtype=object)
    r = P.pii(make_ctx(None, frame, model=Echo()))
    rows = [f for f in r.evidence["findings"] if f["column"] == "model output"]
    assert r.status == "failed" and rows[0]["kind"] == "email" and rows[0]["rows"] == 10
    assert "carol" not in json.dumps(r.to_dict())
    assert P.pii(make_ctx(None, frame, model=Echo()), allow_columns=["model output"]).status == "passed"


def test_card_numbers_stored_as_integers_are_found(make_ctx, adult_test):
    frame = adult_test.head(100).copy()
    frame["card_on_file"] = [4111111111111111, 5500000000000004, 4012888888881881, 378282246310005] * 25
    r = P.pii(make_ctx(None, frame))
    kinds = {(f["column"], f["kind"]): f for f in r.evidence["findings"]}
    assert r.status == "failed" and kinds[("card_on_file", "card")]["rows"] == 100
    assert "4111111111111111" not in json.dumps(r.to_dict())


def test_the_check_and_the_redaction_pass_share_one_set_of_detectors():
    from mlqa import pii
    from mlqa.suites.privacy import _pii
    assert _pii.luhn_ok is pii.luhn_ok and _pii.iban_ok is pii.iban_ok and _pii.redact is pii.mask
