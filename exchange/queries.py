"""Reading the exchange's tables for the layers above it (scope checks, lists, reports)."""
from __future__ import annotations

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
