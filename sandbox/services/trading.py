"""Trading on the AIFC exchange for customers: orders of every kind (``place_order``), the market buys
and sells scenarios use (``buy``, ``sell``), cancellation. Every fill is a tax event in the order's audit
entry (an acquisition at cost, a disposal at net proceeds)."""
from __future__ import annotations

from dataclasses import dataclass

from exchange import queries as exchange_queries
from exchange.fees import buy_hold_minor
from ledger import Posting

from .. import audit, events
from ..events import snapshots
from ..context import CityContext
from ..errors import OrderNotFound
from ..tax import ACQUISITION, DISPOSAL, tax_events
from . import customers, mining_guard
from .result import Result


@dataclass(frozen=True)
class MarketOrderDone(Result):
    """A market buy or sell: what filled, for how much, and the fee; ``proceeds_minor`` is a sale's net."""
    order_id: int
    order_status: str
    filled_qty_minor: int
    quote_filled_minor: int
    fee_minor: int
    proceeds_minor: int
    status: str = "ok"


def place_order(city: CityContext, uow, *, actor: str, instrument: str, side: str, type: str,
                qty_minor: int | None = None, quote_qty_minor: int | None = None, price_minor: int | None = None,
                tif: str = "GTC", post_only: bool = False):
    """A customer's own order (limit, or market by base quantity or quote amount); returns the exchange's
    ``OrderResult``. Checks, in order: an onboarded actor, the exchange's trading licence, a KYC tier that
    may trade. A buy against tenge first moves what the exchange account lacks from the bank account,
    in the same transaction as the order."""
    customer = customers.require(uow, actor)
    city.licences.require(city.exchange_id, "trading_facility", uow.now())
    customers.require_can_trade(city, uow, actor)
    inst = city.exchange.instruments.get(instrument)
    # a farm selling its output (BTC) needs its licence, and the sale is the farm's; its other trades are a
    # customer's like any other
    farm_sale = side == "sell" and inst.base == "BTC" and mining_guard.require_may_sell(city, uow, actor)
    if side == "buy" and inst.quote == "KZT":
        _fund_exchange_account(city, uow, actor, customer.bank_ledger_account_id,
                               _tenge_needed(inst, qty_minor, quote_qty_minor, price_minor))
    res = city.exchange.place_order(uow, actor, instrument, side, type, qty_minor=qty_minor,
                                    quote_qty_minor=quote_qty_minor, price_minor=price_minor, tif=tif, post_only=post_only)
    if side == "buy":
        tax = tax_events(ACQUISITION, inst.base, res.filled_qty_minor,
                         city.value_kzt(inst.quote, res.quote_filled_minor + res.fee_minor), "buy",
                         f"order {res.order_id}")
    else:
        tax = tax_events(DISPOSAL, inst.base, res.filled_qty_minor,
                         city.value_kzt(inst.quote, res.quote_filled_minor - res.fee_minor), "sell",
                         f"order {res.order_id}")
    audit.append(uow, actor, f"exchange.{side}", instrument,
                 {"customer": actor, "order_id": res.order_id, "type": type, "price_minor": price_minor, "qty_minor": qty_minor,
                  "quote_qty_minor": quote_qty_minor, "filled_qty_minor": res.filled_qty_minor,
                  "quote_filled_minor": res.quote_filled_minor, "fee_minor": res.fee_minor, "status": res.status,
                  "tax": tax})
    if not res.replayed:
        _order_events(uow, res, instrument)
        if farm_sale:
            mining_guard.record_sale(uow, actor, res.order_id, res.filled_qty_minor,
                                     res.quote_filled_minor - res.fee_minor, "exchange")
    return res


def _order_events(uow, res, instrument: str) -> None:
    """``order.created``, a ``trade.created`` per fill and ``order.filled`` when nothing is left."""
    data = snapshots.order(res, instrument=instrument)
    events.emit(uow, "order.created", data, customer=res.owner)
    for fill in res.fills:
        events.emit(uow, "trade.created", snapshots.trade(fill, res, instrument=instrument), customer=res.owner)
    if res.status == "filled":
        events.emit(uow, "order.filled", data, customer=res.owner)


def buy(city: CityContext, uow, *, actor: str, instrument: str, quote_qty_minor: int) -> MarketOrderDone:
    """Market buy spending ``quote_qty_minor`` (fee included); tenge comes from the bank account when the
    exchange account lacks it."""
    res = place_order(city, uow, actor=actor, instrument=instrument, side="buy", type="market",
                      quote_qty_minor=quote_qty_minor)
    return MarketOrderDone(res.order_id, res.status, res.filled_qty_minor, res.quote_filled_minor, res.fee_minor, 0)


def sell(city: CityContext, uow, *, actor: str, instrument: str, qty_minor: int) -> MarketOrderDone:
    """Market sell of ``qty_minor``; the proceeds (net of the fee) stay in the customer's exchange account."""
    res = place_order(city, uow, actor=actor, instrument=instrument, side="sell", type="market",
                      qty_minor=qty_minor)
    return MarketOrderDone(res.order_id, res.status, res.filled_qty_minor, res.quote_filled_minor, res.fee_minor,
                           res.quote_filled_minor - res.fee_minor)


def cancel_order(city: CityContext, uow, *, order_id: int):
    """Cancel the owner's open order and release what it held."""
    owner = order_owner(uow, order_id)
    res = city.exchange.cancel_order(uow, owner, order_id)
    audit.append(uow, owner, "exchange.cancel", res.symbol, {"customer": owner, "order_id": order_id,
                                                           "remaining_minor": res.remaining_minor})
    events.emit(uow, "order.cancelled", {"object": "order", "order_id": order_id, "customer": owner,
                                         "instrument": res.symbol, "status": "cancelled",
                                         "remaining_minor": res.remaining_minor}, customer=owner)
    return res


def order_owner(uow, order_id: int) -> str:
    """Who placed order ``order_id`` (``OrderNotFound`` if nobody did)."""
    owner = exchange_queries.owner_of_order(uow, order_id)
    if owner is None:
        raise OrderNotFound(f"no order {order_id}", order_id=order_id)
    return owner


def _tenge_needed(inst, qty_minor: int | None, quote_qty_minor: int | None, price_minor: int | None) -> int:
    if quote_qty_minor is not None:
        return quote_qty_minor
    if price_minor is not None and qty_minor is not None:
        return buy_hold_minor(price_minor, qty_minor, inst.base_unit, max(inst.maker_fee_bps, inst.taker_fee_bps))
    return 0   # a market buy by quantity: the exchange prices the hold; the exchange account is funded first


def _fund_exchange_account(city: CityContext, uow, actor: str, bank_account_id: int, need_minor: int) -> None:
    """Move from the bank account what the customer's tenge account at the exchange lacks for ``need_minor``."""
    ex_kzt = city.customer_account(uow, actor, "KZT")
    have = uow.balance(ex_kzt).available_minor
    if need_minor > have:
        move = min(need_minor - have, uow.balance(bank_account_id).available_minor)
        if move > 0:
            uow.transfer([Posting(bank_account_id, -move), Posting(ex_kzt, move)],
                         memo="tenge from the bank account to the exchange")
