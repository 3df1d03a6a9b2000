"""Terminal output: the gate table, and the progress of a run — a rich bar on a terminal, a
line per check start and end (and a heartbeat while one runs) in a CI log."""
from __future__ import annotations

import os
import sys
import threading
import time
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


def table_title(doc: dict[str, Any]) -> str:
    """`mlqa gate (stage production)` for a stage's decision, else `mlqa results (no stage)`."""
    return f"mlqa gate (stage {doc['stage']})" if doc.get("stage") else "mlqa results (no stage)"


def print_table(doc: dict[str, Any], stream: TextIO | None = None, *, title: str | None = None) -> None:
    """The table of a run's results and its verdict, on stderr: a rich table on a terminal,
    fixed-width text otherwise. `title`: default `table_title(doc)` (`mlqa run` passes its own)."""
    stream = stream or sys.stderr
    title = title or table_title(doc)
    if not _isatty(stream):
        print(f"{title}\n{plain_table(doc)}", file=stream)
        return
    from rich.console import Console
    from rich.table import Table
    from .reports import verdict_line
    console = Console(file=stream)
    table = Table(title=title, show_lines=False)
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


#: seconds between the "still running" lines of a long check in a log (env MLQA_HEARTBEAT_S)
HEARTBEAT_S = 30.0


def heartbeat_s(default: float = HEARTBEAT_S) -> float:
    """The heartbeat interval: `MLQA_HEARTBEAT_S` when it is a positive number, else
    `default` (a value that is set but not a positive number says so on stderr)."""
    raw = os.environ.get("MLQA_HEARTBEAT_S", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if 0 < value < float("inf"):
        return value
    print(f"mlqa: MLQA_HEARTBEAT_S={raw!r} is not a positive number of seconds; "
          f"using {default:g}", file=sys.stderr)
    return default


class _Shown:
    """What `progress` yields: `start(key)` when a check starts, `done(key, status,
    seconds)` when it ends (and `advance(label)`, the older name for `done`)."""

    def start(self, key: str) -> None:
        pass

    def done(self, key: str, status: str, seconds: float | None = None) -> None:
        pass

    def __call__(self, label: str | None = None) -> None:  # advance(label): one more check done
        self.done(label or "", "")


class _Log(_Shown):
    """No terminal (a CI log): a line when each check starts and one when it ends (id,
    status, seconds), and a line every `interval` seconds while one runs, so a 15-minute
    check is not 15 silent minutes. Lines are flushed as they are written."""

    def __init__(self, total: int, stream: TextIO, interval: float) -> None:
        self.total, self.stream, self.interval = total, stream, interval
        self._lock = threading.Lock()
        self._n = 0
        self._running: tuple[str, float] | None = None
        self._next_beat = float("inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="mlqa-heartbeat", daemon=True)
        self._thread.start()

    def _line(self, text: str) -> None:
        try:
            print(text, file=self.stream, flush=True)
        except (OSError, ValueError):  # a closed or broken stream: progress is not worth a crash
            pass

    def start(self, key: str) -> None:
        with self._lock:
            self._n += 1
            now = time.monotonic()
            self._running = (key, now)
            self._next_beat = now + self.interval
            self._line(f"mlqa: [{self._n}/{self.total}] {key} started")

    def done(self, key: str, status: str, seconds: float | None = None) -> None:
        with self._lock:
            if self._running is None or self._running[0] != key:  # ended without a start line
                self._n += 1
                started = time.monotonic()
            else:
                started = self._running[1]
            took = seconds if seconds is not None else time.monotonic() - started
            self._running, self._next_beat = None, float("inf")
            self._line(f"mlqa: [{self._n}/{self.total}] {key} {status or 'done'} ({took:.1f} s)")

    def _beat(self) -> None:
        poll = min(self.interval / 2, 1.0)
        while not self._stop.wait(poll):
            with self._lock:
                now = time.monotonic()
                if self._running is not None and now >= self._next_beat:
                    key, started = self._running
                    self._next_beat = now + self.interval
                    self._line(f"mlqa: [{self._n}/{self.total}] {key} still running ({now - started:.0f} s)")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class _Bar(_Shown):
    """A terminal: a rich progress bar whose label is the check that is running."""

    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def start(self, key: str) -> None:
        self.bar.update(self.task, description=key)

    def done(self, key: str, status: str, seconds: float | None = None) -> None:
        self.bar.update(self.task, advance=1, description=f"{key}: {status}" if status else key)


@contextmanager
def progress(total: int, stream: TextIO | None = None, *, heartbeat: float | None = None) -> Iterator[_Shown]:
    """Shows a run of `total` checks on `stream` (stderr: standard output stays for machine
    output). Yields an object with `start(key)` and `done(key, status, seconds)`. On a
    terminal, a rich progress bar labelled with the running check; otherwise a line per
    check start and end and a heartbeat line every `heartbeat` seconds (default
    `heartbeat_s()`: 30, or `MLQA_HEARTBEAT_S`) while a check runs."""
    stream = stream or sys.stderr
    if total == 0:
        yield _Shown()
        return
    if not _isatty(stream):
        shown = _Log(total, stream, heartbeat if heartbeat and heartbeat > 0 else heartbeat_s())
        try:
            yield shown
        finally:
            shown.close()
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=Console(file=stream), transient=True) as bar:
        yield _Bar(bar, bar.add_task("checks", total=total))


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


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
