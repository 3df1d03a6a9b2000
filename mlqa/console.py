"""Terminal output: the gate table and a progress display (rich), quiet when not a TTY."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator, TextIO


def gate_rows(doc: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    from .reports import gate_label, key_metric
    rows = []
    for row in doc.get("checks", []):
        metric, bound = key_metric(row)
        rows.append((row["id"], row["status"], metric, bound, gate_label(row)))
    return rows


def plain_table(doc: dict[str, Any]) -> str:
    """The gate table as fixed-width text (CI logs, pytest's terminal summary)."""
    from .reports import verdict_line
    header = ("check", "status", "metric", "threshold", "gate")
    rows = [header] + gate_rows(doc)
    widths = [min(max(len(r[i]) for r in rows), 44) for i in range(5)]
    lines = ["  ".join(c[:44].ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    out = lines + [""]
    for reason in doc.get("reasons", []):
        out.append(f"  reason: {reason}")
    for note in doc.get("notes", []):
        out.append(f"  note: {note}")
    out.append(f"mlqa: {verdict_line(doc)}")
    return "\n".join(out)


def print_table(doc: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stderr
    if not stream.isatty():
        print(plain_table(doc), file=stream)
        return
    from rich.console import Console
    from rich.table import Table
    from .reports import verdict_line
    console = Console(file=stream)
    table = Table(title="mlqa gate", show_lines=False)
    for col in ("check", "status", "metric", "threshold", "gate"):
        table.add_column(col)
    colors = {"passed": "green", "failed": "red", "error": "yellow", "skipped": "dim"}
    for cid, status, metric, bound, gate in gate_rows(doc):
        table.add_row(cid, f"[{colors.get(status, '')}]{status}[/]", metric, bound, gate)
    console.print(table)
    for reason in doc.get("reasons", []):
        console.print(f"[red]reason:[/] {reason}", highlight=False)
    for note in doc.get("notes", []):
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    style = "bold green" if doc.get("decision") == "promote" or (not doc.get("decision") and not doc.get("reasons")) else "bold red"
    console.print(f"[{style}]mlqa: {verdict_line(doc)}[/]", highlight=False)


@contextmanager
def progress(total: int, stream: TextIO | None = None) -> Iterator[Any]:
    """Yields `advance(label)`; draws a rich progress bar only on a TTY."""
    stream = stream or sys.stderr
    if not stream.isatty() or total == 0:
        yield lambda label=None: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=Console(file=stream), transient=True) as bar:
        task = bar.add_task("checks", total=total)

        def advance(label: str | None = None) -> None:
            bar.update(task, advance=1, description=label or "checks")
        yield advance


def describe_failure(gated: Any, stage: str | None, where: str) -> str:
    """What pytest prints for a blocking check: message, metric vs threshold, evidence."""
    import json
    r = gated.result
    lines = [f"{r.id} {r.status} — blocking in stage {stage or '(none: every check blocks)'}",
             f"  {r.message}"]
    for name, bound in r.thresholds.items():
        lines.append(f"  {name} = {r.metrics.get(name)}  (limit {bound})")
    if gated.waiver and gated.waiver.get("expired"):
        lines.append(f"  waiver expired on {gated.waiver['expires']} (owner {gated.waiver['owner']}): "
                     f"{gated.waiver['reason']}")
    evidence = {k: v for k, v in r.evidence.items() if k != "charts"}
    if evidence:
        text = json.dumps(evidence, indent=1, default=str)
        lines.append("  evidence: " + (text[:1500] + " ..." if len(text) > 1500 else text))
    lines.append(f"  declared at {where}")
    return "\n".join(lines)
