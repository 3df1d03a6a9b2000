"""Personal data never reaches a report: the redaction pass over every result (mlqa.redact)
and the detectors it shares with `privacy.pii` (mlqa.pii)."""
from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa import pii, redact
from mlqa.gate import ALL_STAGES, decide
from mlqa.redact import Redactor
from conftest import luhn_complete
from mlqa.results import CheckResult

EMAIL, SSN, CARD = "jane.roe@example.org", "123-45-6789", "4111 1111 1111 1111"
IBAN, PHONE = "GB82 WEST 1234 5698 7654 32", "+1 415-555-0134"


def _walk_strings(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _walk_strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _walk_strings(v)
    elif isinstance(obj, str):
        yield obj


def leaks(obj, raws) -> list[str]:
    text = "\n".join(_walk_strings(obj))
    return [r for r in raws if r in text]


# ---------------------------------------------------------------- detectors on any string
def test_detectors_redact_every_kind_wherever_it_appears():
    r = CheckResult(id="acme.x", status="failed", message=f"row of {EMAIL} failed",
                    metrics={"n": 3.0}, thresholds={"n": "<= 0"},
                    evidence={"rows": [{"contact": f"mail {EMAIL} or call {PHONE}", "ssn": SSN},
                                       {"card": CARD, "iban": IBAN, "n": 12}],
                              "by_value": {EMAIL: 4, "ok": 1},
                              "charts": [{"type": "bar", "x": [EMAIL, "b"], "y": [1, 2]}]})
    out = Redactor.of({}).result(r)
    assert leaks(out.to_dict(), [EMAIL, SSN, CARD, IBAN, PHONE]) == []
    assert out.message == "row of <redacted:email> failed"
    assert out.evidence["rows"][0]["ssn"] == "<redacted:ssn>"
    assert out.evidence["rows"][1] == {"card": "<redacted:card>", "iban": "<redacted:iban>", "n": 12}
    assert out.evidence["by_value"] == {"<redacted:email>": 4, "ok": 1}
    assert out.evidence["charts"][0]["x"] == ["<redacted:email>", "b"]
    assert "<redacted:phone>" in out.evidence["rows"][0]["contact"]
    assert out.metrics == {"n": 3.0} and out.thresholds == {"n": "<= 0"}


@pytest.mark.parametrize("text", [
    "4111 1111 1111 1112",                                  # fails Luhn: not a card
    "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "config 0123456789012345678901234567890123456789abcdef0123456789abcd",
    "http://127.0.0.1:8080/v2/models/credit/infer",         # endpoints are not personal data
    "started 2026-05-01T12:30:45+00:00, took 12.5 s",
    "accuracy 0.8123 vs 0.857 overall (95% interval 0.1514 .. 0.2205)",
    "age=(17.0, 28.0], fnlwgt in [19491.0, 1268339.0]",
    "relationship=Husband (n=391): accuracy 0.7289",
    "batch sizes 32 256 1024 4096, p95 12.5 ms",
])
def test_ordinary_evidence_is_left_alone(text):
    assert Redactor.of({}).text(text) == text


def test_numbers_stay_numbers_unless_they_are_a_personal_value():
    red = Redactor.of({"4000452516695058": "card"})
    out = red.tree({"range": [4000452516695058.0, 4999778000445540.0], "rows": 18005, "ok": True,
                    "ratio": 0.25})
    assert out == {"range": ["<redacted:card>", 4999778000445540.0], "rows": 18005, "ok": True,
                   "ratio": 0.25}


# ---------------------------------------------------------------- values of personal columns
def test_personal_values_are_redacted_inside_strings_keys_and_labels():
    red = Redactor.of({"Jane Roe": "name", "Bo": "name", "12 Baker Street": "address"})
    assert red.text("name=Jane Roe") == "name=<redacted:name>"
    assert red.text("Jane Roe") == "<redacted:name>"
    assert red.text("lives at 12 Baker Street, London") == "lives at <redacted:address>, London"
    assert red.text("Jane Roeland") == "Jane Roeland"          # a value ends at a word boundary
    assert red.text("Bo") == "Bo"                              # too short to identify anyone
    out = red.tree({"slices": {"name=Jane Roe": 0.7}, "x": ["name=Jane Roe"]})
    assert out == {"slices": {"name=<redacted:name>": 0.7}, "x": ["name=<redacted:name>"]}


def test_distinct_keys_stay_distinct_and_metrics_line_up_with_thresholds():
    red = Redactor.of({"Jane Roe": "name", "John Doe": "name"})
    r = CheckResult(id="acme.slices", status="failed",
                    metrics={"acc[Jane Roe]": 0.5, "acc[John Doe]": 0.9, "acc": 0.8},
                    thresholds={"acc[John Doe]": ">= 0.6", "acc[Jane Roe]": ">= 0.6"})
    out = red.result(r)
    assert len(out.metrics) == 3 and sorted(out.metrics.values()) == [0.5, 0.8, 0.9]
    assert leaks(out.to_dict(), ["Jane Roe", "John Doe"]) == []
    assert set(out.thresholds) == set(out.metrics) - {"acc"}
    assert sorted(out.metrics[k] for k in out.thresholds) == [0.5, 0.9]


def test_redaction_is_pure_and_idempotent():
    r = CheckResult(id="acme.x", status="failed", message=EMAIL, evidence={"v": [EMAIL]})
    red = Redactor.of({})
    out = red.result(r)
    assert r.message == EMAIL and r.evidence == {"v": [EMAIL]}     # the input is untouched
    assert dataclasses.is_dataclass(out) and out is not r
    assert red.result(out) == out
    with pytest.raises(dataclasses.FrozenInstanceError):
        red.values = {}  # type: ignore[misc]


def test_decisions_are_redacted_too_reasons_notes_and_rows():
    r = CheckResult(id="data.schema", status="failed", message=f"unseen {SSN}")
    d = decide(ALL_STAGES, [r])
    assert SSN in "".join(d.reasons)
    out = Redactor.of({}).decision(d)
    assert leaks(out.to_dict(), [SSN]) == [] and out.decision == d.decision


# ---------------------------------------------------------------- personal columns of the data
def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 90, n),
                         "email": [f"user{i}.{rng.integers(1e6)}@mail.example" for i in range(n)],
                         "card": [int(luhn_complete("4" + "".join(map(str, rng.integers(0, 10, 14)))))
                                  for _ in range(n)],
                         "first_name": rng.choice(["Aurelia", "Bartholomew", "Cosima"], n),
                         "nickname": [f"nick{i:05d}" for i in range(n)],
                         "city": rng.choice(["Lyon", "Turin", "Porto"], n)})


def test_personal_columns_are_found_from_values_names_and_the_config():
    frame = _frame(500)
    found = pii.personal_columns(frame)
    assert found["email"] == "email" and found["card"] == "card" and "first_name" in found
    assert "age" not in found and "city" not in found and "nickname" not in found
    red = redact.build_redactor([frame], personal=["nickname"])
    assert red.text("nickname=nick00042") == "nickname=<redacted:nickname>"
    # (its values are first names: redacted as names, not by the column's name)
    assert found["first_name"] == "name"
    assert red.text("first_name=Cosima") == "first_name=<redacted:name>"
    assert red.text("city=Porto") == "city=Porto"


def test_detection_samples_but_collection_is_complete():
    frame = _frame(20_000)
    frame.loc[19_999, "email"] = "needle.in.haystack@x.example"
    red = redact.build_redactor([frame], sample=200)
    # every value of a detected column is collected, not only the sampled ones
    assert red.values["needle.in.haystack@x.example"] == "email"
    card = str(frame.loc[19_998, "card"])
    assert red.tree({"max": float(card)}) == {"max": "<redacted:card>"}


def test_columns_privacy_pii_found_are_redacted_even_when_detection_misses_them():
    frame = pd.DataFrame({"note": [f"customer K{i:06d}" for i in range(300)]})
    found = CheckResult(id="privacy.pii", status="failed",
                        evidence={"findings": [{"column": "note", "kind": "identifier column name"}],
                                  "allowed": []})
    red = redact.build_redactor([frame], results=[found])
    assert red.text("note=customer K000123") == "note=<redacted:note>"


def test_data_personal_is_a_config_key(write_config, small_csvs):
    from mlqa.config import load_config
    cfg = load_config(write_config("""
        version: 1
        data: {train: train.csv, test: test.csv, label: label, personal: [city]}
        checks: [{data.drift: {}}]
    """))
    assert cfg.data.personal == ("city",)
    from mlqa.errors import ConfigError
    with pytest.raises(ConfigError, match="personal"):
        load_config(write_config("""
            version: 1
            data: {train: train.csv, test: test.csv, label: label, personal: {city: yes}}
            checks: [{data.drift: {}}]
        """, name="bad.yaml"))


# ---------------------------------------------------------------- a session's reports and console
def test_a_sessions_reports_hold_no_value_of_a_personal_column(toy_project, tmp_path):
    train = pd.read_csv(tmp_path / "train.csv")
    train["contact"] = [f"p{i}@corp.example" for i in range(len(train))]
    train.to_csv(tmp_path / "train.csv", index=False)
    test = pd.read_csv(tmp_path / "test.csv")
    test["contact"] = [f"q{i}@corp.example" for i in range(len(test))]
    test.to_csv(tmp_path / "test.csv", index=False)
    cfg = toy_project("- data.schema: {}\n- performance.slices: {columns: [contact], min_slice_size: 1}")
    from mlqa.session import Session
    session = Session(cfg, "production")
    session.run_all()
    outcome = session.finish(tmp_path / "out")
    raws = list(train["contact"]) + list(test["contact"])
    for path in outcome.files.values():
        assert leaks(path.read_text(encoding="utf-8"), raws) == [], path.name
    assert leaks([r.to_dict() for r in outcome.results], raws) == []
    assert leaks(outcome.verdict.to_dict(), raws) == []


# ---------------------------------------------------------------- speed on Adult-size evidence
def test_redaction_is_linear_and_fast_on_adult_size_evidence():
    frame = _frame(48_842)
    t0 = time.perf_counter()
    red = redact.build_redactor([frame])
    built = time.perf_counter() - t0
    emails = frame["email"].tolist()
    evidence = {"slices": [{"column": "email", "value": e, "n": 1, "accuracy": 1.0} for e in emails[:5000]],
                "unseen_values": {e: 1 for e in emails[5000:10000]},
                "charts": [{"type": "bar", "x": [f"email={e}" for e in emails[:2000]], "y": [1] * 2000}],
                "notes": [f"row {i} is fine" for i in range(20000)]}
    r = CheckResult(id="performance.slices", status="failed", evidence=evidence)
    t0 = time.perf_counter()
    out = red.result(r)
    took = time.perf_counter() - t0
    assert leaks(out.to_dict(), emails[:10000]) == []
    assert built < 3.0 and took < 2.0, (built, took)
    assert json.dumps(out.to_dict()).count("<redacted:email>") == 12000


@settings(max_examples=200)
@given(st.floats(-1, 1, allow_nan=False), st.floats(0.5, 0.999), st.floats(-1, 1, allow_nan=False),
       st.floats(0, 1e6, allow_nan=False), st.integers(0, 10**7))
def test_figures_in_a_check_message_are_not_phone_numbers(drop, confidence, bound, value, n):
    """Defect (found in the demo): `drop 0.0001443 (95% one-sided bounds ...)` was redacted
    as a phone number: decimals beside a parenthesis are figures, not a number to call."""
    for text in (f"drop {drop:.7f} ({confidence:.0%} one-sided bounds {bound:.6f} .. {drop:.7f})",
                 f"mean {value:.4f} (train), {value:.6g} (n={n})", f"{value:.3f} ({n} rows) {bound:.9f}"):
        assert [k for *_, k in pii.find(text) if k == "phone"] == [], text


def test_phone_numbers_in_free_text_are_still_found():
    """Clean twin: phone numbers written as people write them are redacted in report text."""
    for text in ("call +44 20 7946 0958 today", "(555) 123-4567", "tel. 030-1234-5678"):
        assert [k for *_, k in pii.find(text)] == ["phone"], text
