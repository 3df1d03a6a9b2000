"""Personal data in the data sets: detectors with checksums (`mlqa.pii`, shared with the
redaction pass), masked findings."""
from __future__ import annotations

import pandas as pd

from ...context import CheckContext
from ...judge import judge
from ...params import Columns, Count
from ...pii import IDENTIFIER_NAMES, card_numbers, iban_ok, luhn_ok, mask, scan_values
from ...registry import check
from ...results import CheckResult
from ...tables import is_categorical

__all__ = ["iban_ok", "luhn_ok", "pii", "redact"]

#: the masked form of a finding (`j***@***.com`); the name this module always had
redact = mask


def _scan_outputs(ctx: CheckContext, allow_columns: list[str]) -> list[dict]:
    """Text the model produces (string predictions that are not class labels) is scanned too."""
    pred = pd.Series(ctx.predictions("model", "test").pred)
    if pred.dtype.kind not in "OSU" and not pd.api.types.is_string_dtype(pred):
        return []
    labels = set(map(str, ctx.model.classes or [])) | set(map(str, ctx.labels))
    text = pred.astype(str)
    text = text[~text.isin(labels)]
    if text.empty or "model output" in allow_columns:
        return []
    return [{"split": "test", "column": "model output", "kind": kind, "rows": rows, "samples": samples}
            for kind, (rows, samples) in scan_values(text).items()]


@check("privacy.pii", requires=("test",))
def pii(ctx: CheckContext, *, max_findings: Count = 0, allow_columns: Columns = [],  # noqa: B006
        columns: Columns | None = None) -> CheckResult:
    """Personal data in the training and test data (and in text the model produces):
    e-mail addresses, phone numbers,
    payment card numbers (Luhn-valid, also stored as integers), IBANs (checksum-valid), US
    social security numbers, IP addresses, and columns whose names suggest direct
    identifiers. Findings give the column, the kind and the count with masked samples. The
    columns found here are also redacted from every other check's evidence (as are those
    in `data.personal`), so a raw value never appears in a report or a log. By default no
    finding is allowed (`max_findings: 0`); declare columns that legitimately hold
    identifiers in `allow_columns`.

    Parameters:
    max_findings: highest number of (column, kind) findings allowed (default 0)
    allow_columns: columns declared to hold personal data on purpose (reported, not judged); `model output` for the model's text
    columns: columns to scan (default: every column)
    """
    findings, allowed = [], []
    for data in (d for d in (ctx.train, ctx.test) if d is not None):
        frame = data.frame
        for col in columns or list(frame.columns):
            s = frame[col]
            hits: dict[str, tuple[int, list[str]]] = {}
            if is_categorical(s) or card_numbers(s):  # (card numbers may be stored as integers)
                hits = scan_values(s.dropna().astype(str))
            if IDENTIFIER_NAMES.search(str(col)):
                hits.setdefault("identifier column name", (int(s.notna().sum()), []))
            for kind, (rows, samples) in hits.items():
                row = {"split": data.name, "column": col, "kind": kind, "rows": rows, "samples": samples}
                (allowed if col in allow_columns else findings).append(row)
    if ctx.model is not None and ctx.test is not None:
        findings += _scan_outputs(ctx, allow_columns)
    merged: dict[tuple[str, str], dict] = {}
    for f in findings:
        key = (f["column"], f["kind"])
        if key in merged:
            merged[key]["rows"] += f["rows"]
            merged[key]["splits"].append(f["split"])
        else:
            merged[key] = {"column": f["column"], "kind": f["kind"], "rows": f["rows"],
                           "splits": [f["split"]], "samples": f["samples"]}
    table = sorted(merged.values(), key=lambda r: -r["rows"])
    return judge({"findings": float(len(table))}, {"findings": ("<=", float(max_findings))},
                 detail=", ".join(f"{r['column']}: {r['kind']} x{r['rows']}" for r in table[:5]),
                 evidence={"findings": [{**r, "samples": ", ".join(r["samples"]), "splits": ", ".join(r["splits"])}
                                        for r in table],
                           "allowed": [{k: v for k, v in a.items() if k != "samples"} for a in allowed]})
