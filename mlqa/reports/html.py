"""report.html: one self-contained file (inline CSS and SVG, no scripts, no network).

Every string is escaped by the template engine (autoescape) or by the SVG writer; the
only markup inserted as is are the SVG charts `_svg` draws from escaped labels."""
from __future__ import annotations

import json
from typing import Any

from ._rows import gate_label, key_metric, status_counts, verdict_line
from ._svg import render_chart
from ._text import clean_tree


def _tables(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """Evidence values that are lists of flat dicts, rendered as tables (first 30 rows)."""
    out = []
    for name, value in evidence.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            cols = list(dict.fromkeys(k for r in value[:30] for k, v in r.items()
                                      if not isinstance(v, (dict, list))))
            if cols:
                out.append({"name": name, "columns": cols, "rows": value[:30], "more": max(len(value) - 30, 0)})
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def render_html(doc: dict[str, Any]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from .._assets import asset_dir
    env = Environment(loader=FileSystemLoader(str(asset_dir("reports") / "templates")),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["cell"] = _cell
    doc = clean_tree(doc)
    rows = []
    for row in doc.get("checks", []):
        evidence = dict(row.get("evidence") or {})
        charts = [render_chart(c) for c in evidence.pop("charts", []) if isinstance(c, dict)]
        metric, bound = key_metric(row)
        rows.append({"row": row, "metric": metric, "bound": bound, "gate": gate_label(row),
                     "charts": charts, "tables": _tables(evidence),
                     "evidence_json": json.dumps(evidence, indent=2, default=str)[:20000]})
    return env.get_template("report.html.j2").render(
        doc=doc, rows=rows, verdict=verdict_line(doc), counts=status_counts(doc),
        subject_json=json.dumps(doc.get("subject", {}), indent=2))
