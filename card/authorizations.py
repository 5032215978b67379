"""Reading authorizations: the card package's queries of its ``card_authorizations`` table for the layers
above it (the POS answer, a merchant's list, scope checks, the rules' history, reports)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.types import from_micros

MAX_PAGE = 1000

_ROW_FIELDS = ("id", "idempotency_key", "merchant_id", "response_code", "reason", "auth_code", "amount_minor",
               "status", "captured_minor", "reversed_minor", "refunded_minor", "created_at")
_SELECT = f"SELECT {', '.join(_ROW_FIELDS)} FROM card_authorizations"
_BY_ID = _SELECT + " WHERE id = :id"
_OF_MERCHANT = _SELECT + " WHERE merchant_id = :merchant AND id > :after ORDER BY id LIMIT :limit"
_MERCHANT_OF = "SELECT merchant_id FROM card_authorizations WHERE id = :id"


@dataclass(frozen=True)
class AuthorizationRow:
    """What an acquirer sees of an authorization (no crypto legs, no AML flags)."""
    id: int
    idempotency_key: str | None
    merchant_id: str | None
    response_code: str
    reason: str
    auth_code: str | None
    amount_minor: int
    status: str
    captured_minor: int
    reversed_minor: int
    refunded_minor: int
    created_at: datetime


def _row(values: tuple) -> AuthorizationRow:
    return AuthorizationRow(*values[:-1], from_micros(int(values[-1])))


def row(uow, authorization_id: int) -> AuthorizationRow | None:
    """The authorization ``authorization_id`` as the acquirer sees it, or None."""
    found = uow.sql.one(_BY_ID, {"id": int(authorization_id)})
    return None if found is None else _row(found)


def of_merchant(uow, merchant_id: str, *, after_id: int | None = None, limit: int = 100) -> list[AuthorizationRow]:
    """The merchant's authorizations (approved and declined), oldest first, after ``after_id``."""
    rows = uow.sql.all(_OF_MERCHANT, {"merchant": str(merchant_id), "after": int(after_id or 0),
                                      "limit": max(1, min(int(limit), MAX_PAGE))})
    return [_row(r) for r in rows]


def merchant_of(uow, authorization_id: int) -> str | None:
    """The merchant the authorization was made at (who may capture, reverse or refund it), or None."""
    found = uow.sql.one(_MERCHANT_OF, {"id": int(authorization_id)})
    return None if found is None else found[0]
