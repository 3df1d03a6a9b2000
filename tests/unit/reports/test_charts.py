"""The report's charts: a legend on every chart with more than one thing to tell apart,
SLO and threshold lines where they apply (and only there), the distributions of a drifted
feature, and well-formed, scalable SVG whatever the values."""
from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa.judge import bar_chart, line_chart
from mlqa.reports._svg import render_chart
from mlqa.suites.latency import capacity_chart

NS = {"s": "http://www.w3.org/2000/svg"}
PROBES = [{"rate": r, "p50_ms": 4 + r / 60, "p95_ms": 9 + (r / 50) ** 2, "p99_ms": 15 + (r / 38) ** 2}
          for r in (10, 20, 40, 80, 160, 320, 240)]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def legend(root: ET.Element) -> list[str]:
    g = root.find("s:g[@class='legend']", NS)
    return [] if g is None else [t.text for t in g.findall("s:text", NS)]


def limit_lines(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter("{http://www.w3.org/2000/svg}line") if "thr" in (e.get("class") or "")]


# ------------------------------------------------------------------ legends
def test_a_chart_of_several_series_names_each_in_a_legend():
    roc = line_chart("ROC", [{"name": n, "x": [0, 0.5, 1], "y": [0, 0.6, 1]} for n in ("loss", "confidence")],
                     diagonal=True)
    roc["diagonal_label"] = "chance (AUC 0.5)"
    assert legend(parse(render_chart(roc))) == ["loss", "confidence", "chance (AUC 0.5)"]


def test_a_single_series_needs_no_legend():
    one = line_chart("flip rate", [{"name": "flip_rate", "x": [0.01, 0.1], "y": [0.0, 0.2]}])
    assert legend(parse(render_chart(one))) == []


def test_the_capacity_chart_has_a_legend_slo_lines_and_the_capacity():
    spec = capacity_chart(PROBES, ["p95 < 200ms", "p99 < 0.5s", "error_rate < 1%"], 180.0)
    assert spec["lines"] == [{"y": 200.0, "label": "SLO p95 < 200ms", "series": "p95"},
                             {"y": 500.0, "label": "SLO p99 < 0.5s", "series": "p99"},
                             {"x": 180.0, "label": "capacity 180/s"}]  # error_rate: not on a ms axis
    root = parse(render_chart(spec))
    assert legend(root) == ["p50", "p95", "p99", "SLO p95 < 200ms", "SLO p99 < 0.5s", "capacity 180/s"]
    refs = [e for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "ref"]
    assert len(refs) == 3
    # the SLO lines sit at 200 and 500 on the y axis: 500 is 2.5 times as high above zero
    ys = sorted(float(e.get("y1")) for e in refs if e.get("y1") == e.get("y2"))
    zero = max(float(e.get("y1")) for e in root.iter("{http://www.w3.org/2000/svg}line") if e.get("class") == "ax")
    assert math.isclose((zero - ys[0]) / (zero - ys[1]), 2.5, rel_tol=0.02)
    # the SLO line takes its percentile's colour
    p95 = next(e for e in root.iter("{http://www.w3.org/2000/svg}polyline") if e.find("s:title", NS).text == "p95")
    assert refs[0].get("stroke") == p95.get("stroke")
    plain = capacity_chart(PROBES)  # the clean twin: no SLO given, no line drawn
    assert plain["lines"] == [] and len(legend(parse(render_chart(plain)))) == 3


# ------------------------------------------------------------------ limits where they apply
def slot_of(root: ET.Element, line: ET.Element) -> list[int]:
    """Which bars a limit line spans."""
    bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if "bar" in (e.get("class") or "")]
    x1, x2 = sorted((float(line.get("x1")), float(line.get("x2"))))
    return [i for i, b in enumerate(bars)
            if x1 <= float(b.get("x")) + float(b.get("width")) / 2 <= x2]


def test_a_limit_on_one_bar_is_drawn_over_that_bar_only():
    spec = bar_chart("Latency per batch size (p95, ms)", ["batch 1", "batch 32", "batch 256"], [62.0, 140.0, 900.0])
    spec["limits"] = [50.0, None, None]
    root = parse(render_chart(spec))
    lines = limit_lines(root)
    assert len(lines) == 1 and slot_of(root, lines[0]) == [0]
    classes = [e.get("class") for e in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert classes == ["bar over", "bar", "bar"]  # 140 and 900 are under no limit


def test_a_limit_on_every_bar_is_one_line_across():
    root = parse(render_chart(bar_chart("PSI", ["a", "b", "c"], [0.1, 0.3, 0.05], threshold=0.2)))
    lines = limit_lines(root)
    assert len(lines) == 1 and slot_of(root, lines[0]) == [0, 1, 2]
    assert [e.get("class") for e in root.iter("{http://www.w3.org/2000/svg}rect")] == ["bar", "bar over", "bar"]


def test_a_minimum_marks_the_bars_below_it():
    spec = bar_chart("accuracy by slice", ["a", "b"], [0.7, 0.9], threshold=0.8)
    spec["limit_kind"] = "min"
    root = parse(render_chart(spec))
    assert [e.get("class") for e in root.iter("{http://www.w3.org/2000/svg}rect")] == ["bar over", "bar"]
    assert any(t.text == "min 0.8" for t in root.iter("{http://www.w3.org/2000/svg}text"))


class _Fast:
    classes_ = np.array(["<=50K", ">50K"])

    def predict_proba(self, X):
        return np.tile([0.7, 0.3], (len(X), 1))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), int)]


def test_the_inference_check_draws_its_limit_over_the_single_row_bar(make_ctx, adult_test):
    from mlqa.suites.latency import inference
    res = inference(make_ctx(None, adult_test.head(300), model=_Fast()), max_p95_ms=1000.0, repeats=3)
    chart = res.evidence["charts"][0]
    assert chart["limits"] == [1000.0, None, None] and chart["threshold"] is None
    root = parse(render_chart(chart))
    assert slot_of(root, limit_lines(root)[0]) == [0]


# ------------------------------------------------------------------ drift distributions
def test_histograms_overlay_with_a_legend():
    spec = {"type": "hist", "title": "age: train vs test", "edges": [0, 10, 20, 30],
            "series": [{"name": "train (reference)", "y": [0.2, 0.5, 0.3]}, {"name": "test (current)", "y": [0.1, 0.3, 0.6]}],
            "x_label": "age", "y_label": "share of rows"}
    root = parse(render_chart(spec))
    rects = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if "hb" in (e.get("class") or "")]
    assert len(rects) == 6 and legend(root) == ["train (reference)", "test (current)"]
    # overlaid: the two series share the bins' x positions
    assert [r.get("x") for r in rects[:3]] == [r.get("x") for r in rects[3:]]


def test_category_bars_side_by_side_with_a_legend():
    spec = {"type": "bars", "title": "workclass", "x": ["Private", "Gov"],
            "series": [{"name": "train (reference)", "y": [0.7, 0.3]}, {"name": "test (current)", "y": [0.5, 0.5]}]}
    root = parse(render_chart(spec))
    rects = [e for e in root.iter("{http://www.w3.org/2000/svg}rect") if "gb" in (e.get("class") or "")]
    assert len(rects) == 4 and len({r.get("x") for r in rects}) == 4
    assert legend(root) == ["train (reference)", "test (current)"]


# ------------------------------------------------------------------ any values
VALUE = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-10**6, 10**6))
LABEL = st.text(max_size=30)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["bar", "line", "hist", "bars"]), labels=st.lists(LABEL, max_size=8),
       values=st.lists(VALUE, max_size=8), second=st.lists(VALUE, max_size=8), limit=VALUE)
def test_any_values_give_a_scalable_well_formed_svg_with_finite_coordinates(kind, labels, values, second, limit):
    series = [{"name": "a", "x": list(range(len(values))), "y": values}, {"name": "b", "x": second, "y": values}]
    spec = {"type": kind, "title": "t", "x": labels, "y": values, "threshold": limit, "limits": [limit] * len(labels),
            "series": series, "edges": sorted(v for v in values if isinstance(v, int)),
            "lines": [{"y": limit, "label": "l"}, {"x": limit, "at": limit}]}
    svg = render_chart(spec)
    root = parse(svg)
    assert re.fullmatch(r"0 0 560 \d+", root.get("viewBox")) and root.get("width") == "100%"
    for el in root.iter():
        for name in ("x", "y", "x1", "x2", "y1", "y2", "width", "height", "cx", "cy"):
            if el.get(name) is not None and el is not root:
                assert math.isfinite(float(el.get(name))), (name, el.get(name))
        if el.get("points"):
            assert all(math.isfinite(float(c)) for p in el.get("points").split() for c in p.split(","))


def test_the_load_ladder_marks_each_latency_slo_at_its_percentile():
    """latency.load's percentile ladder had no SLO marks: `p95 < 200ms` is a limit at p95
    only, drawn there (not across the chart); error-rate SLOs draw nothing. (That the check
    adds them: tests/integration/test_load.py.)"""
    from mlqa.judge import line_chart
    from mlqa.loadgen import parse_slo
    from mlqa.reports._svg import line
    slos = [parse_slo(t) for t in ("p95 < 200ms", "p99 < 500ms", "error_rate < 0.1%")]
    chart = line_chart("Latency by percentile (HDR histogram)",
                       [{"name": "15/s", "x": [50, 95, 99], "y": [20.0, 150.0, 300.0]}], y_label="ms")
    chart["lines"] = [{"y": o.value, "at": float(o.metric[1:]), "label": o.text}
                      for o in slos if o.metric.startswith("p")]
    svg = line(chart)
    assert svg.count('class="ref"') == 2 and "p95 &lt; 200ms" in svg and "p99 &lt; 500ms" in svg
