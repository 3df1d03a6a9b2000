"""The `prometheus` probe's small expression language over a scraped `/metrics` endpoint:

    mlqa_gateway_healthy_replicas{zone="zone-a"} >= 1          instant value (summed over series)
    rate(mlqa_gateway_requests_total{status="503"}[5s]) < 1     per second, over the window
    increase(mlqa_gateway_retries_total[10s]) <= 50             increase over the window
    histogram_quantile(0.99, mlqa_gateway_request_seconds[10s]) < 0.5

The window is computed from the probe's own scrapes (it keeps them for the longest window);
a counter reset (a restarted process) counts from zero, as Prometheus does."""
from __future__ import annotations

import itertools
import math
import re
from collections import deque
from dataclasses import dataclass

_SEL = r"(?P<metric>[a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(?P<labels>[^}]*)\})?"
_WIN = r"\[\s*(?P<window>\d+(?:\.\d+)?)\s*(?P<wunit>ms|s|m)\s*\]"
_FORMS = [
    ("hq", re.compile(rf"^histogram_quantile\(\s*(?P<q>0?\.\d+|1(?:\.0+)?|0)\s*,\s*{_SEL}\s*(?:{_WIN})?\s*\)$")),
    ("rate", re.compile(rf"^rate\(\s*{_SEL}\s*{_WIN}\s*\)$")),
    ("increase", re.compile(rf"^increase\(\s*{_SEL}\s*{_WIN}\s*\)$")),
    ("value", re.compile(rf"^{_SEL}$")),
]
_CMP = re.compile(r"^(?P<lhs>.+?)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<rhs>-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=|!=)\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class PromError(ValueError):
    """An expression that cannot be read, or a scrape that cannot be parsed."""


@dataclass(frozen=True)
class PromExpr:
    text: str
    form: str                          # value | rate | increase | hq
    metric: str
    labels: tuple[tuple[str, str, str], ...]   # (name, = or !=, value)
    window_s: float | None
    quantile: float | None
    op: str
    bound: float

    def matches(self, labels: dict[str, str]) -> bool:
        # a missing label is the empty string, as in Prometheus (`{zone=""}` matches it)
        return all((labels.get(k, "") == v) == (op == "=") for k, op, v in self.labels)


def parse_expr(text: str) -> PromExpr:
    m = _CMP.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise PromError(f"`{text}` is not `EXPRESSION OP NUMBER` (e.g. `rate(m_total[5s]) < 1`)")
    lhs = m.group("lhs").strip()
    for form, rx in _FORMS:
        f = rx.match(lhs)
        if f:
            break
    else:
        raise PromError(f"`{lhs}` is not a metric selector, rate(...[W]), increase(...[W]) or "
                        f"histogram_quantile(Q, ...[W])")
    labels = []
    raw = f.group("labels") or ""
    pos = 0
    while pos < len(raw.strip()):
        lm = _LABEL.match(raw, pos)
        if not lm:
            raise PromError(f"label matchers `{{{raw}}}` are not like {{status=\"503\", zone!=\"a\"}}")
        labels.append((lm.group(1), lm.group(2), lm.group(3)))
        pos = lm.end()
    window = None
    if f.groupdict().get("window"):
        window = float(f.group("window")) * {"ms": 0.001, "s": 1.0, "m": 60.0}[f.group("wunit")]
        if window <= 0:
            raise PromError("a window must be above zero")
    q = float(f.group("q")) if form == "hq" else None
    return PromExpr(text=text.strip(), form=form, metric=f.group("metric"), labels=tuple(labels), window_s=window,
                    quantile=q, op=m.group("op"), bound=float(m.group("rhs")))


def parse_scrape(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of a Prometheus text exposition: (name, labels, value)."""
    from prometheus_client.parser import text_string_to_metric_families
    try:
        return [(s.name, dict(s.labels), float(s.value)) for fam in text_string_to_metric_families(text)
                for s in fam.samples]
    except Exception as exc:  # noqa: BLE001 - the parser raises plain ValueError/IndexError on junk
        raise PromError(f"not a Prometheus exposition: {exc}") from None


class Series:
    """The scrapes of one endpoint, kept for the longest window an expression needs."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self.scrapes: deque[tuple[float, list]] = deque()

    def add(self, at: float, samples: list) -> None:
        self.scrapes.append((at, samples))
        while len(self.scrapes) > 2 and self.scrapes[1][0] < at - self.keep_s:
            self.scrapes.popleft()

    def evaluate(self, e: PromExpr) -> float:
        """The expression's value now (NaN when there is not enough data yet)."""
        if not self.scrapes:
            return float("nan")
        now, last = self.scrapes[-1]
        if e.form == "value":
            vals = [v for n, lab, v in last if n == e.metric and e.matches(lab)]
            return sum(vals) if vals else float("nan")
        if e.form in ("rate", "increase"):
            first = self._at(now - (e.window_s or 0))
            if first is None:
                return float("nan")
            t0 = first[0]
            span = self._since(t0)      # every scrape: a reset between two of them is not lost
            inc = sum(_increase(a, b, e.metric, e) for (_, a), (_, b) in itertools.pairwise(span))
            if e.form == "increase":
                return inc
            return inc / (now - t0) if now > t0 else float("nan")
        # histogram_quantile over the buckets' increase in the window (cumulative without one)
        name = e.metric if e.metric.endswith("_bucket") else e.metric + "_bucket"
        if e.window_s:
            first = self._at(now - e.window_s)
            if first is None:
                return float("nan")
            span = self._since(first[0])
            buckets: dict[float, float] = {}
            for (_, a), (_, b) in itertools.pairwise(span):
                for le, v in _bucket_increase(a, b, name, e).items():
                    buckets[le] = buckets.get(le, 0.0) + v
        else:
            buckets = _bucket_increase([], last, name, e)
        return _quantile(e.quantile or 0.0, buckets)

    def _since(self, t0: float) -> list[tuple[float, list]]:
        return [s for s in self.scrapes if s[0] >= t0]

    def _at(self, t: float) -> tuple[float, list] | None:
        """The newest scrape at or before `t`, or the oldest one when the history is short
        but spans at least two scrapes."""
        chosen = None
        for at, samples in self.scrapes:
            if at <= t + 1e-9:
                chosen = (at, samples)
        if chosen is None and len(self.scrapes) >= 2:
            chosen = self.scrapes[0]
        if chosen is None or chosen[0] == self.scrapes[-1][0]:
            return None
        return chosen


def _key(labels: dict[str, str], drop: str = "") -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if k != drop))


def _increase(old: list, new: list, metric: str, e: PromExpr) -> float:
    names = {metric, metric + "_total"} if not metric.endswith("_total") else {metric}
    before = {(n, _key(lab)): v for n, lab, v in old if n in names and e.matches(lab)}
    total = 0.0
    for n, lab, v in new:
        if n in names and e.matches(lab):
            prev = before.get((n, _key(lab)), 0.0)
            total += v - prev if v >= prev else v        # a reset: the counter restarted from zero
    return total


def _bucket_increase(old: list, new: list, name: str, e: PromExpr) -> dict[float, float]:
    before = {_key(lab): v for n, lab, v in old if n == name and e.matches(lab)}
    out: dict[float, float] = {}
    for n, lab, v in new:
        if n == name and e.matches(lab):
            prev = before.get(_key(lab), 0.0)
            le = float(lab.get("le", "inf").replace("+Inf", "inf"))
            out[le] = out.get(le, 0.0) + (v - prev if v >= prev else v)
    return out


def _quantile(q: float, buckets: dict[float, float]) -> float:
    """Prometheus's histogram_quantile: linear interpolation inside the bucket."""
    if not buckets:
        return float("nan")
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if not math.isinf(bounds[-1]) or not all(math.isfinite(c) for c in buckets.values()) or not total > 0:
        return float("nan")      # no +Inf bucket, a NaN count, or nothing observed: not measured
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for b in bounds:
        c = buckets[b]
        if c >= rank:
            if math.isinf(b):
                return prev_bound
            if c == prev_count:
                return b
            return prev_bound + (b - prev_bound) * (rank - prev_count) / (c - prev_count)
        prev_bound, prev_count = b, c
    return float("nan")          # counts that are not cumulative: not a histogram


def holds(e: PromExpr, value: float) -> bool | None:
    if value != value:
        return None
    return {"<": value < e.bound, "<=": value <= e.bound, ">": value > e.bound, ">=": value >= e.bound,
            "==": value == e.bound, "!=": value != e.bound}[e.op]
