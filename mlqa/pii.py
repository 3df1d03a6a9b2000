"""Personal data detectors, shared by the `privacy.pii` check and the redaction pass.

What is detected, and by what:

- e-mail addresses, payment card numbers (Luhn-valid), IBANs (checksum-valid), US social
  security numbers and IP addresses (in data only): patterns with checksums, here;
- phone numbers: a loose pattern proposes, Google's libphonenumber (the `phonenumbers`
  package, which Microsoft Presidio's phone recogniser also uses) decides: a number in
  international form (`+44 20 7946 0958`, `+49 30 12345678`, `0049 ...`) must be a valid
  number of its country; one in national form must be a possible number of the default
  region (`DEFAULT_REGION`, US: `(555) 123-4567`, `415.555.0134`) written in groups;
- person names, street addresses and dates of birth, by the column's name and by its
  values: `mlqa._pii_people` (names dictionary: Faker's per-locale person providers);
- columns whose names suggest direct identifiers (`email`, `ssn`, `first`, `last`,
  `name`, `FirstName`, `full_name`, `passport`, ...).

Checksums and validation keep false alarms down: an order number is not a card unless it
passes Luhn, a run of digits is not a phone number unless libphonenumber says it could be
one. `mask` shows what was found without the value itself; `find` locates personal data in
any text (what the redaction pass replaces); `scan_column` says what one column holds and
`personal_columns` which columns of a table hold personal data (both sample distinct
values, so they stay fast on big tables).
"""
from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import _pii_people as people
from ._pii_people import ADDRESS, column_kind, normalise

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "ADDRESS",
    "DEFAULT_REGION",
    "DETECTORS",
    "IDENTIFIER_NAMES",
    "TEXT_KINDS",
    "Finding",
    "card_numbers",
    "column_kind",
    "find",
    "iban_ok",
    "identifier_kind",
    "luhn_ok",
    "mask",
    "matches",
    "personal_columns",
    "phone_ok",
    "scan_column",
    "scan_values",
]

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
#: a candidate phone number: digits in up to eight groups (separated by a space, `.`, `-`,
#: `/` or parentheses), optionally after `+` or `00`; `phone_ok` decides
PHONE = re.compile(r"(?<![\w+.,/-])(?:\+\s?)?(?:\(\d{1,5}\)\s?)?\d{1,15}"
                   r"(?:(?:[ .\-/]|\)\s?|\s?\(|\s?-\s?)\d{1,10}\)?){0,7}(?![\w]|[.,/-]\d)")
#: a phone number as free text writes one (what the redaction pass looks for in reports):
#: groups of digits in the usual shapes; decimals such as `0.0001443 (95%` are not one
TEXT_PHONE = re.compile(r"(?<![\w])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]?\d{3,4}(?![\w])")
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
#: names of columns of direct identifiers, matched against the normalised name
#: (`FirstName` -> `first_name`); person names, addresses and dates of birth are also
#: recognised in other languages' forms by `column_kind`
IDENTIFIER_NAMES = re.compile(r"^(name|names|first|last|fullname|firstname|lastname)$|"
                              r"(^|_)(e_?mail|phone|mobile|telephone|ssn|social_?security|passport|"
                              r"first_?name|last_?name|full_?name|given_?name|family_?name|surname|"
                              r"address|street|zip|postcode|dob|birth_?date|date_of_birth|iban|card_?number|"
                              r"national_?id|ip_?address|license_?number|licence_?number)($|_)")
#: the region a phone number in national form (no `+`) is read in
DEFAULT_REGION = "US"
#: a text that may hold something `find` reports: an @, or nine digits close together
_MAYBE = re.compile(r"@|\d(?:[ ().+/-]{0,2}\d){8}")
_NON_DIGIT = re.compile(r"\D")
_PHONE_MARK = re.compile(r"[+(-]")
_GROUPS = re.compile(r"\d+")
#: a value that any pattern detector could match (the rest skip them)
_CANDIDATE = re.compile(r"[\d@]")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies (one random number in ten does)."""
    total, alt = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """The ISO 13616 mod-97 checksum of an IBAN."""
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


def _card_ok(text: str) -> bool:
    return luhn_ok(_NON_DIGIT.sub("", text))


def phone_ok(text: str, region: str = DEFAULT_REGION) -> bool:
    """Whether `text` (a candidate of `PHONE`) is a phone number, as libphonenumber reads it:
    9 to 15 digits; in international form (`+`, `00`) a valid number of its country; in
    national form a possible number of `region` written in groups (`(555) 123-4567`,
    `555-123-4567`, `415.555.0134`; not `123456789.0`)."""
    digits = _NON_DIGIT.sub("", text)
    if not 9 <= len(digits) <= 15:
        return False
    import phonenumbers
    stripped = text.lstrip()
    international = stripped.startswith(("+", "00"))
    try:
        number = phonenumbers.parse("+" + stripped[2:] if stripped.startswith("00") else stripped,
                                    None if international else region)
    except phonenumbers.NumberParseException:
        return False
    if international:
        return phonenumbers.is_valid_number(number)
    groups = _GROUPS.findall(text)
    shaped = "(" in text or (len(groups) >= 2 and len(groups[-1]) >= 3)
    return shaped and phonenumbers.is_possible_number(number)


def mask(kind: str, value: str) -> str:
    """A form that shows what was found without the value itself (`j***@***.com`,
    `***-**-6789`, `J*** D***`, `## B*** S***`, `19**-**-**`): the samples `privacy.pii`
    reports."""
    if kind == "email":
        user, _, domain = value.partition("@")
        tld = domain.rsplit(".", 1)[-1]
        return f"{user[:1]}***@***.{tld}"
    if kind == "name":
        return people.mask_name(value)
    if kind == "address":
        return people.mask_address(value)
    if kind == "dob":
        return people.mask_date(value)
    digits = _NON_DIGIT.sub("", value)
    if kind == "card":
        return f"**** **** **** {digits[-4:]}" if len(digits) >= 13 else "****"
    if kind == "iban":
        return value.replace(" ", "")[:2] + "** **** **** ****"
    if kind == "ssn":
        return "***-**-" + digits[-4:]
    if kind == "phone":
        return ("+" if value.lstrip().startswith("+") else "") + "*** *** **" + digits[-2:]
    if kind in ("ipv4", "ipv6"):
        return "<ip address>"
    return "<redacted>"


#: (kind, pattern, validator) in the order they claim text: a card number is not also a phone
DETECTORS = (("email", EMAIL, None), ("iban", IBAN, iban_ok), ("card", CARD, _card_ok),
             ("ssn", SSN, None), ("ipv4", IPV4, _ip_ok), ("ipv6", IPV6, _ip_ok),
             ("address", ADDRESS, None), ("phone", PHONE, phone_ok))
#: what the redaction pass looks for in any text of a report (IP addresses are left out:
#: endpoints and servers are named by them; addresses, names and dates of birth are
#: redacted as values of the columns that hold them)
TEXT_KINDS = ("email", "iban", "card", "ssn", "phone")


def _loose_phone(text: str) -> bool:
    return 9 <= len(_NON_DIGIT.sub("", text)) <= 15


def matches(text: str, kinds: tuple[str, ...] | None = None, region: str = DEFAULT_REGION, *,
            strict: bool = True) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of each piece of personal data in `text`, not overlapping. With
    `strict=False` a phone number needs only 9 to 15 digits (what the redaction pass uses:
    in a report, redacting a number too many costs nothing)."""
    claimed: list[tuple[int, int]] = []
    for kind, pattern, valid in DETECTORS:
        if kinds is not None and kind not in kinds:
            continue
        if kind == "phone" and not strict:
            pattern = TEXT_PHONE
        for m in pattern.finditer(text):
            span = m.span()
            if any(a < span[1] and span[0] < b for a, b in claimed):
                continue
            if kind == "card":
                if (span[0] > 0 and text[span[0] - 1] == "+") or text[span[0]] == "0":
                    continue  # an international phone number (`+49...`, `0049...`): no card starts so
                claimed.append(span)  # a long digit run is never also a phone number
            if kind == "phone":
                valid = phone_ok if strict else _loose_phone
            if valid is not None and not (valid(m.group(0), region) if valid is phone_ok else valid(m.group(0))):
                continue
            if kind != "card":
                claimed.append(span)
            yield span[0], span[1], kind


def find(text: str) -> list[tuple[int, int, str]]:
    """Personal data in any text of a report: e-mail, IBAN, card, SSN and phone numbers
    that stand alone (a digit run inside a hex digest or a longer word is not a number).
    In free text a phone number needs a `+`, `(` or `-` (`32 256 1024` is a list of batch
    sizes) and 9 to 15 digits, valid or not; phone numbers of a personal column are redacted
    whatever their form."""
    if not _MAYBE.search(text):
        return []
    out = []
    for start, end, kind in matches(text, TEXT_KINDS, strict=False):
        if kind != "email" and ((start > 0 and text[start - 1].isalnum())
                                or (end < len(text) and text[end].isalnum())):
            continue
        if kind == "phone" and not _PHONE_MARK.search(text, start, end):
            continue
        out.append((start, end, kind))
    return out


def scan_values(values: "pd.Series", region: str = DEFAULT_REGION) -> dict[str, tuple[int, list[str]]]:
    """kind -> (rows with a finding, up to 3 masked samples), by the pattern detectors.
    Scans distinct values once."""
    counts = values.value_counts(dropna=True)
    found: dict[str, tuple[int, list[str]]] = {}
    for value, n in counts.items():
        text = str(value)
        if len(text) < 6:
            continue
        for start, end, kind in matches(text, region=region):
            rows, samples = found.get(kind, (0, []))
            if len(samples) < 3:
                samples = samples + [mask(kind, text[start:end])]
            found[kind] = (rows + int(n), samples)
    return found


def card_numbers(series: "pd.Series", sample: int = 2000) -> bool:
    """An integer column of payment card numbers: 13 to 19 digits and Luhn-valid (nine in
    ten sampled values at least; one random number in ten passes by chance)."""
    import pandas as pd
    if not pd.api.types.is_integer_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return False
    values = series.dropna()
    if values.empty:
        return False
    if len(values) > sample:
        values = values.sample(sample, random_state=0)
    texts = [str(abs(int(v))) for v in values]
    good = sum(1 for t in texts if 13 <= len(t) <= 19 and luhn_ok(t))
    return good >= 0.9 * len(texts)


def identifier_kind(column: str) -> str | None:
    """What a column's name alone says: `name`, `first name`, `address`, `dob` (see
    `column_kind`), `identifier` (another direct identifier: `email`, `ssn`, `passport`,
    ...), or None. `product_name`, `hostname`, `username` are none of these."""
    kind = column_kind(column)
    if kind is not None:
        return kind
    return "identifier" if IDENTIFIER_NAMES.search(normalise(column)) else None


@dataclass(frozen=True)
class Finding:
    """Personal data of one kind in one column: the rows that hold it (estimated from a
    sample of distinct values when `estimated`) and up to 3 masked samples."""

    kind: str
    rows: int
    samples: tuple[str, ...] = ()
    estimated: bool = False


def _sampled(texts: list[str], sample: int, seed: int) -> list[str]:
    if len(texts) <= sample:
        return texts
    import numpy as np
    picked = np.random.default_rng(seed).choice(len(texts), size=sample, replace=False)
    return [texts[i] for i in sorted(picked)]


def _scale(rows: int, seen_rows: int, total_rows: int) -> tuple[int, bool]:
    if seen_rows >= total_rows or seen_rows == 0:
        return rows, False
    return round(rows * total_rows / seen_rows), True


def _date_texts(series: "pd.Series") -> "pd.Series":
    """A datetime column as the texts of its calendar days (None where a time of day is set)."""
    import pandas as pd
    s = pd.to_datetime(series)
    midnight = s == s.dt.normalize()
    return s.dt.strftime("%Y-%m-%d").where(midnight, "")


def scan_column(series: "pd.Series", column: str | None = None, *, sample: int = 2000, seed: int = 0,
                region: str = DEFAULT_REGION) -> dict[str, Finding]:
    """kind -> Finding for what the values of one column hold: the pattern detectors (e-mail,
    IBAN, card, SSN, IP, street address, phone) on every distinct value that has a digit or
    an `@` (a seeded sample of `sample` of them when there are more: the row counts are then
    estimated), and person names and dates of birth judged on the column as a whole (a
    sample of `sample` distinct values; `column`, the column's name, lowers the bar for a
    column named like a name or a date-of-birth column). Integer columns are scanned for
    card numbers; datetime columns for dates of birth."""
    from .tables import kind as column_type
    values = series.dropna()
    if values.empty:
        return {}
    named = column_kind(column) if column is not None else None
    ctype = column_type(values)
    if ctype == "datetime":
        values = _date_texts(values)
    elif ctype not in ("categorical", "boolean") and not card_numbers(values, sample):
        return {}
    counts = values.astype(str).value_counts()
    texts = [str(t) for t in counts.index]
    rows_of = dict(zip(texts, (int(n) for n in counts.to_numpy()), strict=True))
    total = int(counts.sum())
    out: dict[str, Finding] = {}
    # pattern detectors: the distinct values with a digit or an @
    cands = [t for t in texts if len(t) >= 6 and _CANDIDATE.search(t)] if ctype != "datetime" else []
    if cands:
        seen = _sampled(cands, sample, seed)
        seen_rows = sum(rows_of[t] for t in seen)
        all_rows = sum(rows_of[t] for t in cands)
        found: dict[str, tuple[int, list[str]]] = {}
        for text in seen:
            for start, end, kind in matches(text, region=region):
                rows, samples = found.get(kind, (0, []))
                if len(samples) < 3:
                    samples = samples + [mask(kind, text[start:end])]
                found[kind] = (rows + rows_of[text], samples)
        for kind, (rows, samples) in found.items():
            n, est = _scale(rows, seen_rows, all_rows)
            out[kind] = Finding(kind, n, tuple(samples), est)
    seen = _sampled(texts, sample, seed)
    seen_rows = sum(rows_of[t] for t in seen)
    # person names: the column as a whole
    if ctype in ("categorical", "boolean"):
        names = people.name_values(seen, named, [rows_of[t] for t in seen])
        if names:
            n, est = _scale(sum(rows_of[t] for t in names), seen_rows, total)
            out["name"] = Finding("name", n, tuple(mask("name", t) for t in names[:3]), est)
    # dates of birth: the column as a whole
    dates = people.parse_dates(seen)
    if sum(d is not None for d in dates) and people.birth_dates(dates, named=named == "dob"):
        dated = [t for t, d in zip(seen, dates, strict=True) if d is not None]
        n, est = _scale(sum(rows_of[t] for t in dated), seen_rows, total)
        out["dob"] = Finding("dob", n, tuple(mask("dob", t) for t in dated[:3]), est)
    return out


def personal_columns(frame: "pd.DataFrame", sample: int = 2000) -> dict[str, str]:
    """column -> kind for the columns of `frame` that hold personal data: the kind
    `scan_column` finds in most rows (e-mail, card, phone, name, address, dob, ...; a
    sample of up to `sample` distinct values), else, for columns whose names suggest a
    direct identifier (`identifier_kind`), `identifier`."""
    out: dict[str, str] = {}
    for col in frame.columns:
        found = scan_column(frame[col], str(col), sample=sample)
        if found:
            kinds = Counter({k: f.rows for k, f in found.items()})
            out[str(col)] = kinds.most_common(1)[0][0]
        elif identifier_kind(str(col)) is not None:
            out[str(col)] = "identifier"
    return out
