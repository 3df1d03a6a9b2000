"""Personal data in the data sets: detectors with checksums and validation (`mlqa.pii`,
shared with the redaction pass), masked findings."""
from __future__ import annotations

import pandas as pd

from ...context import CheckContext
from ...judge import judge
from ...params import Columns, Count, PositiveInt
from ...pii import iban_ok, identifier_kind, luhn_ok, mask, scan_column, scan_values
from ...registry import check
from ...results import CheckResult

__all__ = ["iban_ok", "luhn_ok", "pii", "redact"]

#: the masked form of a finding (`j***@***.com`); the name this module always had
redact = mask

#: what a finding by the column's name alone is called, by what the name says
_BY_NAME = {"name": "name column", "first name": "name column", "address": "address column",
            "dob": "date of birth column", "identifier": "identifier column name"}
#: the value kinds that make a finding by the column's name redundant
_SAME = {"name": ("name",), "first name": ("name",), "address": ("address",), "dob": ("dob",)}


def _scan_outputs(ctx: CheckContext, allow_columns: list[str], region: str) -> list[dict]:
    """Text the model produces (string predictions that are not class labels) is scanned too."""
    pred = pd.Series(ctx.predictions("model", "test").pred)
    if pred.dtype.kind not in "OSU" and not pd.api.types.is_string_dtype(pred):
        return []
    labels = set(map(str, ctx.model.classes or [])) | set(map(str, ctx.labels))
    text = pred.astype(str)
    text = text[~text.isin(labels)]
    if text.empty or "model output" in allow_columns:
        return []
    return [{"split": "test", "column": "model output", "kind": kind, "rows": rows, "samples": samples,
             "estimated": False}
            for kind, (rows, samples) in scan_values(text, region).items()]


def _column_findings(series: pd.Series, col: str, *, sample: int, seed: int, region: str) -> list[dict]:
    found = scan_column(series, col, sample=sample, seed=seed, region=region)
    rows = [{"kind": f.kind, "rows": f.rows, "samples": list(f.samples), "estimated": f.estimated}
            for f in found.values()]
    by_name = identifier_kind(col)
    if by_name is not None and not (found and (by_name == "identifier" or set(_SAME[by_name]) & set(found))):
        rows.append({"kind": _BY_NAME[by_name], "rows": int(series.notna().sum()), "samples": [],
                     "estimated": False})
    return rows


@check("privacy.pii", requires=("test",))
def pii(ctx: CheckContext, *, max_findings: Count = 0, allow_columns: Columns = [],  # noqa: B006
        columns: Columns | None = None, phone_region: str = "US", sample: PositiveInt = 2000) -> CheckResult:
    """Personal data in the training and test data and in text the model produces: e-mails,
    phone numbers, cards, IBANs, SSNs, IPs, person names, street addresses, dates of birth.

    Microsoft Presidio's recognisers are the reference for what to look for (without its
    spaCy models):

    - e-mail addresses, payment card numbers (Luhn-valid, also stored as integers), IBANs
      (checksum-valid), US social security numbers, IP addresses: patterns with checksums;
    - phone numbers in international (`+44 20 7946 0958`, `+49 30 12345678`) and national
      form (`(555) 123-4567`, read in `phone_region`): validated by Google's libphonenumber
      (the `phonenumbers` package, as Presidio's phone recogniser does);
    - person names: by the column's name in several languages (`name`, `first`, `last`,
      `surname`, `full_name`, `FirstName`, `nombre`, `prénom`, `vorname`, `cognome`,
      `nazwisko`, ...; not `product_name`, `hostname`, `username`) and by its values: 3 in
      10 rows (of a sample of distinct values) are 2 to 4 capitalised words with a first name and a last name
      from Faker's per-locale person providers (86 locales) and no place word (`San`,
      `Fort`, `City`), or nine in ten of 30+ distinct values are first names;
    - street addresses (house number and street type in English, German, Dutch, Nordic,
      French, Spanish, Italian, Portuguese and Polish forms: `12 Baker Street`,
      `Hauptstraße 5`, `45, rue de Carre`, `Via Roma, 10`) and dates of birth (a column
      named like one, `dob`, `geburtsdatum`, `fecha_nacimiento`, holding dates; or
      day-precise dates all between 1900 and ten years ago spread over 15+ years);
    - columns whose names suggest direct identifiers (`email`, `ssn`, `passport`, ...).

    Findings give the column, the kind and the rows with masked samples only (`J*** D***`,
    `+*** *** **58`, `## B*** S***`, `19**-**-**`); on columns with more than `sample`
    distinct values the detectors see a seeded sample and the row count is an estimate
    (`estimated`). The columns found here are also redacted from every other check's
    evidence (as are those in `data.personal`), so a raw value never appears in a report or
    a log. By default no finding is allowed (`max_findings: 0`); declare columns that hold
    personal data on purpose in `allow_columns`.

    Weakest defect caught: one column of a data set holding personal data of one kind —
    a single e-mail, card, IBAN, SSN, phone number or street address in any row of a text
    column; a name column under any name when 3 in 10 of its rows are known full names, or under
    a name-like name whatever its values. Not detected: names in scripts without capital
    letters or written in lower case (unless the column is named like a name column),
    single names in free text, addresses without a house number or street type, phone
    numbers in another country's national form (`030 12345678` unless `phone_region: DE`),
    dates of birth stored as numbers (`19840307`).

    Parameters:
    max_findings: highest number of (column, kind) findings allowed (default 0)
    allow_columns: columns declared to hold personal data on purpose (reported, not judged); `model output` for the model's text
    columns: columns to scan (default: every column)
    phone_region: the region (ISO 3166 code, `US`, `GB`, `DE`, ...) phone numbers in national form are read in
    sample: distinct values per column the detectors see (a seeded sample beyond it; counts are then estimated)
    """
    import phonenumbers
    region = phone_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        return CheckResult(status="error", message=f"phone_region {phone_region!r} is not a region libphonenumber "
                                                   "knows: use an ISO 3166 code such as US, GB, DE, FR")
    splits = [d for d in (ctx.train, ctx.test) if d is not None]
    if not splits or all(len(d.frame) == 0 for d in splits):
        return CheckResult(status="error", message="no rows to scan: train and test data are empty")
    missing = sorted({c for c in columns or [] for d in splits if c not in d.frame.columns})
    if missing:
        return CheckResult(status="error", message=f"columns not in the data: {', '.join(missing)}; "
                                                   "name columns of the train/test data in `columns`")
    findings, allowed = [], []
    for data in splits:
        frame = data.frame
        for col in columns or list(frame.columns):
            for row in _column_findings(frame[col], str(col), sample=sample, seed=ctx.seed, region=region):
                row = {"split": data.name, "column": col, **row}
                (allowed if col in allow_columns else findings).append(row)
    if ctx.model is not None and ctx.test is not None:
        findings += _scan_outputs(ctx, allow_columns, region)
    merged: dict[tuple[str, str], dict] = {}
    for f in findings:
        key = (f["column"], f["kind"])
        if key in merged:
            merged[key]["rows"] += f["rows"]
            merged[key]["splits"].append(f["split"])
            merged[key]["estimated"] = merged[key]["estimated"] or f["estimated"]
        else:
            merged[key] = {"column": f["column"], "kind": f["kind"], "rows": f["rows"],
                           "splits": [f["split"]], "samples": f["samples"], "estimated": f["estimated"]}
    table = sorted(merged.values(), key=lambda r: -r["rows"])
    return judge({"findings": float(len(table))}, {"findings": ("<=", float(max_findings))},
                 detail=", ".join(f"{r['column']}: {r['kind']} x{r['rows']}" for r in table[:5]),
                 evidence={"findings": [{**r, "samples": ", ".join(r["samples"]), "splits": ", ".join(r["splits"])}
                                        for r in table],
                           "allowed": [{k: v for k, v in a.items() if k != "samples"} for a in allowed],
                           "seed": ctx.seed})
