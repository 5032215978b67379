"""DB adapter for the rules: a cardholder's recent approved purchases, read from the card's tables."""
from __future__ import annotations

from datetime import datetime

from ledger.types import from_micros, to_micros

from .decision import PastAuthorization

# Purchases that spent money (a reversed or expired authorization never left the account).
SPENDING_STATUSES = ("approved", "captured", "refunded")
MAX_ROWS = 5_000


# Read on every authorization (the rules engine): parametrised SQL on the unit of work's own cursor
# (ledger.fastpath), created_at as BIGINT microseconds (the Timestamp column type).
_HISTORY = ("SELECT created_at, amount_minor, merchant_id FROM card_authorizations "
            "WHERE cardholder_id = :holder AND created_at >= :since "
            f"AND status IN ({', '.join(repr(s) for s in SPENDING_STATUSES)}) "
            f"ORDER BY created_at DESC, id DESC LIMIT {MAX_ROWS}")


def card_history(uow, cardholder_id: str, since: datetime) -> list[PastAuthorization]:
    """Approved authorizations of ``cardholder_id`` created at or after ``since``, oldest first (bounded)."""
    rows = uow.sql.all(_HISTORY, {"holder": cardholder_id, "since": to_micros(since)})
    return [PastAuthorization(from_micros(r[0]), r[1], r[2] or "") for r in reversed(rows)]
