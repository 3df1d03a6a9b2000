"""Renderers of results and decisions: json, junit, markdown, html, sarif."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlqaError

if TYPE_CHECKING:  # pragma: no cover
    from ..api import RunOutcome

RESULTS_SCHEMA = "mlqa/results/v1"
FORMATS = ("json", "md", "html", "junit", "sarif")


def document(outcome: "RunOutcome") -> dict[str, Any]:
    """One dict every renderer reads: decision.json when a stage decided, else results."""
    from .. import __version__
    if outcome.decision is not None:
        return outcome.decision.to_dict()
    from ..api import default_decision
    gated = default_decision(outcome.results)
    return {"schema": RESULTS_SCHEMA, "decision": None, "stage": None,
            "reasons": list(gated.reasons), "notes": list(gated.notes),
            "checks": [g.to_dict() for g in gated.checks], "subject": {"config": str(outcome.config.path)},
            "mlqa_version": __version__, "started_at": outcome.started_at,
            "duration_s": round(outcome.duration_s, 3)}


def results_document(outcome: "RunOutcome") -> dict[str, Any]:
    from .. import __version__
    from ..api import subject_info
    return {"schema": RESULTS_SCHEMA, "mlqa_version": __version__, "started_at": outcome.started_at,
            "duration_s": round(outcome.duration_s, 3), "subject": subject_info(outcome.config),
            "checks": [r.to_dict() for r in outcome.results]}


def render(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if fmt == "md":
        from .markdown import render_markdown
        return render_markdown(doc)
    if fmt == "html":
        from .html import render_html
        return render_html(doc)
    if fmt == "junit":
        from .junit import render_junit
        return render_junit(doc)
    if fmt == "sarif":
        from .sarif import render_sarif
        return render_sarif(doc)
    raise MlqaError(f"unknown report format `{fmt}`; use one of {', '.join(FORMATS)}")


def write_all(out: Path, outcome: "RunOutcome") -> dict[str, Path]:
    """results.json, decision.json (with a stage), summary.md, report.html, junit.xml."""
    out.mkdir(parents=True, exist_ok=True)
    doc = document(outcome)
    files = {"results": out / "results.json", "summary": out / "summary.md",
             "html": out / "report.html", "junit": out / "junit.xml"}
    files["results"].write_text(render(results_document(outcome), "json"), encoding="utf-8")
    if outcome.decision is not None:
        files["decision"] = out / "decision.json"
        files["decision"].write_text(render(doc, "json"), encoding="utf-8")
    files["summary"].write_text(render(doc, "md"), encoding="utf-8")
    files["html"].write_text(render(doc, "html"), encoding="utf-8")
    files["junit"].write_text(render(doc, "junit"), encoding="utf-8")
    from .sarif import has_findings, render_sarif
    if has_findings(doc):
        files["sarif"] = out / "security.sarif"
        files["sarif"].write_text(render_sarif(doc), encoding="utf-8")
    return files


def load_document(path: Path) -> dict[str, Any]:
    """Read a results.json or decision.json back into the renderers' document shape."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlqaError(f"{path}: no such file (pass the results.json or decision.json mlqa wrote)") from None
    except json.JSONDecodeError as exc:
        raise MlqaError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema == "mlqa/decision/v1":
        return data
    if schema == RESULTS_SCHEMA:
        if "decision" in data:
            return data
        from ..api import default_decision
        from ..results import CheckResult
        gated = default_decision([CheckResult.from_dict(r) for r in data.get("checks", [])])
        return {**data, "decision": None, "stage": None, "reasons": list(gated.reasons),
                "notes": list(gated.notes), "checks": [g.to_dict() for g in gated.checks]}
    raise MlqaError(f"{path}: not an mlqa results or decision file (schema {schema!r})")


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
    from ..suites._judge import fmt
    thresholds, metrics = row.get("thresholds") or {}, row.get("metrics") or {}
    for name, bound in thresholds.items():
        return f"{name.strip()} = {fmt(metrics.get(name))}", bound
    for name, value in metrics.items():
        return f"{name} = {fmt(value)}", ""
    return "", ""
