"""The redaction pass: personal data never reaches a report, a log line or the console.

Every check may put data values in its evidence — a schema check lists unseen categories,
a slice check names its slices, a robustness check says what it filled a column with — so
redaction is not a courtesy of `privacy.pii` but one pass over every result (message,
metric and threshold names, evidence keys and values, chart labels) and over the
decision's reasons and notes, before any report is written. It replaces

- every value of a personal column — one `data.personal` declares, one the detectors of
  `mlqa.pii` find in the train/test data, or one `privacy.pii` reported — wherever it
  appears in a string (whole, or inside one: `email=jane@x.org`), and as a number when the
  column holds numbers (a card number as the maximum of a range);
- whatever the detectors find in any string: e-mail addresses, Luhn-valid card numbers,
  checksum-valid IBANs, US social security numbers, phone numbers;

with `<redacted:KIND>` (KIND: the detector's, else the column's name). Metric values,
counts and every other number stay as they are. The pass is pure (results in, new
results out) and linear in the size of the evidence: a value is found by a dictionary
lookup of the word it starts with, never by trying every value at every position.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import pii
from .results import CheckResult, Decision, GatedCheck

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .context import CheckContext
    from .session import RunOutcome

#: values shorter than this identify no one on their own (and would redact common words)
MIN_LENGTH = 3
#: numbers (in evidence) are compared with personal values from this many digits on
MIN_NUMBER_DIGITS = 6
_WORD = re.compile(r"\w+")
_KIND = re.compile(r"[^\w.-]+")
#: the id of `privacy.pii` (and of its named instances, `privacy.pii[train]`)
PII_CHECK = re.compile(r"privacy\.pii(\[.*\])?$")


def token(kind: str) -> str:
    """What a redacted piece of text becomes."""
    return f"<redacted:{kind}>"


@dataclass(frozen=True)
class Redactor:
    """Replaces personal data in results and decisions.

    `values` maps each personal value (as text) to its kind; `index` maps the first word of
    each value to the (offset of that word in the value, length of the value) pairs, so a
    text is scanned word by word with one dictionary lookup each. Build one with `of`
    (from values) or `build_redactor` (from the data)."""

    values: Mapping[str, str] = field(default_factory=dict)
    index: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict, repr=False)
    detect: bool = True

    @classmethod
    def of(cls, values: Mapping[str, str], *, detect: bool = True) -> "Redactor":
        """A redactor for these personal values (text -> kind) and, with `detect`, for what
        the detectors find."""
        kept: dict[str, str] = {}
        index: dict[str, set[tuple[int, int]]] = {}
        for value, kind in values.items():
            if len(value) < MIN_LENGTH:
                continue
            kept[value] = kind
            m = _WORD.search(value)
            if m is not None:
                index.setdefault(m.group(), set()).add((m.start(), len(value)))
        return cls(values=kept, detect=detect,
                   index={w: tuple(sorted(s, key=lambda p: -p[1])) for w, s in index.items()})

    # ------------------------------------------------------------------ one string
    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, kind) of the personal data in `text`, not overlapping."""
        found: list[tuple[int, int, str]] = []
        if self.index:
            for m in _WORD.finditer(text):
                for offset, length in self.index.get(m.group(), ()):
                    start = m.start() - offset
                    end = start + length
                    if start < 0 or end > len(text):
                        continue
                    kind = self.values.get(text[start:end])
                    if kind is not None and _bounded(text, start, end):
                        found.append((start, end, kind))
                        break
        if self.detect:
            found += pii.find(text)
        if len(found) < 2:
            return found
        found.sort(key=lambda s: (s[0], -s[1]))
        out: list[tuple[int, int, str]] = []
        for span in found:
            if not out or span[0] >= out[-1][1]:
                out.append(span)
        return out

    def text(self, text: str) -> str:
        """`text` with every piece of personal data replaced by `<redacted:KIND>`."""
        kind = self.values.get(text)
        if kind is not None:
            return token(kind)
        spans = self.spans(text)
        if not spans:
            return text
        parts, at = [], 0
        for start, end, kind in spans:
            parts += [text[at:start], token(kind)]
            at = end
        parts.append(text[at:])
        return "".join(parts)

    # ------------------------------------------------------------------ trees, results, decisions
    def tree(self, obj: Any) -> Any:
        """A JSON-like tree (dicts, lists, strings, numbers) with its strings and dict keys
        redacted, and numbers that are personal values replaced."""
        return _Pass(self).tree(obj)

    def result(self, result: CheckResult) -> CheckResult:
        return _Pass(self).result(result)

    def decision(self, decision: Decision) -> Decision:
        return _Pass(self).decision(decision)


def _bounded(text: str, start: int, end: int) -> bool:
    """A value found inside a longer text starts and ends at a word boundary ("Jane Roe"
    is not found in "Jane Roeland")."""
    glued_before = start > 0 and text[start].isalnum() and text[start - 1].isalnum()
    glued_after = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return not (glued_before or glued_after)


class _Pass:
    """One redaction pass: remembers each string it redacted (repeated labels cost one
    lookup) and numbers the dict keys that redact alike (`<redacted:email> #2`), by their
    original text, so that metrics and thresholds keep naming the same things."""

    def __init__(self, redactor: Redactor) -> None:
        self.r = redactor
        self.memo: dict[str, str] = {}
        self.keys: dict[str, dict[str, int]] = {}
        self.results: dict[int, tuple[CheckResult, CheckResult]] = {}

    def text(self, text: str) -> str:
        out = self.memo.get(text)
        if out is None:
            out = self.memo[text] = self.r.text(text)
        return out

    def key(self, key: Any) -> Any:
        if not isinstance(key, str):
            return key
        out = self.text(key)
        if out == key:
            return key
        seen = self.keys.setdefault(out, {})
        n = seen.setdefault(key, len(seen) + 1)
        return out if n == 1 else f"{out} #{n}"

    def number(self, value: Any) -> Any:
        if not self.r.values or isinstance(value, bool):
            return value
        if isinstance(value, float):
            if not value.is_integer() or abs(value) >= 1e19:
                return value
            text = str(int(value))
        else:
            text = str(value)
        if len(text.lstrip("-")) < MIN_NUMBER_DIGITS:
            return value
        kind = self.r.values.get(text)
        return value if kind is None else token(kind)

    def tree(self, obj: Any) -> Any:
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {self.key(k): self.tree(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.tree(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.tree(v) for v in obj)
        if isinstance(obj, (int, float)):
            return self.number(obj)
        if hasattr(obj, "tolist") and callable(obj.tolist):  # numpy scalars and arrays
            return self.tree(obj.tolist())
        return obj

    def result(self, result: CheckResult) -> CheckResult:
        done = self.results.get(id(result))
        if done is not None and done[0] is result:
            return done[1]
        out = dataclasses.replace(
            result, message=self.text(result.message),
            metrics={self.key(k): v for k, v in result.metrics.items()},
            thresholds={self.key(k): self.text(v) if isinstance(v, str) else v
                        for k, v in result.thresholds.items()},
            evidence=self.tree(result.evidence))
        self.results[id(result)] = (result, out)
        return out

    def gated(self, gated: GatedCheck) -> GatedCheck:
        return dataclasses.replace(gated, result=self.result(gated.result), note=self.text(gated.note))

    def decision(self, decision: Decision) -> Decision:
        return dataclasses.replace(decision, reasons=tuple(self.text(r) for r in decision.reasons),
                                   notes=tuple(self.text(n) for n in decision.notes),
                                   checks=tuple(self.gated(g) for g in decision.checks))


# ---------------------------------------------------------------- from the data
def _kind_of(column: str, kind: str | None) -> str:
    if kind and kind != "identifier":
        return kind
    return _KIND.sub("_", column).strip("_")[:40] or "personal"


def _texts(series: "pd.Series") -> Iterable[str]:
    """Each distinct value of a column as text, as checks write it (`str(v)`; integral
    floats also without their `.0`)."""
    import pandas as pd
    series = series.dropna()
    if pd.api.types.is_float_dtype(series.dtype):
        for v in pd.unique(series):
            yield str(v)
            if float(v).is_integer():
                yield str(int(v))
    else:
        yield from pd.unique(series.astype(str))


def pii_columns(results: Iterable[CheckResult]) -> set[str]:
    """The columns `privacy.pii` reported, found or allowed."""
    out: set[str] = set()
    for r in results:
        if PII_CHECK.match(r.id or ""):
            for row in list(r.evidence.get("findings") or []) + list(r.evidence.get("allowed") or []):
                if isinstance(row, dict) and isinstance(row.get("column"), str):
                    out.add(row["column"])
    return out


def build_redactor(frames: Sequence["pd.DataFrame"], *, personal: Iterable[str] = (),
                   results: Iterable[CheckResult] = (), sample: int = 2000) -> Redactor:
    """A redactor for the personal columns of `frames`: those `personal` names (the
    config's `data.personal`), those `privacy.pii` reported in `results`, and those the
    detectors find in a sample of up to `sample` distinct values per column. Detection
    samples; collection does not: every value of a personal column is redacted."""
    declared = set(personal) | pii_columns(results)
    values: dict[str, str] = {}
    for frame in frames:
        kinds = pii.personal_columns(frame, sample=sample)
        for col in frame.columns:
            name = str(col)
            if name not in kinds and name not in declared:
                continue
            kind = _kind_of(name, kinds.get(name))
            for text in _texts(frame[col]):
                values.setdefault(text, kind)
    return Redactor.of(values)


def context_redactor(ctx: "CheckContext | None", *, personal: Iterable[str] = (),
                     results: Iterable[CheckResult] = ()) -> Redactor:
    """The redactor of a run: from its train/test data (when its context was loaded), the
    declared personal columns and what `privacy.pii` reported; detectors only without data.
    Built once per context and set of columns (a front door may redact each result as it
    prints it)."""
    declared = tuple(sorted(set(personal) | pii_columns(results)))
    if ctx is None:
        return build_redactor([], personal=declared)
    frames = [d.frame for d in (ctx.train, ctx.test) if d is not None]
    return ctx.memo(("mlqa.redact", declared), lambda: build_redactor(frames, personal=declared))


def redact_outcome(outcome: "RunOutcome", ctx: "CheckContext | None" = None) -> "RunOutcome":
    """The outcome of a run with its results, decision and verdict redacted (one pass:
    the same value is redacted alike everywhere)."""
    config = outcome.config
    personal = tuple(getattr(getattr(config, "data", None), "personal", ()) or ())
    one = _Pass(context_redactor(ctx, personal=personal, results=outcome.results))
    verdict = one.decision(outcome.verdict)
    decision = verdict if outcome.decision is outcome.verdict else (
        one.decision(outcome.decision) if outcome.decision is not None else None)
    return dataclasses.replace(outcome, results=tuple(one.result(r) for r in outcome.results),
                               verdict=verdict, decision=decision)
