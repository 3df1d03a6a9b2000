"""A notebook shows a decision or a result (`_repr_html_`): a small escaped HTML fragment
with the decision, why it blocks and the checks that failed — not a whole page."""
from __future__ import annotations

from html.parser import HTMLParser

from mlqa.gate import ALL_STAGES, decide
from mlqa.results import CheckResult, Decision

HOSTILE = "<script>alert(1)</script> & <img src=x onerror=alert(2)>"


def tags(fragment: str) -> list[str]:
    found: list[str] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append(tag)
    P().feed(fragment)
    return found


def blocked() -> Decision:
    return decide(ALL_STAGES, [
        CheckResult(id="fairness.demographic_parity", status="failed", message=HOSTILE,
                    metrics={"difference": 0.17}, thresholds={"difference": "<= 0.1"}),
        CheckResult(id="latency.load", status="error", message="locust exited with 1"),
        CheckResult(id="data.drift", status="passed", metrics={"max_psi": 0.01}, thresholds={"max_psi": "<= 0.2"}),
    ])


def test_a_blocked_decision_shows_why_and_its_failing_checks():
    html = blocked()._repr_html_()
    assert "BLOCK" in html and "Why it blocks" in html
    assert "fairness.demographic_parity" in html and "latency.load" in html and "difference = 0.17" in html
    assert "data.drift" not in html and "1 passed" in html  # passed checks are counted, not listed
    assert "<script" not in html and "<img" not in html and "&lt;script&gt;" in html
    assert set(tags(html)) <= {"div", "p", "strong", "ul", "li", "table", "thead", "tbody", "tr", "th", "td",
                               "code", "span"}  # a fragment: no page, no style sheet, no script


def test_a_promoted_decision_lists_no_failure():
    html = decide(ALL_STAGES, [CheckResult(id="data.drift", status="passed")])._repr_html_()
    assert "PROMOTE" in html and "<table" not in html and "Why it blocks" not in html


def test_a_result_shows_its_status_message_and_metrics():
    r = CheckResult(id="acme.x", status="failed", message=HOSTILE, metrics={"gap": 0.5}, thresholds={"gap": "<= 0.1"})
    html = r._repr_html_()
    assert "acme.x" in html and "failed" in html and "gap" in html and "&lt;= 0.1" in html
    assert "<script" not in html and "<img" not in html


def test_numbers_have_one_formatter_for_messages_reports_and_notebooks():
    """A check's message (`mlqa.judge.fmt`) and the report/notebook cell of the same metric
    print it alike: one function, not two copies that may drift apart."""
    import mlqa.judge
    import mlqa.reports
    assert mlqa.judge.fmt is mlqa.reports.fmt
    assert [mlqa.reports.fmt(v) for v in (0.123456, float("nan"), 3, 1e-7)] == ["0.1235", "nan", "3", "1e-07"]


def test_a_sessions_outcome_shows_its_verdict(toy_project):
    """`Session.finish()` returns a RunOutcome: a notebook shows its verdict, not a repr."""
    from mlqa.session import Session
    cfg = toy_project("- acme.ok: {}\n- acme.fails: {}")
    session = Session(cfg, "production")
    session.run_all()
    html = session.finish()._repr_html_()
    assert "BLOCK" in html and "acme.fails" in html and "value = 2" in html
