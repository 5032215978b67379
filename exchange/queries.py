"""Reading the exchange's tables for the layers above it (scope checks, lists, reports)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select

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
