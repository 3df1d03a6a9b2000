"""report.html: one self-contained file (inline CSS and SVG, no scripts, no network).

The page reads top-down by urgency: the decision, a summary of what failed (each line a
link to its check's section), an index of every check, the failed and errored checks in
full, then the skipped and passed ones folded in `<details>`. It is fluid from 800 px up:
tables and evidence scroll inside their own box, charts scale with their viewBox.

Every string is escaped by the template engine (autoescape) or by the SVG writer; the
only markup inserted as is are the SVG charts `_svg` draws from escaped labels."""
from __future__ import annotations

import json
import re
from typing import Any

from ._rows import gate_label, key_metric, status_counts, verdict_line
from ._svg import render_chart
from ._text import clean_tree

#: rows of an evidence table shown, and characters of the evidence JSON
TABLE_ROWS, JSON_CHARS = 30, 20000
#: the order of the sections: what needs a reader's attention first (failed and errored
#: checks, the blocking ones first; then skipped; then passed)
GROUP = {"failed": 0, "error": 0, "skipped": 1, "passed": 2}


def _tables(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """Evidence values that are lists of flat dicts, rendered as tables (first 30 rows)."""
    out = []
    for name, value in evidence.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            cols = list(dict.fromkeys(k for r in value[:TABLE_ROWS] for k, v in r.items()
                                      if not isinstance(v, (dict, list))))
            if cols:
                out.append({"name": name, "columns": cols, "rows": value[:TABLE_ROWS],
                            "more": max(len(value) - TABLE_ROWS, 0)})
    return out


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _breakable(text: Any) -> Any:
    """A check id, escaped, that may wrap after its dots, underscores and brackets."""
    from markupsafe import Markup, escape
    return Markup(re.sub(r"([._\[\]/-])", r"\1<wbr>", str(escape(str(text)))))


def anchors(ids: list[str]) -> list[str]:
    """A unique, URL-safe section id per check id (`check-data.drift`), in order."""
    out: list[str] = []
    seen: set[str] = set()
    for cid in ids:
        base = "check-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", str(cid)).strip("-") or "x")
        name, n = base, 2
        while name in seen:
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        out.append(name)
    return out


def _attach(lines: list[str], rows: list[dict[str, Any]], key: str) -> list[str]:
    """Give each row the reason (or note) that names it — the text after its id — and
    return the lines that name no check (a blocking check that did not run, say)."""
    loose = []
    for text in lines:
        named = [r for r in rows if text.startswith(f"{r['row'].get('id', '')} ") and key not in r]
        if named:
            r = max(named, key=lambda r: len(str(r["row"].get("id", ""))))
            r[key] = text[len(str(r["row"].get("id", ""))) + 1:]
        else:
            loose.append(text)
    return loose


def _metrics(row: dict[str, Any]) -> list[dict[str, str]]:
    """Every metric with its bound where it has one (the judged ones first)."""
    metrics, thresholds = row.get("metrics") or {}, row.get("thresholds") or {}
    names = list(dict.fromkeys([*thresholds, *metrics]))
    return [{"name": n, "value": _cell(metrics.get(n)), "bound": str(thresholds.get(n, ""))} for n in names]


def view(doc: dict[str, Any]) -> dict[str, Any]:
    """What the template shows: the rows in reading order, grouped, with their anchors,
    and the summary lines linked to them."""
    rows = []
    checks = doc.get("checks", [])
    for row, anchor in zip(checks, anchors([r.get("id", "") for r in checks])):
        evidence = dict(row.get("evidence") or {})
        charts = [render_chart(c) for c in evidence.pop("charts", []) if isinstance(c, dict)]
        metric, bound = key_metric(row)
        rows.append({"row": row, "anchor": anchor, "status": row.get("status", "error"), "metric": metric,
                     "bound": bound, "gate": gate_label(row), "blocks": bool(row.get("blocks")),
                     "charts": [c for c in charts if c], "tables": _tables(evidence), "metrics": _metrics(row),
                     "evidence_json": json.dumps(evidence, indent=2, default=str)[:JSON_CHARS]})
    loose_reasons = _attach(list(doc.get("reasons") or []), rows, "reason")
    loose_notes = _attach(list(doc.get("notes") or []), rows, "note")
    ordered = sorted(rows, key=lambda r: (GROUP.get(r["status"], 0), not r["blocks"], r["status"] != "failed"))
    problems = [r for r in ordered if r["status"] in ("failed", "error")]
    return {"rows": ordered, "problems": problems,
            "blocking": [r for r in problems if r["blocks"]],
            "not_blocking": [r for r in problems if not r["blocks"]],
            "skipped": [r for r in ordered if r["status"] == "skipped"],
            "passed": [r for r in ordered if r["status"] == "passed"],
            "loose_reasons": loose_reasons, "loose_notes": loose_notes}


def render_html(doc: dict[str, Any]) -> str:
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from .._assets import asset_dir
    env = Environment(loader=FileSystemLoader(str(asset_dir("reports") / "templates")),
                      autoescape=select_autoescape(["html", "j2"]))
    env.filters["cell"] = _cell
    env.filters["breakable"] = _breakable
    doc = clean_tree(doc)
    return env.get_template("report.html.j2").render(
        doc=doc, v=view(doc), verdict=verdict_line(doc), counts=status_counts(doc),
        subject_json=json.dumps(doc.get("subject", {}), indent=2))
