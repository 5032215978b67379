"""Order book: per instrument, the depth ladder (bids and asks with running totals), the latest trades,
24-hour statistics, a depth chart and price candles with volume (pygal SVG drawn on the server, see
sandbox/charts/)."""
from __future__ import annotations

from flask import render_template, request
from markupsafe import Markup

from exchange.service import INTERVALS

from ..auth import access
from sandbox.charts import gather as charts

from .core import bp, city_or_none, money, needs_city, refused

DEPTH_LEVELS = 10
TRADES_SHOWN = 20
CANDLES_SHOWN = charts.CANDLES_SHOWN   # the page shows what the chart draws


def _ladder(levels: list[tuple[int, int]], base_unit: int) -> list[dict]:
    """Price levels best first, with cumulative quantity and notional (quote minor) to that level."""
    out, qty_total, notional_total = [], 0, 0
    for price, qty in levels:
        notional = price * qty // base_unit
        qty_total += qty
        notional_total += notional
        out.append({"price": price, "qty": qty, "notional": notional, "cum_qty": qty_total,
                    "cum_notional": notional_total})
    return out


@bp.route("/orderbook")
@access("customer", "merchant", shared=True)  # public market data: nobody's account
def orderbook():
    city = city_or_none()
    if city is None:
        return needs_city("Order book", "depth per instrument, recent trades and a price chart")
    instruments = list(city.exchange.instruments)
    symbols = [i.symbol for i in instruments]
    symbol = request.args.get("symbol") or ("BTC/KZT" if "BTC/KZT" in symbols else symbols[0])
    inst = next((i for i in instruments if i.symbol == symbol), None)
    if inst is None:
        return refused(f"No instrument {symbol!r}; listed: {', '.join(symbols)}.", 404, "Unknown instrument")
    interval = request.args.get("interval") or "1h"
    if interval not in INTERVALS:
        return refused(f"Interval must be one of {', '.join(INTERVALS)}.", 400, "Unknown interval")
    depth = city.exchange.depth(symbol, DEPTH_LEVELS)
    bids, asks = _ladder(depth["bids"], inst.base_unit), _ladder(depth["asks"], inst.base_unit)
    best_bid = bids[0]["price"] if bids else None
    best_ask = asks[0]["price"] if asks else None
    spread = best_ask - best_bid if best_bid is not None and best_ask is not None else None
    candles = city.exchange.candles(symbol, interval, CANDLES_SHOWN)
    drawn = charts.market_charts(city, symbol, interval, depth=depth, candles=candles, money=money)
    return render_template("orderbook.html", title=f"Order book {symbol}", inst=inst, symbols=symbols,
                           intervals=list(INTERVALS), interval=interval, bids=bids, asks=asks, seq=depth["seq"],
                           best_bid=best_bid, best_ask=best_ask, spread=spread,
                           trades=city.exchange.recent_trades(symbol, TRADES_SHOWN),
                           stats=city.exchange.stats_24h(symbol), candles=candles,
                           chart=Markup(drawn["candles"]), depth_chart=Markup(drawn["depth"]),
                           now=city.now())
