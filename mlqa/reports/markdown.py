"""summary.md: fits a pull-request comment or a CI step summary."""
from __future__ import annotations

from typing import Any

from ._rows import gate_label, key_metric, verdict_line

_ICON = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️"}
MAX_ROWS = 200


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(doc: dict[str, Any]) -> str:
    decision = doc.get("decision")
    icon = {"promote": "✅", "block": "⛔"}.get(decision or "", "🧪")
    lines = [f"## {icon} mlqa: {verdict_line(doc)}", ""]
    if doc.get("reasons"):
        lines += ["**Why it blocks:**", ""] + [f"- {_cell(r)}" for r in doc["reasons"]] + [""]
    lines += ["| check | status | metric | threshold | gate | message |",
              "|---|---|---|---|---|---|"]
    rows = doc.get("checks", [])
    for row in rows[:MAX_ROWS]:
        metric, bound = key_metric(row)
        lines.append(f"| `{row['id']}` | {_ICON.get(row['status'], '')} {row['status']} | {_cell(metric)} | "
                     f"{_cell(bound)} | {gate_label(row)} | {_cell(row.get('message', ''))[:200]} |")
    if len(rows) > MAX_ROWS:
        lines.append(f"| … | {len(rows) - MAX_ROWS} more rows in results.json | | | | |")
    if doc.get("notes"):
        lines += ["", "**Notes:**", ""] + [f"- {_cell(n)}" for n in doc["notes"]]
    lines += ["", f"<sub>mlqa {doc.get('mlqa_version', '')} · started {doc.get('started_at', '')} · "
                  f"{doc.get('duration_s', 0)} s</sub>", ""]
    return "\n".join(lines)
