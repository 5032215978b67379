"""Resting orders of customers traded by someone else's order — another customer's, or the card's
just-in-time sale, or a market maker's requote that crosses them. Every unit of work the city begins
records them just before it commits (``CityContext.begin``): the maker's tax events
(an acquisition at cost, a disposal at net proceeds, in an ``exchange.maker_fill`` audit entry its tax
statement reads) and its ``trade.created`` (liquidity ``maker``) and ``order.filled`` events. Market
makers are the house: their fills are neither taxed here nor evented."""
from __future__ import annotations

from exchange.results import MakerFill, take_maker_fills
from mining import store as mining_store

from . import audit, city_state, events
from .events import snapshots
from .tax import ACQUISITION, DISPOSAL, tax_events

MARKET_MAKER_PREFIX = "mm:"


def record(city, uow) -> None:
    """Record the maker fills this unit of work made so far (see the module docstring); ``city`` is the
    ``CityContext`` that began it (not imported: the context imports this module). Costs nothing
    when only market makers were traded against, one read of the owners otherwise."""
    fills = [f for f in take_maker_fills(uow) if not f.owner.startswith(MARKET_MAKER_PREFIX)]
    if not fills:
        return
    customers = city_state.profiles(uow.conn, sorted({f.owner for f in fills}))
    for owner in sorted(customers):
        mine = [f for f in fills if f.owner == owner]
        audit.append(uow, owner, "exchange.maker_fill", mine[0].symbol,
                     {"customer": owner, "trades": [f.trade_id for f in mine],
                      "orders": sorted({f.order_id for f in mine}),
                      "tax": [e for f in mine for e in _tax(city, f)]})
        for f in mine:
            events.emit(uow, "trade.created", _trade(f), customer=owner)
        _farm_sales(uow, owner, mine)
        for order_id in sorted({f.order_id for f in mine if f.order_filled}):
            filled = city.exchange.order(uow, order_id)
            events.emit(uow, "order.filled", snapshots.order(filled, instrument=filled.symbol), customer=owner)


def _farm_sales(uow, owner: str, fills: list[MakerFill]) -> None:
    """A mining farm's resting BTC sell filled later: the farm's sale, as an immediate fill is recorded
    (``services.trading.place_order``)."""
    sold = [f for f in fills if f.side == "sell" and f.symbol.split("/")[0] == "BTC"]
    if not sold:
        return
    if mining_store.farm(uow.conn, owner) is None:
        return
    for f in sold:
        mining_store.add_sale(uow.conn, owner, f.order_id, f.qty_minor, f.notional_minor - f.fee_minor, "exchange",
                              uow.now())


def _tax(city, fill: MakerFill) -> list[dict]:
    inst = city.exchange.instruments.get(fill.symbol)
    if fill.side == "buy":   # the buyer paid the notional and its fee in the quote asset
        return tax_events(ACQUISITION, inst.base, fill.qty_minor,
                          city.value_kzt(inst.quote, fill.notional_minor + fill.fee_minor), "buy",
                          f"order {fill.order_id}")
    return tax_events(DISPOSAL, inst.base, fill.qty_minor,
                      city.value_kzt(inst.quote, fill.notional_minor - fill.fee_minor), "sell",
                      f"order {fill.order_id}")


def _trade(fill: MakerFill) -> dict:
    return {"object": "trade", "trade_id": fill.trade_id, "order_id": fill.order_id, "customer": fill.owner,
            "instrument": fill.symbol, "side": fill.side, "price_minor": fill.price_minor,
            "qty_minor": fill.qty_minor, "notional_minor": fill.notional_minor, "fee_minor": fill.fee_minor,
            "liquidity": "maker"}
