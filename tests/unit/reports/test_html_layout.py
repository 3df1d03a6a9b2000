"""report.html reads top-down by urgency and fits any window from 800 px: a summary of what
failed at the top, each line a link to its check's section; failed and errored checks
first, passed ones folded in <details>; tables and evidence in boxes of their own, charts
scaled by their viewBox; still one file with no script and nothing fetched."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from mlqa.config import Stage
from mlqa.gate import ALL_STAGES, decide
from mlqa.judge import bar_chart
from mlqa.reports import render
from mlqa.reports.html import anchors
from mlqa.results import CheckResult


class Tree(HTMLParser):
    """The elements of a page: (tag, attrs, ancestors' (tag, attrs)) in document order."""

    VOID = frozenset({"meta", "link", "br", "wbr", "img", "input", "hr"})

    def __init__(self, html: str):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.elements: list[tuple[str, dict, list[tuple[str, dict]]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a, list(self.stack)))
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs), list(self.stack)))

    def handle_endtag(self, tag):
        if any(t == tag for t, _ in self.stack):
            while self.stack.pop()[0] != tag:
                pass

    def find(self, tag=None, cls=None, inside_id=None):
        out = []
        for t, a, up in self.elements:
            if tag and t != tag:
                continue
            if cls and cls not in (a.get("class") or "").split():
                continue
            if inside_id and not any(x.get("id") == inside_id for _, x in up):
                continue
            out.append((t, a, up))
        return out


def results(extra=()):
    return [CheckResult(id="data.drift", status="passed", metrics={"max_psi": 0.01}, thresholds={"max_psi": "<= 0.2"},
                        evidence={"charts": [bar_chart("PSI", ["age"], [0.01], threshold=0.2)]}),
            CheckResult(id="fairness.demographic_parity", status="failed", message="difference 0.17 > 0.1",
                        metrics={"difference": 0.17}, thresholds={"difference": "<= 0.1"}),
            CheckResult(id="performance.metric[auc]", status="passed", metrics={"roc_auc": 0.93}),
            CheckResult(id="latency.load", status="error", message="locust exited with 1"),
            CheckResult(id="robustness.noise", status="failed", message="flip rate 0.2"),
            CheckResult(id="security.trivy_image", status="skipped", message="no image"),
            *extra]


@pytest.fixture
def page():
    stage = Stage("production", blocking=("data.*", "fairness.*", "latency.*", "performance.*", "acme.*"),
                  advisory=("*",))
    return render(decide(stage, results(), expected=["acme.never_ran"]).to_dict(), "html")


def failing_sections(tree: Tree) -> list[str]:
    return [a["id"] for _, a, _ in tree.find("section", "check")
            if {"failed", "error"} & set(a["class"].split())]


def test_every_failed_or_errored_check_is_linked_from_the_summary(page):
    tree = Tree(page)
    sections = failing_sections(tree)
    assert sections == ["check-fairness.demographic_parity", "check-latency.load", "check-robustness.noise"]
    links = {a["href"] for _, a, _ in tree.find("a", inside_id="summary")}
    assert {f"#{s}" for s in sections} <= links
    # the summary comes first, and says what blocks and what only advises
    summary = page[page.index('id="summary"'):page.index("</section>", page.index('id="summary"'))]
    assert "Why it blocks" in summary and "Failed but not blocking" in summary
    assert "acme.never_ran did not run" in summary  # a reason with no section is still listed
    assert page.index('id="summary"') < page.index('id="checks"') < page.index('id="check-latency.load"')


def test_failures_come_first_and_passed_checks_are_folded(page):
    tree = Tree(page)
    order = [a["class"].split()[1] for t, a, _ in tree.elements
             if t in ("section", "details") and "check" in (a.get("class") or "").split()]
    assert order == ["failed", "error", "failed", "skipped", "passed", "passed"]  # blocking ones first
    for _, a, up in tree.find(cls="folded"):
        groups = [x for t, x in up if t == "details" and "group" in (x.get("class") or "")]
        assert len(groups) == 1 and "open" not in groups[0]
    folded = {a["id"] for _, a, _ in tree.find(cls="folded")}
    assert folded == {"check-data.drift", "check-performance.metric-auc", "check-security.trivy_image"}
    # the index of every check links to every check's section
    index = [a["href"] for _, a, _ in tree.find("a", inside_id="checks")]
    assert len(index) == 6 and {h[1:] for h in index} == folded | set(failing_sections(tree))


def test_a_run_that_passes_says_so():
    html = render(decide(ALL_STAGES, results()[:1]).to_dict(), "html")
    assert "Every check that ran passed." in html and "Why it blocks" not in html
    assert 'id="failures"' not in html


def test_the_layout_is_fluid_and_self_contained(page):
    style = page[page.index("<style>"):page.index("</style>")]
    # nothing wider than the smallest window it must fit (800 px), no fixed page width
    assert not [w for w in re.findall(r"(?<!max-)width:\s*(\d+)px", style) if int(w) > 400]
    assert "max-width: 1280px" in style and "overflow-x: auto" in style
    tree = Tree(page)
    for _, a, up in tree.find("table"):  # every table in a box that scrolls on its own
        assert any("scroll" in (x.get("class") or "").split() for _, x in up), a
    for _, a, _ in tree.find("svg"):
        assert a.get("viewbox") and a.get("width") == "100%"
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)


def test_anchors_are_unique_and_url_safe():
    ids = ["a.b", "a.b", "x[<y> z]", "", "check-a.b-2"]
    got = anchors(ids)
    assert len(set(got)) == len(got)
    assert all(re.fullmatch(r"check-[A-Za-z0-9_.-]+", a) for a in got)


def test_a_hostile_id_cannot_break_out_of_its_link():
    html = render(decide(ALL_STAGES, [CheckResult(id='acme.x"><img src=x>', status="failed")]).to_dict(), "html")
    assert "<img" not in html and 'href="#check-acme.x-img-src-x"' in html
