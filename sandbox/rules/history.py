"""The rules' view of a cardholder's recent spending, read through the card package."""
from __future__ import annotations

from datetime import datetime

from card import authorizations

from .decision import PastAuthorization


def card_history(uow, cardholder_id: str, since: datetime) -> list[PastAuthorization]:
    """Approved authorizations of ``cardholder_id`` created at or after ``since``, oldest first (bounded)."""
    return [PastAuthorization(at, amount, merchant)
            for at, amount, merchant in authorizations.spending_since(uow, cardholder_id, since)]
