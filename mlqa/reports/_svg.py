"""Inline SVG charts from the chart specs suites put in `evidence["charts"]`.

Drawn directly (no plotting library) so the report stays one small offline file and
rendering costs milliseconds.
"""
from __future__ import annotations

from html import escape
from typing import Any

W, H, PAD_L, PAD_B, PAD_T, PAD_R = 560, 240, 52, 70, 28, 12


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and v == v else None


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def _axes(y_lo: float, y_hi: float, y_label: str) -> list[str]:
    ys = _scale(y_lo, y_hi, H - PAD_B, PAD_T)
    out = [f'<line x1="{PAD_L}" y1="{H - PAD_B}" x2="{W - PAD_R}" y2="{H - PAD_B}" class="ax"/>',
           f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{H - PAD_B}" class="ax"/>']
    for i in range(5):
        v = y_lo + (y_hi - y_lo) * i / 4
        out.append(f'<text x="{PAD_L - 4}" y="{ys(v) + 3:.1f}" text-anchor="end" class="tick">{v:.3g}</text>')
    if y_label:
        out.append(f'<text x="12" y="{PAD_T + (H - PAD_B - PAD_T) / 2:.0f}" class="tick" '
                   f'transform="rotate(-90 12 {PAD_T + (H - PAD_B - PAD_T) / 2:.0f})" text-anchor="middle">{escape(str(y_label))}</text>')
    return out


def bar(spec: dict[str, Any]) -> str:
    xs, ys = spec.get("x", []), [_num(v) for v in spec.get("y", [])]
    vals = [v for v in ys if v is not None]
    thr = _num(spec.get("threshold"))
    hi = max(vals + ([thr] if thr is not None else []) + [0.0]) or 1.0
    lo = min(vals + [0.0])
    sy = _scale(lo, hi * 1.05 if hi > 0 else hi, H - PAD_B, PAD_T)
    n = max(len(xs), 1)
    bw = (W - PAD_L - PAD_R) / n
    parts = _axes(lo, hi * 1.05 if hi > 0 else hi, spec.get("y_label", ""))
    for i, (label, v) in enumerate(zip(xs, ys)):
        x = PAD_L + i * bw
        if v is not None:
            top, base = sy(max(v, 0)), sy(min(v, 0))
            over = thr is not None and v > thr
            parts.append(f'<rect x="{x + bw * 0.15:.1f}" y="{top:.1f}" width="{bw * 0.7:.1f}" '
                         f'height="{max(base - top, 0.5):.1f}" class="{"bar over" if over else "bar"}">'
                         f'<title>{escape(str(label))}: {v:.4g}</title></rect>')
        tx, ty = x + bw / 2, H - PAD_B + 10
        parts.append(f'<text x="{tx:.1f}" y="{ty}" class="tick" text-anchor="end" '
                     f'transform="rotate(-40 {tx:.1f} {ty})">{escape(str(label)[:22])}</text>')
    if thr is not None:
        parts.append(f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{sy(thr):.1f}" y2="{sy(thr):.1f}" class="thr"/>'
                     f'<text x="{W - PAD_R}" y="{sy(thr) - 3:.1f}" text-anchor="end" class="tick">limit {thr:.3g}</text>')
    return _frame(spec, parts)


def line(spec: dict[str, Any]) -> str:
    series = spec.get("series", [])
    pts = [(_num(x), _num(y)) for s in series for x, y in zip(s.get("x", []), s.get("y", []))]
    pts = [(x, y) for x, y in pts if x is not None and y is not None]
    if not pts:
        return _frame(spec, ['<text x="20" y="40" class="tick">no data</text>'])
    xlo, xhi = min(p[0] for p in pts), max(p[0] for p in pts)
    ylo, yhi = min(p[1] for p in pts), max(p[1] for p in pts)
    if spec.get("diagonal"):
        xlo, ylo, xhi, yhi = min(xlo, ylo, 0.0), min(xlo, ylo, 0.0), max(xhi, yhi, 1.0), max(xhi, yhi, 1.0)
    sx, sy = _scale(xlo, xhi, PAD_L, W - PAD_R), _scale(ylo, yhi, H - PAD_B, PAD_T)
    parts = _axes(ylo, yhi, spec.get("y_label", ""))
    if spec.get("diagonal"):
        parts.append(f'<line x1="{sx(xlo):.1f}" y1="{sy(ylo):.1f}" x2="{sx(xhi):.1f}" y2="{sy(yhi):.1f}" class="thr"/>')
    for i, s in enumerate(series):
        xy = [(_num(x), _num(y)) for x, y in zip(s.get("x", []), s.get("y", []))]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in xy if x is not None and y is not None)
        parts.append(f'<polyline points="{path}" class="ln s{i % 4}"><title>{escape(str(s.get("name", "")))}</title></polyline>')
    for i in range(5):
        v = xlo + (xhi - xlo) * i / 4
        parts.append(f'<text x="{sx(v):.1f}" y="{H - PAD_B + 14}" text-anchor="middle" class="tick">{v:.3g}</text>')
    if spec.get("x_label"):
        parts.append(f'<text x="{(W + PAD_L) / 2:.0f}" y="{H - PAD_B + 32}" text-anchor="middle" class="tick">{escape(str(spec["x_label"]))}</text>')
    return _frame(spec, parts)


def _frame(spec: dict[str, Any], parts: list[str]) -> str:
    title = escape(str(spec.get("title", "")))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{title}" class="chart">'
            f'<text x="{PAD_L}" y="16" class="ttl">{title}</text>{"".join(parts)}</svg>')


def render_chart(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if kind == "bar":
        return bar(spec)
    if kind == "line":
        return line(spec)
    return ""
