"""Reports: decision.json follows its shipped schema; HTML is self-contained; JUnit is valid."""
import datetime as dt
import json
import math
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest

from mlqa._assets import asset_dir
from mlqa.config import Stage, Waiver
from mlqa.gate import decide
from mlqa.reports import render
from mlqa.reports._svg import render_chart
from mlqa.results import CheckResult
from mlqa.judge import bar_chart, line_chart


def schema(name):
    return json.loads((asset_dir("reports") / name).read_text())


@pytest.fixture
def decision_doc():
    waiver = Waiver(check="data.missing", reason="sparse by design", owner="data-team",
                    expires=dt.date(2020, 1, 1))
    results = [
        CheckResult(id="data.drift", status="passed", metrics={"max_psi": 0.01}, thresholds={"max_psi": "<= 0.2"},
                    evidence={"features": [{"feature": "age", "psi": 0.01}],
                              "charts": [bar_chart("PSI", ["age", "sex"], [0.01, float("nan")], threshold=0.2)]}),
        CheckResult(id="data.missing", status="failed", metrics={"max_missing_fraction": math.inf},
                    thresholds={"max_missing_fraction": "<= 0.05"}, message="<script>alert(1)</script>"),
        CheckResult(id="performance.calibration", status="error", message="the check raised X",
                    evidence={"charts": [line_chart("Reliability", [{"name": "m", "x": [0.1, 0.9], "y": [0.2, 0.8]}],
                                                    diagonal=True)]}),
    ]
    return decide(Stage("production", waivers=(waiver,)), results, today=dt.date(2026, 1, 1)).to_dict()


def test_decision_json_validates_against_the_shipped_schema(decision_doc):
    text = render(decision_doc, "json")
    jsonschema.validate(json.loads(text), schema("decision.schema.json"))
    assert json.loads(text)["checks"][1]["metrics"]["max_missing_fraction"] == "inf"


def test_schema_rejects_a_promotion_with_reasons(decision_doc):
    bad = {**json.loads(render(decision_doc, "json")), "decision": "promote"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema("decision.schema.json"))


def test_html_is_self_contained_and_escapes(decision_doc):
    html = render(decision_doc, "html")
    assert "Decision: BLOCK" in html and "waiver expired on 2020-01-01" in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert html.count("<svg") == 2


def test_junit_has_one_case_per_check(decision_doc):
    root = ET.fromstring(render(decision_doc, "junit").split("\n", 1)[1])
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["data.drift", "data.missing", "performance.calibration"]


def test_markdown_fits_a_pr_comment(decision_doc):
    md = render(decision_doc, "md")
    assert md.startswith("## ⛔ mlqa: BLOCK (stage production)")
    assert "**Why it blocks:**" in md and "| `data.drift` | ✅ passed | max_psi = 0.01 | &lt;= 0.2 |" in md
    assert len(md) < 65_000


def test_charts_tolerate_empty_and_nan():
    assert "<svg" in render_chart(bar_chart("t", [], []))
    assert "no data" in render_chart(line_chart("t", [{"name": "a", "x": [], "y": []}]))
    assert render_chart({"type": "pie"}) == ""
