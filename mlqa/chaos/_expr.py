"""The two small languages of an experiment file: a verdict (`availability >= 99.9%`,
`time_to_recover <= 30s`, `training_steps_lost <= checkpoint_interval`,
`training_completed == true`) and a stop condition (`success_rate < 90% for 5s`).
Values carry the unit their figure is measured in; a unit that does not fit is an error."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ._catalogue import FIGURES, LIVE

_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
_CMP = re.compile(r"^\s*(?P<name>[a-z][a-z0-9_]*)\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>.+?)\s*$")
_NUM = re.compile(r"^(?P<num>-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*(?P<unit>%|ms|s|m|min)?$")
_FOR = re.compile(r"^(?P<cond>.+?)\s+for\s+(?P<dur>\d+(?:\.\d+)?\s*(?:min|ms|s|m|h)?)\s*$")


class ExprError(ValueError):
    """An expression that cannot be read; the message says what is allowed."""


@dataclass(frozen=True)
class Comparison:
    """`name op value`, where `value` is a number in `name`'s unit, a bool, or another
    figure's name (`other`)."""

    text: str
    name: str
    op: str
    value: float | bool | None
    other: str | None = None
    unit: str = ""

    def holds(self, observed: float | bool | None, other: float | bool | None = None) -> bool | None:
        """True/False, or None when the observed value is missing (NaN/None: not measured)."""
        rhs = other if self.other else self.value
        for v in (observed, rhs):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
        return bool(_OPS[self.op](observed, rhs))

    def show(self, value: float | bool | None) -> str:
        return show_value(value, self.unit)


@dataclass(frozen=True)
class StopCondition:
    text: str
    comparison: Comparison
    for_s: float


def show_value(value: float | bool | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "not measured"
    if isinstance(value, bool) or unit == "bool":
        return str(bool(value)).lower()
    if isinstance(value, float) and math.isinf(value):
        return "never"
    if unit == "fraction":
        return f"{value * 100:.4g}%"
    if unit == "s":
        return f"{value:.3g}s"
    if unit == "ms":
        return f"{value:.4g}ms"
    return f"{value:.4g}"


def _value(raw: str, unit: str, name: str) -> float | bool:
    low = raw.strip().lower()
    if unit == "bool":
        if low in ("true", "false"):
            return low == "true"
        raise ExprError(f"`{name}` is true or false, got `{raw}`")
    m = _NUM.match(low)
    if not m:
        raise ExprError(f"`{raw}` is not a number (with a unit: 99.9%, 500ms, 30s) or a figure's name")
    num, u = float(m.group("num")), m.group("unit")
    if not math.isfinite(num):
        raise ExprError(f"`{raw.strip()}` is not a finite number: a threshold nothing can miss is no threshold")
    if unit == "fraction":
        if u == "%":
            if not 0 <= num <= 100:
                raise ExprError(f"`{name}` is a share between 0% and 100%, got {raw.strip()}")
            return num / 100
        if u:
            raise ExprError(f"`{name}` is a share: write it as a percentage (99.9%) or a fraction (0.999)")
        if not 0 <= num <= 1:
            raise ExprError(f"`{name}` is a share between 0 and 1: did you mean {num:g}%?")
        return num
    if unit in ("s", "ms"):
        if u == "%":
            raise ExprError(f"`{name}` is a duration: write 500ms or 2s")
        seconds = num * {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, None: 1.0 if unit == "s" else 0.001}[u]
        return seconds if unit == "s" else seconds * 1000
    if u:
        raise ExprError(f"`{name}` is a plain number ({unit}): no unit")
    return num


def parse_comparison(text: str, names: dict[str, str], what: str) -> Comparison:
    """`name op value` over `names` (name -> unit)."""
    if not isinstance(text, str):
        raise ExprError(f"a {what} is a string like `availability >= 99.9%`, got {text!r}")
    m = _CMP.match(text)
    if not m:
        raise ExprError(f"`{text}` is not `NAME OP VALUE` (OP one of <, <=, >, >=, ==, !=)")
    name, op, raw = m.group("name"), m.group("op"), m.group("value")
    if name not in names:
        from ..errors import did_you_mean
        hint = did_you_mean(name, names)
        raise ExprError(f"unknown {what} `{name}`" + (f"; {hint}" if hint else f"; known: {', '.join(sorted(names))}"))
    unit = names[name]
    if unit == "bool" and op not in ("==", "!="):
        raise ExprError(f"`{name}` is true or false: compare it with == or !=")
    other = raw.strip()
    if other in names:
        if names[other] != unit:
            raise ExprError(f"`{name}` ({unit}) cannot be compared with `{other}` ({names[other]})")
        return Comparison(text=text.strip(), name=name, op=op, value=None, other=other, unit=unit)
    return Comparison(text=text.strip(), name=name, op=op, value=_value(raw, unit, name), unit=unit)


def parse_verdict(text: str) -> Comparison:
    return parse_comparison(text, {n: f.unit for n, f in FIGURES.items()}, "figure")


def parse_stop(text: str) -> StopCondition:
    """`success_rate < 90% for 5s` (without `for`: the first breach stops)."""
    if not isinstance(text, str):
        raise ExprError(f"a stop condition is a string like `success_rate < 90% for 5s`, got {text!r}")
    m = _FOR.match(text)
    cond, for_s = (m.group("cond"), m.group("dur")) if m else (text, "0s")
    from ..units import parse_duration
    comparison = parse_comparison(cond, {n: u for n, (u, _) in LIVE.items()}, "live measurement")
    return StopCondition(text=text.strip(), comparison=comparison, for_s=parse_duration(for_s))
