"""Data charts drawn by pygal as inline SVG: order-book depth, price candles with volume, KZTE reserve
versus supply, declines by response code, card volume per hour.

Deterministic by construction: each chart has a fixed id (pygal scopes its CSS to it, so several charts on
one page do not restyle each other or the page), no JavaScript (``js=[]``: nothing is fetched), no XML
declaration, and pygal's comments and inline config script are removed — the same data gives the same bytes;
the values stay readable without JavaScript in each point's ``<desc>`` and the axis labels. Amounts are integers of minor units; labels go through ``ledger.amounts.format_amount``.
"""
from __future__ import annotations

import re
import sys
from datetime import datetime, timezone
from typing import Callable

import pygal
from pygal.style import Style

# pygal appends a legacy import hook (for its map plugins, unused here) that makes every later import on
# Python 3.11 warn "PluginImportFixer.find_spec() not found"; take it off the import path again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

INK, MUTED, LINE = "#1d2433", "#5d6679", "#d9dee8"
UP, DOWN, BLUE, AMBER = "#0b6e4f", "#a3261b", "#2662c9", "#8a5a00"
# pygal's comments (one carries today's date) and its inline config script (the interactive tooltips' settings,
# which would also serialise our formatters) are removed: the pages run no chart JavaScript.
_STRIP = re.compile(r"<!--.*?-->|<script\b[^>]*>.*?</script>", re.S)


def _style(*colors: str) -> Style:
    return Style(background="transparent", plot_background="transparent", foreground=INK,
                 foreground_strong=INK, foreground_subtle=LINE, colors=colors or (BLUE,),
                 font_family="system-ui, sans-serif", label_font_size=12, major_label_font_size=12,
                 legend_font_size=13, title_font_size=15, value_font_size=11, tooltip_font_size=12,
                 no_data_font_size=20, guide_stroke_dasharray="2,4", major_guide_stroke_dasharray="2,4",
                 guide_stroke_color=LINE, major_guide_stroke_color=LINE, opacity=".85", transition="0ms")


def _config(chart_id: str, title: str, style: Style, **more) -> dict:
    return {"title": title, "style": style, "js": [], "disable_xml_declaration": True, "width": 760,
            "height": 300, "explicit_size": False, "show_legend": True, "legend_at_bottom": True,
            "legend_at_bottom_columns": 2, "print_values": False, "truncate_label": -1, "truncate_legend": -1,
            "classes": ["pygal-chart", "chart", f"chart-{chart_id}"], "no_data_text": "No data yet",
            "margin": 8, "margin_right": 48, **more}  # room for the last time label


def _axis(count: int) -> dict:
    """Thin the time axis to about six labels when there are more (pygal fails on thinning no labels)."""
    return {"x_labels_major_count": 6, "show_minor_x_labels": False} if count > 6 else {}


def render(chart, chart_id: str) -> str:
    """The chart's SVG text with a fixed id, no comments and no script (deterministic bytes)."""
    chart.uuid = chart_id
    return _STRIP.sub("", chart.render(is_unicode=True))


def depth_svg(bids: list[tuple[int, int]], asks: list[tuple[int, int]], *, quote_label: Callable[[int], str],
              base_label: Callable[[int], str], title: str) -> str:
    """Cumulative quantity against price for each side (``series.depth_steps`` output, best first), drawn
    as steps: at a price, the height is what a market order would fill up to that price."""
    chart = pygal.XY(**_config("depth", title, _style(UP, DOWN), fill=True, show_dots=True, dots_size=2,
                               x_value_formatter=quote_label, value_formatter=base_label,
                               stroke_style={"width": 2}, x_label_rotation=15))
    for name, steps in (("Bids (buyers)", bids), ("Asks (sellers)", asks)):
        points, before = [], 0
        for price_minor, cum_minor in steps:
            points += [(price_minor, before), (price_minor, cum_minor)]
            before = cum_minor
        if points:  # no series at all: pygal draws only its no-data text
            chart.add(name, [{"value": p, "label": f"{quote_label(p[0])}: {base_label(p[1])} in total"}
                             for p in points])
    return render(chart, "depth")


class _Candles(pygal.Box):
    """pygal's box chart read as candles: each series is one interval whose values are (open, high, low,
    close); the whiskers reach low and high, the box spans open to close, the middle line marks the close."""

    @staticmethod
    def _box_points(values, mode="extremes"):  # noqa: ARG004 - pygal calls it with the box mode
        o, h, lo, c = values[:4]
        return (lo, lo, min(o, c), c, max(o, c), h, h), []

    def _value_format(self, value, serie):  # noqa: ARG002 - pygal's signature
        o, h, lo, c = serie.values[:4]
        return f"O {self._y_format(o)}  H {self._y_format(h)}  L {self._y_format(lo)}  C {self._y_format(c)}"


def candles_svg(candles: list[dict], *, price_label: Callable[[int], str], volume_label: Callable[[int], str],
                time_label: Callable[[object], str], title: str, base: str) -> str:
    """Price candles (green closed up, red closed down) and, below them, the traded volume per interval:
    two SVGs with the same intervals. ``candles``: exchange candles, oldest first."""
    colors = tuple(UP if c["close"] >= c["open"] else DOWN for c in candles) or (UP,)
    labels = [time_label(c["start"]) for c in candles]
    scale = {}
    if candles:  # the price axis spans the candles, not zero to the price (pygal's boxes start at zero)
        low, high = min(c["low"] for c in candles), max(c["high"] for c in candles)
        pad = max(1, (high - low) // 10, high // 2000)
        scale = {"zero": low - pad, "range": (low - pad, high + pad)}
    price = _Candles(**_config("candles", title, _style(*colors), show_legend=False, value_formatter=price_label,
                               no_data_text="No trades in this window yet",
                               x_label_rotation=0, **_axis(len(candles)), **scale))
    price.x_labels = labels  # pygal pads each series to the labels' length: _box_points reads the first four
    for label, c in zip(labels, candles):
        price.add(label, [c["open"], c["high"], c["low"], c["close"]])
    volume = pygal.Bar(**_config("volume", f"Volume ({base}) per interval", _style(BLUE), show_legend=False,
                                 no_data_text="No trades in this window yet",
                                 height=180, value_formatter=volume_label, x_label_rotation=0,
                                 y_labels_major_count=3, show_minor_y_labels=False,
                                 **_axis(len(candles))))
    if candles:
        volume.x_labels = labels
        volume.add(f"Volume {base}", [c["volume_minor"] for c in candles])
    return render(price, "candles") + render(volume, "volume")


def kzte_svg(history: list[tuple], *, money: Callable[[int, str], str], time_label: Callable[[object], str]) -> str:
    """Tenge reserve and KZTE supply after each mint or redemption, on a time axis, as steps (a balance holds
    between events): the reserve line must never be below the supply line (the peg)."""
    # the reserve drawn wide under a dashed supply line: at the peg the two coincide and both must show
    lines = ("inline:#chart-kzte .serie-0 .line{stroke-width:7}"
             "#chart-kzte .serie-1 .line{stroke-width:2.5;stroke-dasharray:9,6}")
    chart = pygal.XY(**_config("kzte", "KZTE reserve versus supply", _style(UP, BLUE), fill=False,
                               value_formatter=lambda v: money(v, "KZT"), dots_size=3, x_label_rotation=0,
                               x_value_formatter=lambda ts: time_label(datetime.fromtimestamp(ts, timezone.utc)),
                               css=["file://style.css", "file://graph.css", lines]))
    for index, (name, asset) in enumerate((("Tenge reserve (KZT)", "KZT"), ("KZTE supply", "KZTE"))):
        points, before = [], None
        for at, *values in history:
            ts = at.timestamp()
            if before is not None:  # the step: the old value up to the new event's time
                points.append({"value": (ts, before), "label": money(before, asset)})
            before = values[index]
            points.append({"value": (ts, before), "label": money(before, asset)})
        if points:
            chart.add(name, points)
    if len(history) > 1:  # five labels across the span (pygal's own would crowd the axis with long dates)
        first, last = history[0][0].timestamp(), history[-1][0].timestamp()
        chart.x_labels = [round(first + (last - first) * i / 4) for i in range(5)]
    return render(chart, "kzte")


def _short(reason: str, limit: int = 44) -> str:
    """A decline reason short enough for an axis label: its words before any {placeholder}, cut at a word."""
    text = reason.split("{")[0].strip().removesuffix(" of").strip()
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def declines_svg(by_code: list[tuple[str, int]], *, reasons: dict[str, str] | None = None) -> str:
    """How many purchases each response code declined, one bar per code (labelled with one reason)."""
    reasons = reasons or {}
    most = max((n for _, n in by_code), default=0)
    step = max(1, -(-most // 8))
    chart = pygal.HorizontalBar(**_config("declines", "Declines by response code", _style(DOWN),
                                          show_legend=False, height=max(160, 80 + 40 * len(by_code)),
                                          value_formatter=lambda v: f"{v:g}", print_values=True,
                                          y_labels=list(range(0, most + step, step)) if by_code else None))
    if by_code:
        chart.x_labels = [f"{code} · {_short(reasons.get(code, ''))}".strip(" ·") for code, _ in by_code]
        chart.add("Declines", [{"value": n, "label": f"code {code}: {reasons.get(code, '')}"} for code, n in by_code])
    return render(chart, "declines")


def hourly_svg(hours: list[dict], *, money: Callable[[int, str], str], time_label: Callable[[object], str]) -> str:
    """Approved card volume per hour (``series.hourly_card_volume``), empty hours included."""
    chart = pygal.Bar(**_config("hourly", "Card volume per hour (approved, KZT)", _style(UP), show_legend=False,
                                value_formatter=lambda v: money(v, "KZT"), x_label_rotation=0,
                                **_axis(len(hours))))
    if hours:
        chart.x_labels = [time_label(h["hour"]) for h in hours]
        chart.add("Approved", [{"value": h["approved_minor"],
                                "label": f"{h['approved']} approved, {h['declined']} declined"} for h in hours])
    return render(chart, "hourly")
