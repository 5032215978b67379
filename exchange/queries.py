"""Reading the exchange's tables for the layers above it (scope checks, lists, reports)."""
from __future__ import annotations

_OWNER_OF_ORDER = "SELECT owner FROM exchange_orders WHERE id = :id"


def owner_of_order(uow, order_id: int) -> str | None:
    """Who placed order ``order_id``, or None if there is no such order."""
    found = uow.sql.one(_OWNER_OF_ORDER, {"id": int(order_id)})
    return None if found is None else found[0]
