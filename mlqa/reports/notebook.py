"""How a result shows itself in a notebook (Jupyter's `_repr_html_`): a small HTML fragment
— the decision, why it blocks, and the checks that failed or errored — not the whole
report.html. Every string is escaped; inline styles only, no script.

It imports nothing that imports `mlqa.results`, so `Decision` and `CheckResult` can call it."""
from __future__ import annotations

from html import escape
from typing import Any

from ._rows import fmt, gate_label, key_metric, status_counts, verdict_line
from ._text import clean_tree

#: failing checks listed before "and N more"
MAX_ROWS = 50
COLOURS = {"promote": "#1a7f37", "block": "#cf222e", "passed": "#1a7f37", "failed": "#cf222e",
           "error": "#9a6700", "skipped": "#57606a"}
_CELL = 'style="text-align:left;padding:2px 8px;vertical-align:top"'


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _row(row: dict[str, Any]) -> str:
    metric, bound = key_metric(row)
    status = str(row.get("status", "error"))
    colour = COLOURS.get(status, "#57606a")
    return (f"<tr><td {_CELL}><code>{_e(row.get('id', ''))}</code></td>"
            f'<td {_CELL}><span style="color:{colour};font-weight:600">{_e(status)}</span></td>'
            f"<td {_CELL}>{_e(metric)}</td><td {_CELL}>{_e(bound)}</td><td {_CELL}>{_e(gate_label(row))}</td>"
            f"<td {_CELL}>{_e(row.get('message', ''))}</td></tr>")


def decision_html(doc: dict[str, Any]) -> str:
    """A decision (or a run's results) document as a notebook fragment: its verdict, its
    reasons, and a table of the checks that failed or errored."""
    doc = clean_tree(doc)
    decision = doc.get("decision")
    colour = COLOURS.get(decision or "", "#0969da")
    head = (f'<div class="mlqa-decision"><p style="margin:0 0 4px"><strong style="color:{colour}">'
            f'{_e((decision or "results").upper())}</strong> {_e(verdict_line(doc))}</p>')
    parts = [head]
    if doc.get("reasons"):
        word = "Why it blocks" if decision else "What did not pass"
        parts.append(f"<p style=\"margin:4px 0\">{word}:</p><ul>"
                     + "".join(f"<li>{_e(r)}</li>" for r in doc["reasons"]) + "</ul>")
    failing = [r for r in doc.get("checks", []) if r.get("status") in ("failed", "error")]
    if failing:
        parts.append(f"<table><thead><tr>{''.join(f'<th {_CELL}>{h}</th>' for h in ('check', 'status', 'metric', 'threshold', 'gate', 'message'))}"
                     "</tr></thead><tbody>" + "".join(_row(r) for r in failing[:MAX_ROWS]) + "</tbody></table>")
        if len(failing) > MAX_ROWS:
            parts.append(f"<p>and {len(failing) - MAX_ROWS} more failing checks</p>")
    counts = status_counts(doc)
    parts.append(f'<p style="margin:4px 0;color:#57606a">{counts["passed"]} passed, {counts["skipped"]} skipped'
                 " — the full report: mlqa.reports.render(decision.to_dict(), \"html\")</p></div>")
    return "".join(parts)


def result_html(row: dict[str, Any]) -> str:
    """One check's result as a notebook fragment: id, status, message, metrics and bounds."""
    row = clean_tree(row)
    status = str(row.get("status", "error"))
    thresholds = row.get("thresholds") or {}
    metrics = "".join(f"<tr><td {_CELL}><code>{_e(k)}</code></td><td {_CELL}>{_e(fmt(v))}</td>"
                      f"<td {_CELL}>{_e(thresholds.get(k, ''))}</td></tr>" for k, v in (row.get("metrics") or {}).items())
    return (f'<div class="mlqa-result"><p style="margin:0 0 4px"><code>{_e(row.get("id", ""))}</code> '
            f'<strong style="color:{COLOURS.get(status, "#57606a")}">{_e(status)}</strong> '
            f"{_e(row.get('message', ''))}</p>"
            + (f"<table><thead><tr><th {_CELL}>metric</th><th {_CELL}>value</th><th {_CELL}>bound</th></tr></thead>"
               f"<tbody>{metrics}</tbody></table>" if metrics else "") + "</div>")
