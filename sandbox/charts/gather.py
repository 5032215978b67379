"""Which charts a page or the report shows, drawn from a city's stored history (read-only)."""
from __future__ import annotations

from typing import Callable

from ledger.amounts import format_amount

from . import history, series, svg

CANDLES_SHOWN = 48
DEPTH_LEVELS = 20
REPORT_SYMBOL = "BTC/KZT"


def _money(city):
    assets = city.ledger.assets
    return lambda amount_minor, asset: format_amount(int(amount_minor), asset, assets)


def _time_label(city):
    tz = city.cfg.sandbox.zone
    return lambda at: at.astimezone(tz).strftime("%m-%d %H:%M")


def regulator_charts(city, summary: dict, *, money: Callable[[int, str], str] | None = None) -> dict[str, str]:
    """KZTE reserve versus supply, declines by code and card volume per hour, as SVG by name. ``money``
    formats an amount (a page passes its language's; default: the ledger's English format)."""
    money, label = money or _money(city), _time_label(city)
    buckets = history.card_buckets(city, series.HOURS_SHOWN)
    reasons: dict[str, str] = {}
    for d in summary.get("declines", []):
        reasons.setdefault(d["response_code"], d["reason"])
    return {
        "kzte": svg.kzte_svg(history.kzte_history(city), money=money, time_label=label),
        "declines": svg.declines_svg(series.declines_by_code(summary.get("declines", [])), reasons=reasons),
        "hourly": svg.hourly_svg(series.hourly_card_volume(buckets, city.cfg.sandbox.zone), money=money,
                                 time_label=label),
    }


def market_charts(city, symbol: str, interval: str = "1h", *, depth: dict | None = None,
                  candles: list[dict] | None = None, money: Callable[[int, str], str] | None = None
                  ) -> dict[str, str]:
    """The instrument's depth (cumulative, per side) and its candles with volume, as SVG by name (``money``
    as for ``regulator_charts``)."""
    money = money or _money(city)
    inst = next(i for i in city.exchange.instruments if i.symbol == symbol)
    depth = depth if depth is not None else city.exchange.depth(symbol, DEPTH_LEVELS)
    candles = candles if candles is not None else city.exchange.candles(symbol, interval, CANDLES_SHOWN)
    quote = lambda p: money(p, inst.quote)  # noqa: E731
    base = lambda q: money(q, inst.base)  # noqa: E731
    return {
        "depth": svg.depth_svg(series.depth_steps(depth["bids"]), series.depth_steps(depth["asks"]),
                               quote_label=quote, base_label=base, title=f"{symbol} depth"),
        "candles": svg.candles_svg(candles, price_label=quote, volume_label=base, time_label=_time_label(city),
                                   title=f"{symbol} {interval} candles", base=inst.base),
    }


def report_charts(city, summary: dict) -> list[tuple[str, str]]:
    """(heading, SVG) for the report, in reading order: the regulator's charts, then the main market's."""
    reg = regulator_charts(city, summary)
    symbols = [i.symbol for i in city.exchange.instruments]
    out = [("KZTE reserve versus supply", reg["kzte"]), ("Declines by response code", reg["declines"]),
           ("Card volume per hour", reg["hourly"])]
    if symbols:
        symbol = REPORT_SYMBOL if REPORT_SYMBOL in symbols else symbols[0]
        market = market_charts(city, symbol)
        out += [(f"{symbol} price and volume", market["candles"]), (f"{symbol} order-book depth", market["depth"])]
    return out
