"""Judging and formatting shared by every check (built-in, plugin or chaos experiment):
metrics against declared bounds into a `CheckResult` with a readable message, numbers as
reports print them, and the chart specs report.html draws."""
from __future__ import annotations

import math
from typing import Any

from .reports import fmt  # noqa: F401 - re-exported: checks format numbers with it
from .results import CheckResult

Limit = tuple[str, float | None]  # (operator "<=" or ">=", bound; None = not judged)


def judge(metrics: dict[str, float], limits: dict[str, Limit | list[Limit]], *,
          evidence: dict | None = None, detail: str = "") -> CheckResult:
    """`failed` when any judged metric is outside its bound; `error` when a judged metric
    could not be computed (NaN): a check never passes on a number it does not have.

    `limits` maps a metric to one (operator, bound) pair or a list of them (a range)."""
    pairs = [(name, op, bound) for name, lim in limits.items()
             for op, bound in (lim if isinstance(lim, list) else [lim]) if bound is not None]
    thresholds: dict[str, str] = {}
    for name, op, bound in pairs:
        text = f"{op} {fmt(bound)}"
        thresholds[name] = f"{thresholds[name]}, {text}" if name in thresholds else text
    violations, missing = [], []
    for name, op, bound in pairs:
        value = metrics.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            if name not in missing:
                missing.append(name)
            continue
        ok = value <= bound if op == "<=" else value >= bound
        if not ok:
            word = "above" if op == "<=" else "below"
            violations.append(f"{name} = {fmt(value)}, {word} the limit {fmt(bound)}")
    tail = f" — {detail}" if detail else ""
    if missing:
        return CheckResult(status="error", metrics=metrics, thresholds=thresholds,
                           evidence=evidence or {},
                           message=f"could not compute {', '.join(missing)}{tail}")
    if violations:
        return CheckResult(status="failed", metrics=metrics, thresholds=thresholds,
                           evidence=evidence or {}, message="; ".join(violations) + tail)
    shown = ", ".join(f"{n} = {fmt(metrics[n])} ({thresholds[n]})" for n in thresholds)
    return CheckResult(status="passed", metrics=metrics, thresholds=thresholds,
                       evidence=evidence or {}, message=(shown or "no limits set") + tail)


def bar_chart(title: str, labels: list, values: list, *, threshold: float | None = None,
              y_label: str = "") -> dict:
    return {"type": "bar", "title": title, "x": [str(v) for v in labels],
            "y": [None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v) for v in values],
            "threshold": threshold, "y_label": y_label}


def line_chart(title: str, series: list[dict], *, x_label: str = "", y_label: str = "",
               diagonal: bool = False) -> dict:
    return {"type": "line", "title": title, "series": series, "x_label": x_label,
            "y_label": y_label, "diagonal": diagonal}


def timeline_chart(title: str, t: list, series: list[dict], bands: list[dict] | None = None) -> dict:
    """Series sampled over time, drawn as panels stacked on one shared x axis (seconds from
    the start), with shaded bands for time spans (a fault injected, say).

    `t`: seconds from the start; `series`: [{"name", "unit", "y": [value or None per t]}]
    (None, or NaN, leaves a gap); `bands`: [{"from": s, "to": s, "label": str}]."""
    def num(v: Any) -> float | None:
        if isinstance(v, bool):
            return float(v)
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    return {"type": "timeline", "title": title, "t": [num(v) for v in t],
            "series": [{"name": str(s.get("name", "")), "unit": str(s.get("unit") or ""),
                        "y": [num(v) for v in s.get("y", [])]} for s in series],
            "bands": [{"from": num(b.get("from")), "to": num(b.get("to")), "label": str(b.get("label", ""))}
                      for b in (bands or [])]}
