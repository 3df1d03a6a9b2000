"""summary.md: fits a pull-request comment or a CI step summary.

Every string that comes from a config, the data or a check (ids, stage, messages,
reasons, metric names and bounds) is escaped for Markdown and HTML (`_text.md`): a column
named `<img src=x onerror=...>` or a value `[x](javascript:...)` shows as text, and a `|`
or a line break cannot add a table cell or end the table."""
from __future__ import annotations

from typing import Any

from ._rows import gate_label, key_metric, verdict_line
from ._text import clean_tree, md, md_code

_ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️"}
MAX_ROWS = 200
MAX_MESSAGE = 200


def render_markdown(doc: dict[str, Any]) -> str:
    doc = clean_tree(doc)
    decision = doc.get("decision")
    icon = {"promote": "✅", "block": "⛔"}.get(decision or "", "🧪")
    lines = [f"## {icon} mlqa: {md(verdict_line(doc))}", ""]
    if doc.get("reasons"):
        # a stage's decision blocks; a run without a stage decides nothing: it lists what did not pass
        heading = "**Why it blocks:**" if decision else "**What did not pass:**"
        lines += [heading, ""] + [f"- {md(r)}" for r in doc["reasons"]] + [""]
    lines += ["| check | status | metric | threshold | gate | message |",
              "|---|---|---|---|---|---|"]
    rows = doc.get("checks", [])
    for row in rows[:MAX_ROWS]:
        metric, bound = key_metric(row)
        status = row.get("status", "")
        message = str(row.get("message", ""))[:MAX_MESSAGE]  # cut before escaping: no half escapes
        lines.append(f"| {md_code(row.get('id', ''))} | {_ICON.get(status, '')} {md(status)} | {md(metric)} | "
                     f"{md(bound)} | {md(gate_label(row))} | {md(message)} |")
    if len(rows) > MAX_ROWS:
        lines.append(f"| … | {len(rows) - MAX_ROWS} more rows in results.json | | | | |")
    if doc.get("notes"):
        lines += ["", "**Notes:**", ""] + [f"- {md(n)}" for n in doc["notes"]]
    lines += ["", (f"<sub>mlqa {md(doc.get('mlqa_version', ''))} · started {md(doc.get('started_at', ''))} · "
                   f"{md(doc.get('duration_s', 0))} s</sub>"), ""]
    return "\n".join(lines)
