"""How a report shows one row and the whole verdict: status counts, the verdict line,
the gate label and the key metric of a check (shared by every renderer and the terminal)."""
from __future__ import annotations

import math
from typing import Any


def fmt(value: Any) -> str:
    """A metric as the reports and checks' messages write it (4 significant digits); the one
    copy (`mlqa.judge` re-exports it), here so a result renders itself without the judge."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def status_counts(doc: dict[str, Any]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for row in doc.get("checks", []):
        counts[row.get("status", "error")] = counts.get(row.get("status", "error"), 0) + 1
    return counts


def verdict_line(doc: dict[str, Any]) -> str:
    counts = status_counts(doc)
    tally = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    if doc.get("decision"):
        return f"{doc['decision'].upper()} (stage {doc['stage']}): {tally}"
    ok = not doc.get("reasons")
    return f"{'ALL PASSED' if ok else 'NOT ALL PASSED'} (no stage): {tally}"


def gate_label(row: dict[str, Any]) -> str:
    if row.get("waived"):
        return "waived"
    if row.get("waiver", {}) and row["waiver"].get("expired"):
        return "blocking (waiver expired)"
    return "blocking" if row.get("blocking", True) else "advisory"


def key_metric(row: dict[str, Any]) -> tuple[str, str]:
    """('name = value', 'bound') of a row's first threshold, else its first metric."""
    thresholds, metrics = row.get("thresholds") or {}, row.get("metrics") or {}
    for name, bound in thresholds.items():
        return f"{name.strip()} = {fmt(metrics.get(name))}", bound
    for name, value in metrics.items():
        return f"{name} = {fmt(value)}", ""
    return "", ""
