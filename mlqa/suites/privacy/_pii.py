"""Personal data in the data sets: detectors with checksums, redacted findings."""
from __future__ import annotations

import ipaddress
import re

import pandas as pd

from ...params import Columns
from ...registry import check
from ...results import CheckResult
from ...context import CheckContext
from ...tables import is_categorical
from ...judge import judge

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}(?![\w])")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
IDENTIFIER_NAMES = re.compile(r"(^|[_\- ])(e-?mail|phone|mobile|ssn|social[_ ]?security|passport|"
                              r"first[_ ]?name|last[_ ]?name|full[_ ]?name|surname|address|street|"
                              r"zip|postcode|dob|birth[_ ]?date|date[_ ]?of[_ ]?birth|iban|card[_ ]?number|"
                              r"national[_ ]?id|ip[_ ]?address|license[_ ]?number)($|[_\- ])", re.I)


def luhn_ok(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1
    except ValueError:
        return False


def _ip_ok(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def redact(kind: str, value: str) -> str:
    """A form that shows what was found without the value itself."""
    if kind == "email":
        user, _, domain = value.partition("@")
        tld = domain.rsplit(".", 1)[-1]
        return f"{user[:1]}***@***.{tld}"
    digits = re.sub(r"\D", "", value)
    if kind == "card":
        return f"**** **** **** {digits[-4:]}" if len(digits) >= 13 else "****"
    if kind == "iban":
        return value.replace(" ", "")[:2] + "** **** **** ****"
    if kind == "ssn":
        return "***-**-" + digits[-4:]
    if kind == "phone":
        return "*** *** **" + digits[-2:]
    if kind in ("ipv4", "ipv6"):
        return "<ip address>"
    return "<redacted>"


DETECTORS = (("email", EMAIL, None), ("iban", IBAN, iban_ok),
             ("card", CARD, lambda v: luhn_ok(re.sub(r"\D", "", v))), ("ssn", SSN, None), ("ipv4", IPV4, _ip_ok), ("ipv6", IPV6, _ip_ok),
             ("phone", PHONE, lambda v: 9 <= len(re.sub(r"\D", "", v)) <= 15))


def scan_values(values: pd.Series) -> dict[str, tuple[int, list[str]]]:
    """kind -> (rows with a finding, up to 3 redacted samples). Scans distinct values once."""
    counts = values.value_counts(dropna=True)
    found: dict[str, tuple[int, list[str]]] = {}
    for value, n in counts.items():
        text = str(value)
        if len(text) < 6:
            continue
        claimed: list[tuple[int, int]] = []
        for kind, pattern, valid in DETECTORS:
            for m in pattern.finditer(text):
                span = m.span()
                if any(a < span[1] and span[0] < b for a, b in claimed):
                    continue  # a card number is not also a phone number
                if kind == "card":
                    claimed.append(span)  # a long digit run is never also a phone number
                if valid is not None and not valid(m.group(0)):
                    continue
                claimed.append(span)
                rows, samples = found.get(kind, (0, []))
                if len(samples) < 3:
                    samples = samples + [redact(kind, m.group(0))]
                found[kind] = (rows + int(n), samples)
    return found


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
def pii(ctx: CheckContext, *, max_findings: int = 0, allow_columns: Columns = [],  # noqa: B006
        columns: Columns | None = None) -> CheckResult:
    """Personal data in the training and test data (and in text the model produces):
    e-mail addresses, phone numbers,
    payment card numbers (Luhn-valid), IBANs (checksum-valid), US social security numbers,
    IP addresses, and columns whose names suggest direct identifiers. Findings give the
    column, the kind and the count with redacted samples; a raw value never appears in a
    report or a log. By default no finding is allowed (`max_findings: 0`); declare columns
    that legitimately hold identifiers in `allow_columns`.

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
            if is_categorical(s):
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
