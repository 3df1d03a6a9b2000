"""User-controlled text — column names and values, ids, messages, reasons — is inert in every
report: summary.md escapes Markdown and HTML, junit.xml is well-formed XML whatever the
characters, report.html escapes. Property-tested with hypothesis."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlqa.gate import ALL_STAGES, decide
from mlqa.reports import render, write_all
from mlqa.results import CheckResult

HOSTILE_COLUMN = "<img src=x onerror=alert(1)>"
HOSTILE = ["<script>alert(1)</script>", "a | b", "`rm -rf /`", "[click](javascript:alert(1))",
           "line one\nline two\r\nthree", "</script><script>alert(2)</script>", "![x](http://evil/x.png)",
           "<b>bold</b> & <i>", "@everyone", "**strong** _em_ ~~gone~~", "&lt;script&gt;"]
CONTROL = "bad\x00\x01\x08\x0b\x0c\x0e\x1f\x7f\ufffe\uffff\ud800 end"


def doc_with(texts: list[str], column: str = HOSTILE_COLUMN, result_id: str = "acme.hostile") -> dict:
    results = [CheckResult(id=result_id, status="failed", message=texts[0],
                           metrics={f"gap[{column}]": 0.5}, thresholds={f"gap[{column}]": "<= 0.1"},
                           evidence={"columns": [{"column": column, "value": t, "n": 3} for t in texts],
                                     "unseen_values": {t: 1 for t in texts},
                                     "charts": [{"type": "bar", "title": column, "x": texts, "y": [1.0] * len(texts),
                                                 "y_label": column}]}),
               CheckResult(id="acme.other", status="error", message=" / ".join(texts))]
    return decide(ALL_STAGES, results).to_dict()


def md_user_lines(md: str) -> str:
    """summary.md without the markup mlqa itself writes (the <sub> footer)."""
    return re.sub(r"</?sub>", "", md)


# ---------------------------------------------------------------- summary.md
def test_markdown_escapes_html_links_pipes_backticks_and_newlines():
    md = render(doc_with(HOSTILE), "md")
    body = md_user_lines(md)
    assert "<" not in body and ">" not in body.replace("&gt;", "")
    assert "<script" not in md and "&lt;script&gt;" in md
    assert not re.search(r"(?<!\\)\]\(javascript:", md) and "\\[click\\]" in md
    assert "`rm" not in md.replace("\\`rm", "")
    table = [ln for ln in md.splitlines() if ln.startswith("| ")]
    header_cells = table[0].count(" | ")
    for row in table[2:]:  # no row gains or loses cells: pipes are escaped, newlines folded
        assert len(re.findall(r"(?<!\\)\|", row)) == header_cells + 2, row
    assert "line one line two three" in md
    assert "&amp;lt;script&amp;gt;" in md  # an entity the user wrote is shown, not decoded


def test_markdown_escapes_a_hostile_id_and_stage():
    doc = doc_with(["x"], result_id="acme.x`<b>|</b>")
    doc["stage"], doc["decision"] = "prod<script>", "block"
    md = render(doc, "md")
    assert "<b>" not in md and "<script>" not in md
    assert all(len(re.findall(r"(?<!\\)\|", ln)) == 7 for ln in md.splitlines() if ln.startswith("| "))


# ---------------------------------------------------------------- junit.xml
def parse_all(xml: str) -> ET.Element:
    root = ET.fromstring(xml.encode("utf-8"))
    try:
        from lxml import etree
    except ImportError:  # lxml is optional: expat is the strict parser here
        return root
    etree.fromstring(xml.encode("utf-8"))
    return root


def test_junit_is_well_formed_with_control_characters_and_lone_surrogates():
    xml = render(doc_with([CONTROL, "ok"], column="col\x07umn"), "junit")
    root = parse_all(xml)
    case = root.find(".//testcase[@name='acme.hostile']")
    assert case is not None and "end" in case.find("failure").get("message")
    for bad in ("\x00", "\x01", "\x07", "\x0b", "\ufffe", "\uffff", "\ud800"):
        assert bad not in xml


def test_every_report_file_is_written_whatever_the_characters(tmp_path):
    from types import SimpleNamespace
    d = decide(ALL_STAGES, [CheckResult(id="acme.hostile", status="failed", message=CONTROL,
                                        evidence={"v": [CONTROL, HOSTILE_COLUMN]})])
    outcome = SimpleNamespace(decision=d, verdict=d, results=tuple(c.result for c in d.checks),
                              subject={}, started_at="2026-01-01T00:00:00+00:00", duration_s=0.1, config=None)
    files = write_all(tmp_path, outcome)
    parse_all(files["junit"].read_text(encoding="utf-8"))
    json.loads(files["results"].read_text(encoding="utf-8"))
    assert "<img" not in files["html"].read_text(encoding="utf-8")


# ---------------------------------------------------------------- report.html
def test_html_escapes_hostile_column_names_values_and_chart_labels():
    html = render(doc_with(HOSTILE), "html")
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html and "</script><script>" not in html
    assert 'href="javascript:' not in html and "<b>bold</b>" not in html


def test_html_chart_tolerates_labels_that_are_not_strings():
    html = render(decide(ALL_STAGES, [CheckResult(
        id="acme.c", status="failed",
        evidence={"charts": [{"type": "line", "x_label": 3, "y_label": None,
                              "series": [{"name": "<x>", "x": [0, 1], "y": [0, 1]}]}]})]).to_dict(), "html")
    assert "<svg" in html and "&lt;x&gt;" in html


# ---------------------------------------------------------------- property
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(ANY_TEXT, min_size=1, max_size=4), column=ANY_TEXT, instance=ANY_TEXT)
def test_any_text_gives_parseable_junit_and_inert_markdown(texts, column, instance):
    doc = doc_with(texts, column=column, result_id=f"acme.x[{instance}]")
    parse_all(render(doc, "junit"))
    md = render(doc, "md")
    md.encode("utf-8")
    assert "<" not in md_user_lines(md)
    html = render(doc, "html")
    html.encode("utf-8")
    assert "<img" not in html.lower() and "<script" not in html.lower()
