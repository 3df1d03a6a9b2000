"""The timeline chart (judge.timeline_chart, drawn by reports._svg): well-formed, responsive
SVG with one panel per series on a shared x axis, one shaded rectangle per band, labels as
escaped text, gaps where values are missing, and empty input handled."""
from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlqa.judge import timeline_chart
from mlqa.reports import render
from mlqa.reports._svg import _nice_range, render_chart

NS = {"s": "http://www.w3.org/2000/svg"}
HOSTILE = "<script>alert(1)</script> & \"q\" 'a'"


def chart(series, bands=(), t=None, title="Timeline: kill a replica"):
    n = max([len(s["y"]) for s in series] + [0])
    return timeline_chart(title, list(range(n)) if t is None else t, series, list(bands))


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def panels(root: ET.Element) -> list[ET.Element]:
    return root.findall("s:g[@class='panel']", NS)


def band_rects(root: ET.Element) -> list[ET.Element]:
    return [r for r in root.findall("s:rect", NS) if (r.get("class") or "").startswith("band")]


def tick_value(text: str) -> float:
    """A compact tick label (`1.5k`, `2M`, `1,001`) back to its number."""
    scale = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}.get(text[-1:], 1.0)
    return float((text[:-1] if scale != 1.0 else text).replace(",", "")) * scale


def points_of(el: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in el.get("points").split()]


SUCCESS = {"name": "success rate", "unit": "%", "y": [100, 100, 99.5, 60, 40, 80, 100, 100]}
P99 = {"name": "p99", "unit": "ms", "y": [12, 14, 13, 900, 1200, 300, 15, 12]}
REPLICAS = {"name": "replicas in rotation", "unit": "", "y": [2, 2, 2, 1, 1, 1, 2, 2]}


def test_the_spec():
    spec = timeline_chart("T", [0, 1, 2], [{"name": "a", "unit": "ms", "y": [1, float("nan"), None]}],
                          [{"from": 0.5, "to": 1.5, "label": "fault"}])
    assert spec == {"type": "timeline", "title": "T", "t": [0.0, 1.0, 2.0],
                    "series": [{"name": "a", "unit": "ms", "y": [1.0, None, None]}],
                    "bands": [{"from": 0.5, "to": 1.5, "label": "fault"}]}
    assert timeline_chart("T", [], [], None)["bands"] == []


def test_one_panel_per_series_sharing_the_x_axis_each_with_its_unit():
    root = parse(render_chart(chart([SUCCESS, P99, REPLICAS])))
    ps = panels(root)
    assert len(ps) == 3
    heads = [p.find("s:text", NS).text for p in ps]
    assert heads == ["success rate (%)", "p99 (ms)", "replicas in rotation"]
    # stacked: each panel's line lies below the previous panel's, over the same x span
    spans = []
    for p in ps:
        pts = points_of(p.find("s:polyline", NS))
        spans.append((min(x for x, _ in pts), max(x for x, _ in pts), min(y for _, y in pts)))
    assert spans[0][:2] == spans[1][:2] == spans[2][:2]
    assert spans[0][2] < spans[1][2] < spans[2][2]
    # one x axis with second ticks, under the last panel
    assert root.find("s:text[.='seconds from start']", NS) is not None


def test_y_ticks_are_round_numbers_covering_the_values():
    root = parse(render_chart(chart([P99, REPLICAS])))
    for p, series in zip(panels(root), (P99, REPLICAS)):
        ticks = [tick_value(t.text) for t in p.findall("s:text[@text-anchor='end']", NS)]
        assert len(ticks) >= 2
        assert ticks[0] <= min(series["y"]) and ticks[-1] >= max(series["y"])
        step = ticks[1] - ticks[0]
        assert all(math.isclose(b - a, step) for a, b in itertools.pairwise(ticks))
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert any(math.isclose(mantissa, m) for m in (1, 2, 5))
    replica_ticks = [t.text for t in panels(root)[1].findall("s:text[@text-anchor='end']", NS)]
    assert all("." not in t for t in replica_ticks)  # a count is not shown as 1.5


@pytest.mark.parametrize("lo, hi", [(0, 1), (12, 1200), (99.5, 100), (-3, 7), (5, 5), (0, 0), (1e-4, 3e-4)])
def test_nice_ranges(lo, hi):
    a, b, step = _nice_range(lo, hi, 3)
    assert a <= lo and b >= hi and b > a and step > 0
    assert 1 <= round((b - a) / step) <= 12


def test_a_rect_per_band_across_every_panel_and_a_legend():
    bands = [{"from": 2, "to": 4.5, "label": "kill replica-1"}, {"from": 5, "to": 6, "label": "latency +200ms"}]
    root = parse(render_chart(chart([SUCCESS, P99, REPLICAS], bands)))
    rects = band_rects(root)
    assert len(rects) == 2
    ps = panels(root)
    top = min(float(line.get("y1")) for line in ps[0].findall("s:line", NS))
    bottom = max(float(line.get("y2")) for line in ps[-1].findall("s:line", NS))
    for r in rects:  # spans every panel, from the first's top to the last's axis
        assert float(r.get("y")) <= top and float(r.get("y")) + float(r.get("height")) >= bottom
    assert float(rects[0].get("x")) < float(rects[1].get("x"))
    legend = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "legend" in (t.get("class") or "")]
    assert legend == ["1. kill replica-1 (2-4.5 s)", "2. latency +200ms (5-6 s)"]
    assert len(root.findall("s:rect[@class='swatch']", NS)) == 2


def test_labels_are_escaped_text():
    svg = render_chart(chart([{"name": HOSTILE, "unit": "<b>", "y": [1, 2, 3]}],
                             [{"from": 0, "to": 1, "label": "<script>&"}], title=HOSTILE))
    assert "<script>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;&amp;" in svg
    root = parse(svg)
    texts = [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert any("<script>&" in t for t in texts)  # the parsed text is the label, as written
    assert root.get("aria-label") == HOSTILE
    assert panels(root)[0].find("s:text", NS).text == f"{HOSTILE} (<b>)"
    assert band_rects(root)[0].find("s:title", NS).text.startswith("<script>&")


def test_missing_values_leave_gaps():
    root = parse(render_chart(chart([{"name": "p99", "unit": "ms",
                                      "y": [10, 12, None, 30, 31, 32, float("nan"), None, 5, None, 7, 8]}])))
    p = panels(root)[0]
    lines = p.findall("s:polyline", NS)
    assert [len(points_of(pl)) for pl in lines] == [2, 3, 2]  # 0-1, 3-5, 10-11
    assert len(p.findall("s:circle", NS)) == 1  # the lone value at 8 is a dot
    assert points_of(lines[0])[-1][0] < points_of(lines[1])[0][0]


def test_empty_input_is_handled():
    for spec in (chart([]), chart([], [{"from": 1, "to": 3, "label": "fault"}]),
                 chart([{"name": "p99", "unit": "ms", "y": []}]),
                 chart([{"name": "p99", "unit": "ms", "y": [None, None, None]}]),
                 chart([{"name": "one", "unit": "", "y": [4]}]),
                 timeline_chart("T", [0, 1], [{"name": "short", "unit": "", "y": [1]}], []),
                 {"type": "timeline"}, {"type": "timeline", "t": None, "series": None, "bands": None},
                 {"type": "timeline", "t": ["x", None], "series": [{"y": ["a", {}]}, "junk"],
                  "bands": [{"from": "a"}, {"from": 3}, "junk", {"from": 5, "to": 2, "label": 7}]}):
        root = parse(render_chart(spec))
        assert len(panels(root)) >= 1
        coords = [v for el in root.iter() if el is not root for k, v in el.attrib.items()
                  if k in ("x", "y", "x1", "x2", "y1", "y2", "width", "height", "cx", "cy")]
        assert all(math.isfinite(float(v)) for v in coords)  # no nan or inf coordinates
        assert "nan" not in root.get("viewBox") and "inf" not in root.get("viewBox")
    root = parse(render_chart(chart([{"name": "p99", "unit": "ms", "y": [None, None]}])))
    assert "no data" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]


def test_responsive_and_in_the_html_report():
    from mlqa.gate import ALL_STAGES, decide
    from mlqa.results import CheckResult
    spec = chart([SUCCESS, P99], [{"from": 2, "to": 4, "label": "<script>&"}])
    root = parse(render_chart(spec))
    assert root.get("width") == "100%" and root.get("viewBox").startswith("0 0 ")
    assert root.get("height") is None  # the height follows the width (viewBox ratio)
    doc = decide(ALL_STAGES, [CheckResult(id="chaos.kill", status="failed", message="m",
                                          evidence={"charts": [spec]})]).to_dict()
    html = render(doc, "html")
    assert 'class="chart timeline"' in html and "<script>" not in html


VALUES = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6),
                   st.booleans())


@settings(max_examples=150, deadline=None)
@given(t=st.lists(VALUES, max_size=30),
       ys=st.lists(st.lists(VALUES, max_size=30), max_size=4),
       bands=st.lists(st.tuples(VALUES, VALUES, st.text(max_size=20)), max_size=4))
def test_any_values_give_well_formed_svg_with_finite_coordinates(t, ys, bands):
    spec = timeline_chart("T", t, [{"name": f"s{i}", "unit": "u", "y": y} for i, y in enumerate(ys)],
                          [{"from": a, "to": b, "label": label} for a, b, label in bands])
    root = parse(render_chart(spec))
    assert len(panels(root)) == max(len(ys), 1)
    for el in root.iter():
        for k, v in el.attrib.items():
            if k in ("x", "y", "x1", "x2", "y1", "y2", "width", "height", "cx", "cy") and el is not root:
                assert math.isfinite(float(v)), (el.tag, k, v)
            if k == "points":
                assert all(math.isfinite(c) for pt in points_of(el) for c in pt)
