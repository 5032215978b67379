"""The AIFC exchange: instruments and market data (any key), a customer's own orders.

Instruments appear in URLs as ``BASE-QUOTE`` (``/markets/BTC-KZT/depth`` is BTC/KZT). Prices are
integers in quote minor units per ONE whole base unit (BTC/KZT 53_000_000_00 = 53 000 000.00 KZT per
BTC); quantities are integers in base minor units (satoshi, gwei, micro-USDT).

Orders: ``limit`` (``qty_minor`` + ``price_minor``, GTC/IOC/FOK, optionally post-only); ``market`` buy by
``quote_qty_minor`` (tenge to spend, fee included — what a card sale needs) and market sell by
``qty_minor``. A buy against tenge takes what the exchange account lacks from the bank account first,
as ``CryptoCity.buy`` does. Market orders run as IOC with a 5 % price collar.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from exchange import queries as exchange_queries
from sandbox.services import customers, trading

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    idempotent_write,
    install_converters,
    page,
    page_schema,
    require_city,
)
from ..responses import json_response
from . import PREFIX
from .schemas import PageQuery, Strict, amount_field, seq_page

blp = Blueprint("exchange", __name__, url_prefix=PREFIX, description="AIFC exchange: market data and orders")
install_converters(blp)
INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d")


class InstrumentSchema(Strict):
    seq = ma.fields.Integer(required=True)
    symbol = ma.fields.String(required=True, metadata={"example": "BTC/KZT"})
    market = ma.fields.String(required=True, metadata={"description": "the symbol as written in URLs",
                                                       "example": "BTC-KZT"})
    base = ma.fields.String(required=True)
    quote = ma.fields.String(required=True)
    tick_size = ma.fields.Integer(required=True, metadata={"description": "price step, quote minor per base unit"})
    lot_size = ma.fields.Integer(required=True, metadata={"description": "quantity step, base minor units"})
    min_notional_minor = ma.fields.Integer(required=True)
    maker_fee_bps = ma.fields.Integer(required=True)
    taker_fee_bps = ma.fields.Integer(required=True)
    trading_enabled = ma.fields.Boolean(required=True)


InstrumentPage = page_schema(InstrumentSchema, "InstrumentPage")


class DepthArgs(Strict):
    levels = ma.fields.Integer(load_default=20, validate=ma.validate.Range(1, 100))


class DepthSchema(Strict):
    symbol = ma.fields.String(required=True)
    bids = ma.fields.List(ma.fields.List(ma.fields.Integer()), required=True,
                          metadata={"description": "[price_minor, qty_minor], best first"})
    asks = ma.fields.List(ma.fields.List(ma.fields.Integer()), required=True)
    seq = ma.fields.Integer(required=True, metadata={"description": "the book's sequence number"})


class TradeSchema(Strict):
    id = ma.fields.Integer(required=True)
    price_minor = ma.fields.Integer(required=True, metadata={"description": "quote minor units per whole base unit"})
    qty_minor = ma.fields.Integer(required=True)
    notional_minor = ma.fields.Integer(required=True)
    taker_side = ma.fields.String(required=True)
    at = ma.fields.String(required=True)


TradePage = page_schema(TradeSchema, "TradePage")


class CandleArgs(Strict):
    interval = ma.fields.String(load_default="1h", validate=ma.validate.OneOf(INTERVALS))
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, 200))


class CandleSchema(Strict):
    """Open, high, low and close are prices: quote minor units per whole base unit, like ``price_minor``."""
    start = ma.fields.String(required=True)
    open = ma.fields.Integer(required=True)
    high = ma.fields.Integer(required=True)
    low = ma.fields.Integer(required=True)
    close = ma.fields.Integer(required=True)
    volume_minor = ma.fields.Integer(required=True)
    quote_volume_minor = ma.fields.Integer(required=True)
    trades = ma.fields.Integer(required=True)


class CandlesSchema(Strict):
    symbol = ma.fields.String(required=True)
    interval = ma.fields.String(required=True)
    candles = ma.fields.List(ma.fields.Nested(CandleSchema), required=True)


class OrderCreate(Strict):
    instrument = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[A-Z][A-Z0-9]{1,9}/[A-Z][A-Z0-9]{1,9}$"),
                                  metadata={"example": "BTC/KZT"})
    side = ma.fields.String(required=True, validate=ma.validate.OneOf(("buy", "sell")))
    type = ma.fields.String(load_default="limit", validate=ma.validate.OneOf(("limit", "market")))
    qty_minor = amount_field(required=False, load_default=None, description="base minor units (limit; market sell)")
    quote_qty_minor = amount_field(required=False, load_default=None,
                                   description="quote minor units to spend, fee included (market buy)")
    price_minor = amount_field(required=False, load_default=None,
                               description="limit price, quote minor units per whole base unit "
                                           "(``price``, its old name, is read as this field)")
    tif = ma.fields.String(load_default="GTC", validate=ma.validate.OneOf(("GTC", "IOC", "FOK")))
    post_only = ma.fields.Boolean(load_default=False)
    RENAMED = {"price": "price_minor"}

    @ma.validates_schema
    def _shape(self, data, **_):
        if data["type"] == "limit":
            if (data.get("qty_minor") is None or data.get("price_minor") is None
                    or data.get("quote_qty_minor") is not None):
                raise ma.ValidationError("a limit order gives qty_minor and price_minor (no quote_qty_minor)")
        elif data["side"] == "buy":
            if (data.get("quote_qty_minor") is None or data.get("qty_minor") is not None
                    or data.get("price_minor") is not None):
                raise ma.ValidationError("a market buy gives quote_qty_minor only (the tenge to spend)")
        elif (data.get("qty_minor") is None or data.get("quote_qty_minor") is not None
              or data.get("price_minor") is not None):
            raise ma.ValidationError("a market sell gives qty_minor only")


class FillSchema(Strict):
    trade_id = ma.fields.Integer(required=True)
    price_minor = ma.fields.Integer(required=True, metadata={"description": "quote minor units per whole base unit"})
    qty_minor = ma.fields.Integer(required=True)
    notional_minor = ma.fields.Integer(required=True)
    fee_minor = ma.fields.Integer(required=True, metadata={"description": "this order's fee on the fill"})
    liquidity = ma.fields.String(required=True, validate=ma.validate.OneOf(("taker", "maker")),
                                 metadata={"description": "taker: traded on arrival; maker: traded while resting"})


class OrderSchema(Strict):
    id = ma.fields.Integer(required=True)
    symbol = ma.fields.String(required=True)
    owner = ma.fields.String(required=True)
    side = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    tif = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "open, filled, cancelled, expired, replaced"})
    reason = ma.fields.String(allow_none=True, required=True, metadata={
        "description": "why it ended before it was done: protection_price, no_liquidity, self_trade_prevention, "
                       "ioc_unfilled, budget_below_lot (expired); cancelled_by_owner, self_trade_prevention "
                       "(cancelled); amended (replaced)"})
    price_minor = ma.fields.Integer(allow_none=True, required=True, metadata={
        "description": "limit price, quote minor units per whole base unit (null: a market order)"})
    qty_minor = ma.fields.Integer(required=True)
    filled_qty_minor = ma.fields.Integer(required=True)
    remaining_minor = ma.fields.Integer(required=True)
    quote_filled_minor = ma.fields.Integer(required=True)
    fee_minor = ma.fields.Integer(required=True)
    fills = ma.fields.List(ma.fields.Nested(FillSchema), required=True)


OrderPage = page_schema(OrderSchema, "OrderPage")


class OrderFilter(PageQuery):
    instrument = ma.fields.String(validate=ma.validate.Regexp(r"^[A-Z][A-Z0-9]{1,9}/[A-Z][A-Z0-9]{1,9}$"))


def order_dict(res) -> dict:
    return {"id": res.order_id, "symbol": res.symbol, "owner": res.owner, "side": res.side, "type": res.type,
            "tif": res.tif, "status": res.status, "reason": res.reason, "price_minor": res.price_minor,
            "qty_minor": res.qty_minor,
            "filled_qty_minor": res.filled_qty_minor, "remaining_minor": res.remaining_minor,
            "quote_filled_minor": res.quote_filled_minor, "fee_minor": res.fee_minor,
            "fills": [{"trade_id": f.trade_id, "price_minor": f.price_minor, "qty_minor": f.qty_minor,
                       "notional_minor": f.notional_minor, "fee_minor": f.fee_minor, "liquidity": f.liquidity}
                      for f in res.fills]}


def _instrument(city, symbol: str):
    return city.exchange.instruments.get(symbol)  # unknown_instrument -> 404


@blp.route("/markets")
@access(shared=True)
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, InstrumentPage)
def instruments(limit: int, after_id: int | None = None):
    """The instruments of the exchange (public market information: any key)."""
    city = require_city()
    items = [{"symbol": i.symbol, "market": i.symbol.replace("/", "-"), "base": i.base, "quote": i.quote,
              "tick_size": i.tick_size, "lot_size": i.lot_size, "min_notional_minor": i.min_notional_minor,
              "maker_fee_bps": i.maker_fee_bps, "taker_fee_bps": i.taker_fee_bps,
              "trading_enabled": i.trading_enabled} for i in city.exchange.instruments]
    return seq_page(items, limit, after_id)


@blp.route("/markets/<market:symbol>/depth")
@access(shared=True)
@blp.arguments(DepthArgs, location="query", as_kwargs=True)
@blp.response(200, DepthSchema)
def depth(symbol: str, levels: int):
    """Order book depth (L2): price levels with the quantity resting at each, best first."""
    city = require_city()
    _instrument(city, symbol)
    d = city.exchange.depth(symbol, levels)
    return {"symbol": symbol, "bids": [list(x) for x in d["bids"]], "asks": [list(x) for x in d["asks"]],
            "seq": d["seq"]}


@blp.route("/markets/<market:symbol>/trades")
@access(shared=True)
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, TradePage)
def trades(symbol: str, limit: int, after_id: int | None = None):
    """Trades, NEWEST first; ``next_after_id`` continues with older trades (ids below it)."""
    city = require_city()
    _instrument(city, symbol)
    with city.ledger.unit_of_work(read_only=True) as uow:
        rows = exchange_queries.trades(uow, symbol, before_id=after_id, limit=limit + 1)
    return page([{"id": r.id, "price_minor": r.price_minor, "qty_minor": r.qty_minor, "notional_minor": r.notional_minor,
                  "taker_side": r.taker_side, "at": r.created_at.isoformat()} for r in rows], limit)


@blp.route("/markets/<market:symbol>/candles")
@access(shared=True)
@blp.arguments(CandleArgs, location="query", as_kwargs=True)
@blp.response(200, CandlesSchema)
def candles(symbol: str, interval: str, limit: int):
    """OHLCV candles up to the sandbox's now, oldest first (intervals without trades are skipped)."""
    city = require_city()
    _instrument(city, symbol)
    rows = city.exchange.candles(symbol, interval, limit)
    return {"symbol": symbol, "interval": interval,
            "candles": [dict(c, start=c["start"].isoformat()) for c in rows]}


@blp.route("/customers/<name:actor>/orders", methods=["POST"])
@access("customer")
@blp.arguments(OrderCreate)
@blp.response(201, OrderSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def place_order(body: dict, actor: str):
    """Place the customer's own order. Refusals (no licence, KYC, tick/lot/min notional, no liquidity,
    insufficient balance…) are problems and change nothing."""
    city = require_city()
    _instrument(city, body["instrument"])

    def compute(uow):
        return order_dict(trading.place_order(city.ctx, uow, actor=actor, **body)), 201
    return json_response(*idempotent_write(compute))


@blp.route("/customers/<name:actor>/orders")
@access("customer")
@blp.arguments(OrderFilter, location="query", as_kwargs=True)
@blp.response(200, OrderPage)
def open_orders(actor: str, limit: int, after_id: int | None = None, instrument: str | None = None):
    """The customer's OPEN orders, oldest first."""
    city = require_city()

    def read(uow):
        customers.require(uow, actor)
        ids = exchange_queries.open_order_ids(uow, actor, symbol=instrument, after_id=after_id, limit=limit + 1)
        return [order_dict(city.exchange.order(uow, i)) for i in ids]
    return page(city.ctx.read(read), limit)


@blp.route("/orders/<id:order_id>")
@access("customer")
@blp.response(200, OrderSchema)
def get_order(order_id: int):
    """One order (the customer's own) with its fills, taken on arrival and made while resting (up to 500;
    the totals count them all)."""
    city = require_city()
    with city.ledger.unit_of_work(read_only=True) as uow:
        return order_dict(city.exchange.order(uow, order_id))


@blp.route("/orders/<id:order_id>/cancel", methods=["POST"])
@access("customer")
@blp.response(200, OrderSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def cancel_order(order_id: int):
    """Cancel an open order and release the funds it held; a filled or cancelled order is a 409."""
    city = require_city()

    def compute(uow):
        return order_dict(trading.cancel_order(city.ctx, uow, order_id=order_id)), 200
    return json_response(*idempotent_write(compute))


