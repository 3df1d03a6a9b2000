"""SARIF 2.1.0 for code-scanning UIs, from the findings that security checks report."""
from __future__ import annotations

import json
from typing import Any

_LEVEL = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning", "LOW": "note", "UNKNOWN": "note"}


def has_findings(doc: dict[str, Any]) -> bool:
    return any((row.get("evidence") or {}).get("sarif") for row in doc.get("checks", []))


def render_sarif(doc: dict[str, Any]) -> str:
    rules: dict[str, dict] = {}
    results = []
    for row in doc.get("checks", []):
        evidence = row.get("evidence") or {}
        if not evidence.get("sarif"):
            continue
        for f in evidence.get("findings", []):
            rule = str(f.get("rule") or f.get("kind"))
            rules.setdefault(rule, {"id": rule, "shortDescription": {"text": f.get("title") or rule},
                                    "properties": {"kind": f.get("kind"), "check": row["id"]}})
            location = {"physicalLocation": {"artifactLocation": {"uri": f.get("target") or ""}}}
            if f.get("line"):
                location["physicalLocation"]["region"] = {"startLine": int(f["line"])}
            text = f"{f.get('severity')} {f.get('kind')} {rule}: {f.get('title') or ''}".strip()
            if f.get("package"):
                text += f" ({f['package']} {f.get('installed', '')} -> {f.get('fixed') or 'no fix'})"
            results.append({"ruleId": rule, "level": _LEVEL.get(str(f.get("severity")), "warning"),
                            "message": {"text": text}, "locations": [location]})
    sarif = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
             "runs": [{"tool": {"driver": {"name": "mlqa", "version": doc.get("mlqa_version", ""),
                                           "rules": list(rules.values())}}, "results": results}]}
    return json.dumps(sarif, indent=2) + "\n"
