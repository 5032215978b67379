"""The rules' view of a cardholder's recent spending, read through the card package."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from card import authorizations

from .decision import PastAuthorization


def card_history_later(uow, cardholder_id: str, since: datetime) -> Callable[[], list[PastAuthorization]]:
    """Approved authorizations of ``cardholder_id`` created at or after ``since``, oldest first (bounded): read
    with the next statement of ``uow`` (PostgreSQL: in its round trip), given when the returned function is
    called."""
    read = authorizations.spending_since_later(uow, cardholder_id, since)
    return lambda: [PastAuthorization(at, amount, merchant) for at, amount, merchant in read()]
