"""A candlestick price chart as inline SVG, drawn on the server: no JavaScript, no fonts to fetch, and the
same candles always give the same bytes (coordinates are rounded to 0.1 px; prices stay integers).
"""
from __future__ import annotations

from typing import Callable
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 112, 16, 26, 34
GRID_LINES = 4
UP, DOWN, GRID, INK, TREND = "#0b6e4f", "#a3261b", "#d9dee8", "#1d2433", "#2662c9"


def _f(value: float) -> str:
    return f"{value:.1f}"


def candles_svg(candles: list[dict], *, price_label: Callable[[int], str], time_label: Callable[[object], str],
                title: str = "Price", unit: str = "") -> str:
    """``candles``: dicts with integer ``open/high/low/close`` and a ``start`` time, oldest first."""
    label = escape(title)
    if not candles:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} 80" role="img" '
                f'aria-label="{label}: no trades yet"><text x="{WIDTH // 2}" y="45" text-anchor="middle" '
                f'fill="{INK}" font-size="18">No trades in this window yet</text></svg>')
    low = min(c["low"] for c in candles)
    high = max(c["high"] for c in candles)
    if high == low:  # one price: give the axis a little room so the candle is not a line on the edge
        pad = max(1, high // 200)
        low, high = low - pad, high + pad
    span = high - low
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(candles)
    body = max(2.0, min(slot * 0.6, 28.0))

    def y(price: int) -> float:
        return TOP + (high - price) * plot_h / span

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{label}">', f"<title>{label}</title>",
             f'<text x="{LEFT - 8}" y="14" text-anchor="end" font-size="13" fill="{INK}">{escape(unit)}</text>']
    for i in range(GRID_LINES + 1):
        price = high - span * i // GRID_LINES
        gy = _f(y(price))
        parts.append(f'<line x1="{LEFT}" y1="{gy}" x2="{WIDTH - RIGHT}" y2="{gy}" stroke="{GRID}"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{gy}" text-anchor="end" dominant-baseline="middle" '
                     f'font-size="13" fill="{INK}">{escape(price_label(price))}</text>')
    for i, c in enumerate(candles):
        cx = LEFT + slot * (i + 0.5)
        colour = UP if c["close"] >= c["open"] else DOWN
        top, bottom = y(max(c["open"], c["close"])), y(min(c["open"], c["close"]))
        tip = escape(f'{time_label(c["start"])} O {price_label(c["open"])} H {price_label(c["high"])} '
                     f'L {price_label(c["low"])} C {price_label(c["close"])}')
        parts.append(f'<g class="candle"><title>{tip}</title>'
                     f'<line x1="{_f(cx)}" y1="{_f(y(c["high"]))}" x2="{_f(cx)}" y2="{_f(y(c["low"]))}" '
                     f'stroke="{colour}" stroke-width="1.5"/>'
                     f'<rect x="{_f(cx - body / 2)}" y="{_f(top)}" width="{_f(body)}" '
                     f'height="{_f(max(bottom - top, 1.5))}" fill="{colour}"/></g>')
    if len(candles) > 1:  # the closes joined: the trend reads even when each interval had one trade
        points = " ".join(f"{_f(LEFT + slot * (i + 0.5))},{_f(y(c['close']))}" for i, c in enumerate(candles))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{TREND}" stroke-width="1.2" '
                     f'stroke-dasharray="4 3" opacity="0.7"/>')
    marks = sorted({0, len(candles) // 2, len(candles) - 1})
    for i in marks:
        anchor = "start" if i == 0 and len(marks) > 1 else ("end" if i == len(candles) - 1 and i else "middle")
        cx = LEFT + slot * (i + 0.5)
        parts.append(f'<text x="{_f(cx)}" y="{HEIGHT - 10}" text-anchor="{anchor}" font-size="13" '
                     f'fill="{INK}">{escape(time_label(candles[i]["start"]))}</text>')
    parts.append("</svg>")
    return "".join(parts)
