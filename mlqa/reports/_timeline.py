"""The timeline chart: series sampled over time, one panel each on a shared x axis, with
shaded, numbered bands for time spans (a fault injected, a recovery)."""
from __future__ import annotations

import math
from html import escape
from typing import Any

from ._text import clean
from ._ticks import nice_range as _nice_range
from ._ticks import tick_label as _tick_text

W, PAD_L, PAD_R = 560, 52, 12


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not math.isnan(v) else None


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


#: timeline layout: panel header (its name and unit) and plot height, gap between panels
TL_HEAD, TL_PLOT, TL_GAP = 16, 54, 10
#: series colours (the report's .s0-.s3) and band fills, also as attributes for the SVG alone
SERIES_COLOURS = ("#0969da", "#bf3989", "#1a7f37", "#9a6700")
BAND_COLOURS = ("#cf222e", "#8250df", "#bc4c00", "#1b7c83")


#: a timeline's values are clamped to this magnitude, so that scales and ticks stay finite
TL_MAX = 1e15


def _finite(v: Any) -> float | None:
    x = _num(v)
    return min(max(x, -TL_MAX), TL_MAX) if x is not None and math.isfinite(x) else None


def _esc(text: Any) -> str:
    """Text for the SVG: escaped, and without what XML cannot carry (report.html cleans
    its whole document first; a chart rendered alone is as safe)."""
    return escape(clean(str(text)))


def _runs(points: list[tuple[float | None, float | None]]) -> list[list[tuple[float, float]]]:
    """The points split where a value is missing: one list per unbroken stretch."""
    out: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if x is None or y is None:
            if out[-1]:
                out.append([])
        else:
            out[-1].append((x, y))
    return [r for r in out if r]


def timeline(spec: dict[str, Any]) -> str:
    """One panel per series, stacked on a shared x axis (seconds from the start), each with
    its own y axis; the bands shaded across every panel, numbered, and listed in a legend."""
    ts = [_finite(v) for v in spec.get("t") or []]
    series = [s for s in spec.get("series") or [] if isinstance(s, dict)]
    bands = []
    for b in spec.get("bands") or []:
        if isinstance(b, dict) and _finite(b.get("from")) is not None:
            a = _finite(b.get("from"))
            z = _finite(b.get("to"))
            z = a if z is None else z
            bands.append((min(a, z), max(a, z), str(b.get("label", ""))))
    xs = [v for v in ts if v is not None] + [v for a, z, _ in bands for v in (a, z)]
    xlo, xhi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    xlo = min(xlo, 0.0) if xlo >= -1e-9 else xlo
    xlo, xhi, xstep = _nice_range(xlo, xhi, 6)
    sx = _scale(xlo, xhi, PAD_L, W - PAD_R)
    top = 26 + (16 if bands else 0)
    panels = series or [{"name": "", "unit": "", "y": []}]
    bottom = top + len(panels) * (TL_HEAD + TL_PLOT + TL_GAP) - TL_GAP
    height = bottom + 34 + 15 * len(bands) + 4
    parts: list[str] = []
    # the bands first, under the lines: one rectangle across every panel, numbered on top
    for i, (a, z, label) in enumerate(bands):
        colour = BAND_COLOURS[i % len(BAND_COLOURS)]
        x0, x1 = sx(max(a, xlo)), sx(min(z, xhi))
        text = _esc(label)
        parts.append(f'<rect x="{x0:.1f}" y="{top - 2}" width="{max(x1 - x0, 1.0):.1f}" '
                     f'height="{bottom - top + 2}" class="band b{i % 4}" fill="{colour}" fill-opacity="0.14">'
                     f'<title>{text}: {a:.4g}-{z:.4g} s</title></rect>')
        # its number, and its label too where the band is wide enough to hold it (about 5 px a character)
        tag = f"{i + 1} {label}" if len(label) * 5 + 14 < x1 - x0 else f"{i + 1}"
        parts.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{top - 6}" text-anchor="middle" class="btag" '
                     f'font-size="9" fill="{colour}">{_esc(tag)}</text>')
    # x grid and ticks, shared by every panel
    nx = round((xhi - xlo) / xstep)
    for k in range(nx + 1):
        v = xlo + k * xstep
        x = sx(v)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" stroke="#d0d7de" '
                     f'stroke-width="0.5" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{bottom + 12}" text-anchor="middle" class="tick" '
                     f'font-size="9">{_tick_text(v, xstep, max(abs(xlo), abs(xhi)))}</text>')
    parts.append(f'<text x="{(W + PAD_L) / 2:.0f}" y="{bottom + 26}" text-anchor="middle" class="tick" '
                 f'font-size="9">seconds from start</text>')
    for i, s in enumerate(panels):
        parts.append(_panel(i, s, ts, sx, top + i * (TL_HEAD + TL_PLOT + TL_GAP)))
    # the legend: each band's number, colour, label and span
    for i, (a, z, label) in enumerate(bands):
        y = bottom + 34 + 15 * i
        colour = BAND_COLOURS[i % len(BAND_COLOURS)]
        parts.append(f'<rect x="{PAD_L}" y="{y - 8}" width="10" height="10" class="swatch" fill="{colour}" '
                     f'fill-opacity="0.35"/>')
        parts.append(f'<text x="{PAD_L + 15}" y="{y + 1}" class="tick legend" font-size="9">{i + 1}. '
                     f'{_esc(label)} ({a:.4g}-{z:.4g} s)</text>')
    title = _esc(str(spec.get("title", "")))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="100%" '
            f'preserveAspectRatio="xMinYMin meet" role="img" aria-label="{title}" class="chart timeline">'
            f'<text x="{PAD_L}" y="16" class="ttl" font-size="12" font-weight="600">{title}</text>'
            f'{"".join(parts)}</svg>')


def _panel(i: int, s: dict[str, Any], ts: list[float | None], sx, y0: float) -> str:
    """One series' panel: its name and unit, its own rounded y axis, its line with gaps."""
    name, unit = str(s.get("name", "")), str(s.get("unit") or "")
    ys = [_finite(v) for v in s.get("y") or []]
    pts = list(zip(ts, ys))
    vals = [y for x, y in pts if x is not None and y is not None]
    ptop, pbot = y0 + TL_HEAD, y0 + TL_HEAD + TL_PLOT
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    if 0 < lo <= hi * 0.5:
        lo = 0.0  # a positive series spread over half its top or more reads from zero
    lo, hi, step = _nice_range(lo, hi, 2)
    if vals and step < 1 and all(v == int(v) for v in vals):  # counts: whole-number ticks
        lo, hi, step = math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1), 1.0
    sy = _scale(lo, hi, pbot, ptop)
    colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
    label = _esc(name) + (f" ({_esc(unit)})" if unit else "")
    out = [f'<g class="panel" data-series="{_esc(name)}">',
           f'<text x="{PAD_L}" y="{y0 + 10}" class="tick" font-size="9" font-weight="600">{label}</text>',
           f'<line x1="{PAD_L}" y1="{ptop}" x2="{PAD_L}" y2="{pbot}" class="ax" stroke="#8c959f"/>',
           f'<line x1="{PAD_L}" y1="{pbot}" x2="{W - PAD_R}" y2="{pbot}" class="ax" stroke="#8c959f"/>']
    for k in range(round((hi - lo) / step) + 1):
        v = lo + k * step
        out.append(f'<text x="{PAD_L - 4}" y="{sy(v) + 3:.1f}" text-anchor="end" class="tick" '
                   f'font-size="9">{_tick_text(v, step, max(abs(lo), abs(hi)))}</text>')
    if not vals:
        out.append(f'<text x="{(W + PAD_L) / 2:.0f}" y="{(ptop + pbot) / 2 + 3:.0f}" text-anchor="middle" '
                   f'class="tick" font-size="9">no data</text>')
    for run in _runs(pts):
        if len(run) == 1:
            (x, y), = run
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2" class="pt s{i % 4}" fill="{colour}"/>')
        else:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in run)
            out.append(f'<polyline points="{path}" class="ln s{i % 4}" fill="none" stroke="{colour}" '
                       f'stroke-width="1.5"><title>{label}</title></polyline>')
    out.append("</g>")
    return "".join(out)
