"""Personal data detectors, shared by the `privacy.pii` check and the redaction pass.

What is detected: e-mail addresses, payment card numbers (Luhn-valid), IBANs
(checksum-valid), US social security numbers, phone numbers, IP addresses (in data only),
and columns whose names suggest direct identifiers. Checksums keep false alarms down: an
order number is not a card unless it passes Luhn. `mask` shows what was found without the
value itself; `find` locates personal data in any text (what the redaction pass replaces);
`personal_columns` says which columns of a table hold it (sampled, so it stays fast on big
tables).
"""
from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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
#: a text that may hold something `find` reports: an @, or nine digits close together
_MAYBE = re.compile(r"@|\d(?:[ ().+-]{0,2}\d){8}")
_NON_DIGIT = re.compile(r"\D")
_PHONE_MARK = re.compile(r"[+(-]")


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


def _phone_ok(text: str) -> bool:
    return 9 <= len(_NON_DIGIT.sub("", text)) <= 15


def mask(kind: str, value: str) -> str:
    """A form that shows what was found without the value itself (`j***@***.com`,
    `***-**-6789`): the samples `privacy.pii` reports."""
    if kind == "email":
        user, _, domain = value.partition("@")
        tld = domain.rsplit(".", 1)[-1]
        return f"{user[:1]}***@***.{tld}"
    digits = _NON_DIGIT.sub("", value)
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


#: (kind, pattern, validator) in the order they claim text: a card number is not also a phone
DETECTORS = (("email", EMAIL, None), ("iban", IBAN, iban_ok), ("card", CARD, _card_ok),
             ("ssn", SSN, None), ("ipv4", IPV4, _ip_ok), ("ipv6", IPV6, _ip_ok), ("phone", PHONE, _phone_ok))
#: what the redaction pass looks for in any text of a report (IP addresses are left out:
#: endpoints and servers are named by them)
TEXT_KINDS = ("email", "iban", "card", "ssn", "phone")


def matches(text: str, kinds: tuple[str, ...] | None = None) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of each piece of personal data in `text`, not overlapping."""
    claimed: list[tuple[int, int]] = []
    for kind, pattern, valid in DETECTORS:
        if kinds is not None and kind not in kinds:
            continue
        for m in pattern.finditer(text):
            span = m.span()
            if any(a < span[1] and span[0] < b for a, b in claimed):
                continue
            if kind == "card":
                claimed.append(span)  # a long digit run is never also a phone number
            if valid is not None and not valid(m.group(0)):
                continue
            if kind != "card":
                claimed.append(span)
            yield span[0], span[1], kind


def find(text: str) -> list[tuple[int, int, str]]:
    """Personal data in any text of a report: e-mail, IBAN, card, SSN and phone numbers
    that stand alone (a digit run inside a hex digest or a longer word is not a number).
    In free text a phone number needs a `+`, `(` or `-` (`32 256 1024` is a list of batch
    sizes); phone numbers of a personal column are redacted whatever their form."""
    if not _MAYBE.search(text):
        return []
    out = []
    for start, end, kind in matches(text, TEXT_KINDS):
        if kind != "email" and ((start > 0 and text[start - 1].isalnum())
                                or (end < len(text) and text[end].isalnum())):
            continue
        if kind == "phone" and not _PHONE_MARK.search(text, start, end):
            continue
        out.append((start, end, kind))
    return out


def scan_values(values: "pd.Series") -> dict[str, tuple[int, list[str]]]:
    """kind -> (rows with a finding, up to 3 masked samples). Scans distinct values once."""
    counts = values.value_counts(dropna=True)
    found: dict[str, tuple[int, list[str]]] = {}
    for value, n in counts.items():
        text = str(value)
        if len(text) < 6:
            continue
        for start, end, kind in matches(text):
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


def personal_columns(frame: "pd.DataFrame", sample: int = 2000) -> dict[str, str]:
    """column -> kind for the columns of `frame` that hold personal data: text columns where
    a detector finds something in a sample of up to `sample` distinct values (the kind found
    most), integer columns of card numbers, and columns named like direct identifiers
    (kind `identifier`)."""
    from .tables import is_categorical
    out: dict[str, str] = {}
    for col in frame.columns:
        s = frame[col]
        if is_categorical(s):
            distinct = s.dropna().astype(str).drop_duplicates()  # (str first: lists are unhashable)
            if len(distinct) > sample:
                distinct = distinct.sample(sample, random_state=0)
            kinds: Counter[str] = Counter()
            for text in distinct:
                if len(text) >= 6:
                    kinds.update(kind for _, _, kind in matches(text))
            if kinds:
                out[str(col)] = kinds.most_common(1)[0][0]
        elif card_numbers(s, sample):
            out[str(col)] = "card"
        if str(col) not in out and IDENTIFIER_NAMES.search(str(col)):
            out[str(col)] = "identifier"
    return out
