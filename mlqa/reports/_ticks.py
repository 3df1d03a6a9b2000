"""Axis ticks a reader can take in at a glance: round steps (1, 2 or 5 times a power of
ten) and short labels (0.05, 1.5k, 2M) instead of the raw data range cut in four
(0.0473, 1.73e+03)."""
from __future__ import annotations

import math

#: suffixes of the compact labels, largest first
_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def nice_step(span: float, intervals: int) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving at most `intervals` intervals
    over `span` (and more than `intervals` / 2.5)."""
    raw = (span if span > 0 else 1.0) / max(intervals, 1)
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw * (1 - 1e-9))


def nice_range(lo: float, hi: float, intervals: int = 5) -> tuple[float, float, float]:
    """[lo, hi] widened to multiples of a round step, and the step. A range of one value
    is padded (10% of it, or 1 around zero); the ends may come in either order."""
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1e-300):
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, intervals)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def nice_ticks(lo: float, hi: float, intervals: int = 5) -> tuple[list[float], float]:
    """The tick values covering [lo, hi] (first <= lo, last >= hi), evenly spaced by a round
    step, at most `intervals` + 3 of them; and the step."""
    a, b, step = nice_range(lo, hi, intervals)
    n = round((b - a) / step)
    # each tick a multiple of the step, rounded to the step's decimals: 0.1 * 3 reads 0.3
    first, digits = round(a / step), max(0, 2 - math.floor(math.log10(step)))
    return [round((first + k) * step, digits) + 0.0 for k in range(n + 1)], step


def tick_label(v: float, step: float, top: float | None = None) -> str:
    """A short label for a tick `v` on an axis stepping by `step` whose largest tick is
    `top` (default: `v`): as many decimals as the step needs, trailing zeros dropped;
    below 10,000 with thousands separators (1,500), from there in k / M / G / T, the same
    unit for every tick of the axis (0, 5k, 10k, 15k)."""
    if not math.isfinite(v):
        return str(v)
    if abs(v) < abs(step) * 1e-6:
        return "0"
    top = abs(v) if top is None else abs(top)
    scale, suffix = 1.0, ""
    if top >= 1e4:
        for size, name in _UNITS:
            if top >= size and abs(step) * 100 >= size:  # a step of 1 on 100,001 keeps its digits
                scale, suffix = size, name
                break
    step_s = abs(step) / scale
    digits = max(0, -math.floor(math.log10(step_s) + 1e-9)) if step_s > 0 else 0
    if digits > 6:  # tiny: scientific, with the significant digits the step needs
        sig = max(1, math.floor(math.log10(abs(v))) - math.floor(math.log10(abs(step)) + 1e-9) + 1)
        return f"{v:.{sig}g}"
    text = f"{v / scale:,.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("0" if text in ("-0", "") else text) + suffix


def tick_labels(ticks: list[float], step: float) -> list[str]:
    """The labels of one axis's ticks, in one unit."""
    top = max((abs(t) for t in ticks), default=0.0)
    return [tick_label(t, step, top) for t in ticks]


def value_label(v: float) -> str:
    """A number shown alone (a limit, a bar's value): 3 significant digits, compact."""
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        return "0"
    mag = 10 ** (math.floor(math.log10(abs(v))) - 2)
    return tick_label(round(v / mag) * mag, mag)
