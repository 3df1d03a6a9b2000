"""junit.xml: one testcase per check, as pytest's own --junitxml would report the items.

Well-formed whatever the text: characters XML 1.0 forbids (control characters, U+FFFE,
lone surrogates) are replaced before ElementTree, which would write them as they are."""
from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree as ET

from ._rows import key_metric
from ._text import clean_tree


def render_junit(doc: dict[str, Any]) -> str:
    doc = clean_tree(doc)
    rows = doc.get("checks", [])
    suite = ET.Element("testsuite", name=f"mlqa.{doc.get('stage') or 'run'}", tests=str(len(rows)),
                       timestamp=doc.get("started_at", ""), time=str(doc.get("duration_s", 0)))
    failures = errors = skipped = 0
    for row in rows:
        rid = str(row.get("id", ""))
        case = ET.SubElement(suite, "testcase", classname=f"mlqa.{rid.split('.')[0]}",
                             name=rid, time=str(row.get("duration_s", 0)))
        metric, bound = key_metric(row)
        evidence = json.dumps(row.get("evidence", {}), indent=1, ensure_ascii=False, default=str)
        text = f"{row.get('message', '')}\n{metric} {bound}\n" + evidence[:4000]
        status = row["status"]
        if status == "passed":
            continue
        if status == "skipped":
            skipped += 1
            ET.SubElement(case, "skipped", message=row.get("message", ""))
        elif row.get("waived"):
            skipped += 1
            ET.SubElement(case, "skipped", message=f"waived: {row.get('waiver', {}).get('reason', '')}")
        elif not row.get("blocking", True):
            skipped += 1
            ET.SubElement(case, "skipped", type="pytest.xfail", message=f"advisory {status}: {row.get('message', '')}")
        elif status == "failed":
            failures += 1
            ET.SubElement(case, "failure", message=row.get("message", "")).text = text
        else:
            errors += 1
            ET.SubElement(case, "error", message=row.get("message", "")).text = text
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(skipped))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
