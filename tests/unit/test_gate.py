"""The gate fails closed: errors block, missing evidence blocks, expired waivers stop waiving."""
import datetime as dt

from hypothesis import given, strategies as st

from mlqa.config import Stage, Waiver
from mlqa.gate import classify, decide
from mlqa.results import CheckResult

TODAY = dt.date(2026, 11, 23)


def r(cid, status="passed", msg="m"):
    return CheckResult(id=cid, status=status, message=msg)


def test_all_passed_promotes():
    d = decide(Stage("prod"), [r("data.drift"), r("performance.metric")], today=TODAY)
    assert d.decision == "promote" and d.promoted and not d.reasons


def test_blocking_failure_blocks_with_a_reason():
    d = decide(Stage("prod"), [r("data.drift", "failed", "max_psi = 0.4, above the limit 0.2")], today=TODAY)
    assert d.decision == "block" and d.reasons == ("data.drift failed: max_psi = 0.4, above the limit 0.2",)


def test_error_blocks_by_default_and_not_when_advisory():
    results = [r("data.drift", "error", "the check raised ValueError: boom")]
    assert decide(Stage("prod"), results, today=TODAY).decision == "block"
    assert "could not run" in decide(Stage("prod"), results, today=TODAY).reasons[0]
    lenient = decide(Stage("prod", on_error="advisory"), results, today=TODAY)
    assert lenient.decision == "promote" and "advisory" in lenient.notes[0]


def test_blocking_globs_win_over_advisory_and_unmatched_blocks():
    stage = Stage("staging", blocking=("data.*",), advisory=("*",))
    assert classify(stage, "data.drift") == (True, "")
    assert classify(stage, "fairness.x")[0] is False
    narrow = Stage("s", blocking=("data.*",), advisory=("fairness.*",))
    blocking, note = classify(narrow, "performance.metric")
    assert blocking and "blocking by default" in note


def test_instance_ids_match_their_check_glob():
    stage = Stage("s", blocking=(), advisory=("performance.metric",))
    assert classify(stage, "performance.metric[auc]")[0] is False


def test_an_instance_in_a_glob_or_waiver_is_literal_not_a_character_class():
    stage = Stage("s", blocking=("data.*",), advisory=("performance.metric[auc]", "fairness.x[*]"),
                  waivers=(Waiver("performance.metric[acc]", "r", "o", TODAY),))
    assert classify(stage, "performance.metric[auc]")[0] is False
    assert classify(stage, "fairness.x[sex]")[0] is False
    assert classify(stage, "performance.metrica")[0] is True  # `[auc]` is not one of a, u, c
    d = decide(stage, [r("performance.metric[acc]", "failed"), r("data.drift")], today=TODAY)
    assert d.decision == "promote" and d.checks[0].waived


def test_advisory_failure_promotes_with_a_note():
    d = decide(Stage("staging", blocking=("data.*",), advisory=("*",)),
               [r("data.drift"), r("performance.slices", "failed", "gap")], today=TODAY)
    assert d.decision == "promote" and "advisory" in d.notes[0]


def test_active_waiver_waives_expired_waiver_blocks_and_says_so():
    waiver = Waiver(check="data.drift", reason="known shift", owner="team", expires=dt.date(2026, 12, 31))
    failed = [r("data.drift", "failed", "psi")]
    ok = decide(Stage("p", waivers=(waiver,)), failed, today=TODAY)
    assert ok.decision == "promote" and ok.checks[0].waived and "waived until 2026-12-31" in ok.notes[0]
    late = decide(Stage("p", waivers=(waiver,)), failed, today=dt.date(2027, 1, 1))
    assert late.decision == "block" and not late.checks[0].waived
    assert "waiver expired on 2026-12-31" in late.reasons[0]
    assert late.checks[0].to_dict()["waiver"]["expired"] is True


def test_missing_evidence_blocks():
    d = decide(Stage("p"), [r("data.drift")], expected=["data.drift", "performance.metric"], today=TODAY)
    assert d.decision == "block" and "performance.metric did not run" in d.reasons[0]


def test_a_recorded_result_is_never_evidence_for_an_expected_check():
    """A result recorded by a hand-written test under a configured check's id stays in the
    decision, attributed, but the configured check still did not run: block."""
    recorded = r("performance.metric", "passed").with_(recorded_by="tests/test_x.py::test_manual")
    d = decide(Stage("p"), [r("data.drift"), recorded], expected=["data.drift", "performance.metric"],
               today=TODAY)
    assert d.decision == "block"
    assert d.reasons == ("performance.metric did not run: a promotion needs evidence from every blocking check",)
    row = d.checks[1].to_dict()
    assert row["id"] == "performance.metric" and row["recorded_by"] == "tests/test_x.py::test_manual"
    assert "recorded by tests/test_x.py::test_manual" in row["note"] and "not run" in row["note"]
    ran = decide(Stage("p"), [r("data.drift"), r("performance.metric"), recorded],
                 expected=["data.drift", "performance.metric"], today=TODAY)
    assert ran.promoted and [c.result.recorded_by for c in ran.checks] == [None, None, "tests/test_x.py::test_manual"]


def test_a_failed_recorded_result_blocks_like_any_other():
    recorded = r("acme.manual_review", "failed", "not signed off").with_(recorded_by="api")
    assert decide(Stage("p"), [r("data.drift"), recorded], expected=["data.drift"], today=TODAY).decision == "block"


def test_no_results_never_promote():
    assert decide(Stage("p"), [], today=TODAY).decision == "block"


def test_skipped_does_not_block():
    assert decide(Stage("p"), [r("data.drift", "skipped")], today=TODAY).promoted


statuses = st.sampled_from(["passed", "failed", "error", "skipped"])
ids = st.sampled_from(["data.drift", "data.missing", "performance.metric", "fairness.parity"])


@given(st.lists(st.tuples(ids, statuses), min_size=1, max_size=8, unique_by=lambda t: t[0]),
       st.sampled_from([("*",), ("data.*",), ()]), st.sampled_from(["block", "advisory"]))
def test_promote_iff_no_blocking_failure(rows, blocking, on_error):
    stage = Stage("s", blocking=blocking, advisory=("*",), on_error=on_error)
    results = [r(cid, status) for cid, status in rows]
    d = decide(stage, results, today=TODAY)
    def blocks(cid, status):
        if status == "failed":
            return classify(stage, cid)[0]
        return status == "error" and on_error == "block" and classify(stage, cid)[0]
    assert d.promoted == (not any(blocks(c, s) for c, s in rows))
    assert len(d.reasons) == sum(blocks(c, s) for c, s in rows)
