"""Reading the exchange's tables for the layers above it (scope checks, lists, reports)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from ledger.types import bucket_start, id_chunks, time_bucket

from . import tables as t

_OWNER_OF_ORDER = "SELECT owner FROM exchange_orders WHERE id = :id"


def owner_of_order(uow, order_id: int) -> str | None:
    """Who placed order ``order_id``, or None if there is no such order."""
    found = uow.sql.one(_OWNER_OF_ORDER, {"id": int(order_id)})
    return None if found is None else found[0]


_VOLUME = ("SELECT symbol, COUNT(*), COALESCE(SUM(qty_minor), 0), COALESCE(SUM(notional_minor), 0) "
           "FROM exchange_trades GROUP BY symbol ORDER BY symbol")


def volume_by_symbol(uow) -> list[tuple[str, int, int, int]]:
    """(symbol, trades, base quantity, notional) of every instrument that traded, by symbol."""
    return [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in uow.sql.all(_VOLUME)]


MAX_PAGE = 1000


@dataclass(frozen=True)
class TradeRow:
    """One trade as the market sees it (no owners, no fees)."""
    id: int
    price_minor: int         # quote minor units per whole base unit
    qty_minor: int
    notional_minor: int
    taker_side: str
    created_at: datetime


def trades(uow, symbol: str, *, before_id: int | None = None, limit: int = 100) -> list[TradeRow]:
    """Trades of ``symbol``, NEWEST first, with ids below ``before_id`` (the previous page's last id)."""
    tr = t.trades.c
    cond = [tr.symbol == symbol]
    if before_id is not None:
        cond.append(tr.id < before_id)
    rows = uow.conn.execute(select(tr.id, tr.price_minor, tr.qty_minor, tr.notional_minor, tr.taker_side, tr.created_at)
                            .where(and_(*cond)).order_by(tr.id.desc()).limit(max(1, min(int(limit), MAX_PAGE))))
    return [TradeRow(*r) for r in rows]


def open_order_ids(uow, owner: str, *, symbol: str | None = None, after_id: int | None = None,
                   limit: int = 100) -> list[int]:
    """Ids of ``owner``'s open orders (of ``symbol`` if given), oldest first, after ``after_id``."""
    o = t.orders.c
    cond = [o.owner == owner, o.status == "open"]
    if symbol is not None:
        cond.append(o.symbol == symbol)
    if after_id is not None:
        cond.append(o.id > after_id)
    return list(uow.conn.execute(select(o.id).where(and_(*cond)).order_by(o.id)
                                 .limit(max(1, min(int(limit), MAX_PAGE)))).scalars())


# -- market data: candles and 24-hour figures, added up by the database ---------------------------------
def _price_of(uow, trade_ids) -> dict[int, int]:  # noqa: ANN001
    tr = t.trades.c
    prices: dict[int, int] = {}
    for chunk in id_chunks(trade_ids):
        prices.update(uow.conn.execute(select(tr.id, tr.price_minor).where(tr.id.in_(chunk))).all())
    return prices


def candles(uow, symbol: str, since: datetime, until: datetime, interval_s: int) -> list[dict]:
    """OHLCV candles of ``symbol``'s trades in (``since``, ``until``], one per ``interval_s`` seconds since
    the epoch that had trades, oldest first: open and close are the first and last trade's prices (by id)."""
    tr = t.trades.c
    width = interval_s * 10**6
    bucket = time_bucket(tr.created_at, width).label("bucket")
    inner = select(bucket, tr.id, tr.price_minor, tr.qty_minor, tr.notional_minor).where(
        tr.symbol == symbol, tr.created_at > since, tr.created_at <= until).subquery()
    rows = uow.conn.execute(
        select(inner.c.bucket, func.min(inner.c.id), func.max(inner.c.id), func.max(inner.c.price_minor),
               func.min(inner.c.price_minor), func.sum(inner.c.qty_minor), func.sum(inner.c.notional_minor),
               func.count()).group_by(inner.c.bucket).order_by(inner.c.bucket)).all()
    price = _price_of(uow, [r[1] for r in rows] + [r[2] for r in rows])
    return [{"start": bucket_start(b, width),
             "open": price[first], "high": int(high), "low": int(low), "close": price[last],
             "volume_minor": int(qty), "quote_volume_minor": int(notional), "trades": int(count)}
            for b, first, last, high, low, qty, notional, count in rows]


@dataclass(frozen=True)
class Window:
    """``symbol``'s trades in a time window: first and last price (by id), high, low, volumes, count."""
    open: int | None
    high: int | None
    low: int | None
    last: int | None
    volume_minor: int
    quote_volume_minor: int
    trades: int


def window(uow, symbol: str, since: datetime, until: datetime) -> Window:
    """The figures of ``symbol``'s trades in (``since``, ``until``]."""
    tr = t.trades.c
    first, last, high, low, qty, notional, count = uow.conn.execute(
        select(func.min(tr.id), func.max(tr.id), func.max(tr.price_minor), func.min(tr.price_minor),
               func.coalesce(func.sum(tr.qty_minor), 0), func.coalesce(func.sum(tr.notional_minor), 0), func.count())
        .where(tr.symbol == symbol, tr.created_at > since, tr.created_at <= until)).one()
    if not count:
        return Window(None, None, None, None, 0, 0, 0)
    price = _price_of(uow, (first, last))
    return Window(price[first], int(high), int(low), price[last], int(qty), int(notional), int(count))
