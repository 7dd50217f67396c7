"""Server-rendered SVG charts: readable without JavaScript, no vendored library, no CDN, and
allowed by the pages' Content-Security-Policy (presentation attributes, no inline style).

Each chart is drawn from the same numbers as the table printed under it. Series differ by
colour AND by dash pattern and marker, so they stay apart in grey print and for colour-blind
readers; every point carries a <title> (a tooltip) with its exact value.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

W, H = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 46
PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad")  # blue, red, green, purple
DASHES = ("", "6 4", "2 3", "8 3 2 3")
MARKERS = ("circle", "square", "diamond", "triangle")
OPACITY = ' fill-opacity="0.55"'  # every second bar series is lighter


@dataclass
class Series:
    label: str
    values: list[float | None]  # None: no sample in that period (a gap in the line)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    best = None
    for exp in range(-3, 8):
        for step in (1, 2, 2.5, 5, 10):
            candidate = step * 10**exp
            if candidate >= value and (best is None or candidate < best):
                best = candidate
    return float(best or value)


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value * 100:.0f}%" if abs(value * 100 - round(value * 100)) < 1e-9 else f"{value * 100:.1f}%"
    return f"{value:g}{unit}"


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"'
    if kind == "diamond":
        return f'<polygon points="{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y:.1f} {x:.1f},{y + 4.5:.1f} {x - 4.5:.1f},{y:.1f}" fill="{colour}"'
    if kind == "triangle":
        return f'<polygon points="{x:.1f},{y - 4.5:.1f} {x + 4.5:.1f},{y + 4:.1f} {x - 4.5:.1f},{y + 4:.1f}" fill="{colour}"'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"'


def chart(*, title: str, labels: list[str], series: list[Series], unit: str = "", kind: str = "line",
          y_max: float | None = None, reference: tuple[float, str] | None = None, table_id: str = "") -> Markup:
    """An SVG line or bar chart. `unit` "%" reads values as fractions; `reference` draws a
    horizontal line (e.g. the 6-working-hour SLA) with its label."""
    n = len(labels)
    peak = max([v for s in series for v in s.values if v is not None] + [reference[0] if reference else 0, 0])
    top = y_max if y_max is not None else _nice_max(peak)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x_at(i: float) -> float:
        return LEFT + (i + 0.5) * plot_w / max(n, 1)

    def y_at(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    desc = f"{title}. The same numbers are in the table below" + (f" (#{table_id})" if table_id else "") + "."
    out = [f'<svg class="chart" viewBox="0 0 {W} {H + 22 * ((len(series) + 2) // 3)}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
           f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>"]
    for k in range(5):  # grid and y axis labels
        v = top * k / 4
        y = y_at(v)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#ddd" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{escape(_fmt(v, unit))}</text>')
    every = max(1, -(-n // 12))  # at most ~12 x labels
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            out.append(f'<text x="{x_at(i):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle" fill="#444">{escape(label)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{W - RIGHT}" y2="{TOP + plot_h}" stroke="#888"/>')
    if reference is not None:
        y = y_at(reference[0])
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#e67e22" stroke-width="1.5" stroke-dasharray="4 4"/>')
        out.append(f'<text x="{W - RIGHT}" y="{y - 4:.1f}" text-anchor="end" fill="#a0522d">{escape(reference[1])}</text>')
    slot = plot_w / max(n, 1)
    bar_w = max(1.0, slot * 0.8 / max(len(series), 1))
    for si, s in enumerate(series):
        colour, dash, mark = PALETTE[si % 4], DASHES[si % 4], MARKERS[si % 4]
        if kind == "bar":
            for i, v in enumerate(s.values):
                if v is None:
                    continue
                x = LEFT + i * slot + slot * 0.1 + si * bar_w
                y = y_at(v)
                out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{TOP + plot_h - y:.1f}" fill="{colour}"'
                           f'{OPACITY if si % 2 else ""}><title>{escape(s.label)} {escape(labels[i])}: {escape(_fmt(v, unit))}</title></rect>')
            continue
        segment: list[str] = []
        for i, v in enumerate(s.values + [None]):
            if v is None:
                if len(segment) > 1:
                    out.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{colour}" stroke-width="2"'
                               + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
                segment = []
                continue
            segment.append(f"{x_at(i):.1f},{y_at(v):.1f}")
        for i, v in enumerate(s.values):
            if v is not None:
                out.append(_marker(mark, x_at(i), y_at(v), colour) + f"><title>{escape(s.label)} {escape(labels[i])}: {escape(_fmt(v, unit))}</title>"
                           + ("</rect>" if mark == "square" else "</polygon>" if mark in ("diamond", "triangle") else "</circle>"))
    for si, s in enumerate(series):  # legend
        row, col = divmod(si, 3)
        lx, ly = LEFT + col * 220, H + row * 22 - 4
        colour = PALETTE[si % 4]
        if kind == "bar":
            out.append(f'<rect x="{lx}" y="{ly - 9}" width="18" height="10" fill="{colour}"{OPACITY if si % 2 else ""}/>')
        else:
            dash = DASHES[si % 4]
            out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 18}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"' + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
            out.append(_marker(MARKERS[si % 4], lx + 9, ly - 4, colour) + "/>")
        out.append(f'<text x="{lx + 24}" y="{ly}" fill="#222">{escape(s.label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
