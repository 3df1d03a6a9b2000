"""SLOs written as k6 users write thresholds: `p95 < 50ms`, `p(99.9) < 1s`,
`error_rate < 0.1%`, `rps > 150`, `avg < 20ms`, `max < 2s`."""
from __future__ import annotations

import re
from dataclasses import dataclass

#: what latency.load and latency.capacity judge when no `slo:` is given
DEFAULT_SLO = ["p95 < 200ms", "error_rate < 1%"]

_SLO = re.compile(r"^\s*(?P<metric>p\(?\d+(?:\.\d+)?\)?|avg|mean|med|max|min|error_rate|rps)\s*"
                  r"(?P<op><=|>=|<|>)\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|us|%)?\s*$")


@dataclass(frozen=True)
class Slo:
    text: str
    metric: str      # p95 | p99.9 | avg | max | min | error_rate | rps
    op: str
    value: float     # milliseconds for latencies, a fraction for error_rate, per second for rps

    def holds(self, observed: float) -> bool:
        return {"<": observed < self.value, "<=": observed <= self.value,
                ">": observed > self.value, ">=": observed >= self.value}[self.op]


def parse_slo(text: str) -> Slo:
    m = _SLO.match(text)
    if not m:
        raise ValueError(f"SLO {text!r} is not like `p95 < 50ms`, `error_rate < 0.1%` or `rps > 150`")
    metric = m.group("metric").replace("(", "").replace(")", "")
    metric = {"mean": "avg", "med": "p50"}.get(metric, metric)
    value, unit = float(m.group("value")), m.group("unit")
    if metric == "error_rate":
        value = value / 100 if unit == "%" else value
    elif metric == "rps":
        if unit:
            raise ValueError(f"SLO {text!r}: rps takes no unit")
    else:
        if unit == "%":
            raise ValueError(f"SLO {text!r}: a latency needs ms or s")
        value = value * {"s": 1000.0, "us": 0.001}.get(unit or "ms", 1.0)
    return Slo(text=text.strip(), metric=metric, op=m.group("op"), value=value)


def observed(metric: str, stats: dict[str, float]) -> float:
    if metric.startswith("p") and stats.get("requests") == 0:
        return float("nan")  # no answer to take a percentile of: the SLO cannot hold
    if metric.startswith("p"):
        return stats[f"p{metric[1:]}_ms"] if f"p{metric[1:]}_ms" in stats else stats["percentile"](float(metric[1:]))
    return {"avg": stats["mean_ms"], "max": stats["max_ms"], "min": stats["min_ms"],
            "error_rate": stats["error_rate"], "rps": stats["rps"]}[metric]


def judge_slos(slos: list[Slo], stats: dict) -> list[dict]:
    """Each SLO with the observed value and whether it holds (a value that is NaN never holds)."""
    out = []
    for s in slos:
        value = observed(s.metric, stats)
        out.append({"slo": s.text, "observed": value, "holds": bool(value == value and s.holds(value))})
    return out
