"""DB adapter for the rules: a cardholder's recent approved purchases, read from the card's tables."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from .decision import PastAuthorization

# Purchases that spent money (a reversed or expired authorization never left the account).
SPENDING_STATUSES = ("approved", "captured", "refunded")
MAX_ROWS = 5_000


def card_history(uow, cardholder_id: str, since: datetime) -> list[PastAuthorization]:
    """Approved authorizations of ``cardholder_id`` created at or after ``since``, oldest first (bounded)."""
    from card.tables import authorizations as a

    rows = uow.conn.execute(
        select(a.c.created_at, a.c.amount_minor, a.c.merchant_id)
        .where(a.c.cardholder_id == cardholder_id, a.c.created_at >= since, a.c.status.in_(SPENDING_STATUSES))
        .order_by(a.c.created_at.desc(), a.c.id.desc()).limit(MAX_ROWS)
    ).all()
    return [PastAuthorization(r.created_at, r.amount_minor, r.merchant_id or "") for r in reversed(rows)]
