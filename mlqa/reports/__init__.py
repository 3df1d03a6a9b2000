"""Renderers of results and decisions: json, junit, markdown, html, sarif."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import MlqaError
from ._rows import fmt, gate_label, key_metric, status_counts, verdict_line  # noqa: F401 (re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from ..session import RunOutcome

RESULTS_SCHEMA = "mlqa/results/v1"
FORMATS = ("json", "md", "html", "junit", "sarif")


def document(outcome: "RunOutcome") -> dict[str, Any]:
    """One dict every renderer reads: decision.json when a stage decided, else results
    gated with every check blocking."""
    if outcome.decision is not None:
        return outcome.decision.to_dict()
    verdict = outcome.verdict
    return {"schema": RESULTS_SCHEMA, "decision": None, "stage": None,
            "reasons": list(verdict.reasons), "notes": list(verdict.notes),
            "checks": [g.to_dict() for g in verdict.checks], "subject": outcome.subject,
            "mlqa_version": __version__, "started_at": outcome.started_at,
            "duration_s": round(outcome.duration_s, 3)}


def results_document(outcome: "RunOutcome") -> dict[str, Any]:
    return {"schema": RESULTS_SCHEMA, "mlqa_version": __version__, "started_at": outcome.started_at,
            "duration_s": round(outcome.duration_s, 3), "subject": outcome.subject,
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
        from ..gate import default_decision
        from ..results import CheckResult
        gated = default_decision([CheckResult.from_dict(r) for r in data.get("checks", [])])
        return {**data, "decision": None, "stage": None, "reasons": list(gated.reasons),
                "notes": list(gated.notes), "checks": [g.to_dict() for g in gated.checks]}
    raise MlqaError(f"{path}: not an mlqa results or decision file (schema {schema!r})")
