"""Reading authorizations: the card package's queries of its ``card_authorizations`` table for the layers
above it (the POS answer, a merchant's list, scope checks, the rules' history, reports)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import case, func, select

from ledger.types import from_micros, to_micros

from . import response_codes as rc
from . import tables as t

MAX_PAGE = 1000

_ROW_FIELDS = ("id", "idempotency_key", "merchant_id", "response_code", "reason", "auth_code", "amount_minor",
               "status", "captured_minor", "reversed_minor", "refunded_minor", "kind", "created_at")
_SELECT = f"SELECT {', '.join(_ROW_FIELDS)} FROM card_authorizations"
_BY_ID = _SELECT + " WHERE id = :id"
_OF_MERCHANT = _SELECT + " WHERE merchant_id = :merchant AND id > :after ORDER BY id LIMIT :limit"
_LATEST_OF_MERCHANT = _SELECT + " WHERE merchant_id = :merchant ORDER BY id DESC LIMIT :limit"
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
    kind: str  # purchase, atm_withdrawal or p2p
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


def latest_of_merchant(uow, merchant_id: str, *, limit: int = 20) -> list[AuthorizationRow]:
    """The merchant's newest ``limit`` authorizations (approved and declined), newest first."""
    rows = uow.sql.all(_LATEST_OF_MERCHANT, {"merchant": str(merchant_id), "limit": max(1, min(int(limit), MAX_PAGE))})
    return [_row(r) for r in rows]


def merchant_of(uow, authorization_id: int) -> str | None:
    """The merchant the authorization was made at (who may capture, reverse or refund it), or None."""
    found = uow.sql.one(_MERCHANT_OF, {"id": int(authorization_id)})
    return None if found is None else found[0]


# -- by purchase reference, holder and for reports ------------------------------------------------------
def id_by_key(uow, idempotency_key: str) -> int | None:
    """The authorization made under ``idempotency_key`` (a purchase's durable key), or None."""
    found = uow.sql.one("SELECT id FROM card_authorizations WHERE idempotency_key = :key", {"key": idempotency_key})
    return None if found is None else int(found[0])


def purchase_by_key(uow, idempotency_key: str) -> dict | None:
    """A purchase as the POS terminal shows it (cardholder, merchant, status, amounts, merchant fee), or None."""
    a = t.authorizations.c
    row = uow.conn.execute(select(a.id, a.cardholder_id, a.merchant_id, a.amount_minor, a.status, a.response_code,
                                  a.captured_minor, a.reversed_minor, a.refunded_minor, a.merchant_fee_minor)
                           .where(a.idempotency_key == idempotency_key)).first()
    return None if row is None else dict(row._mapping)


def flags_of(uow, cardholder_id: str, *, limit: int = 10_000) -> list[tuple[str, str]]:
    """Every (rule, reason) flag raised on the holder's authorizations, approved or declined, in order."""
    a = t.authorizations.c
    rows = uow.conn.execute(select(a.flags).where(a.cardholder_id == cardholder_id).order_by(a.id)
                            .limit(limit)).scalars().all()
    return [tuple(f) for row in rows for f in (row or [])]


def volumes(uow) -> dict:
    """City-wide authorizations: count, approved, declined, approved/captured/refunded amounts (tiyn)."""
    a = t.authorizations.c
    approved = a.response_code.in_(sorted(rc.APPROVALS))
    row = uow.conn.execute(select(
        func.count(), func.coalesce(func.sum(case((approved, 1), else_=0)), 0),
        func.coalesce(func.sum(case((approved, a.amount_minor), else_=0)), 0),
        func.coalesce(func.sum(a.captured_minor), 0), func.coalesce(func.sum(a.refunded_minor), 0),
        func.coalesce(func.sum(case((approved, a.shortfall_minor), else_=0)), 0))).one()
    total, ok, approved_minor, captured, refunded, crypto = (int(v) for v in row)
    return {"authorizations": total, "approved": ok, "declined": total - ok, "approved_minor": approved_minor,
            "captured_minor": captured, "refunded_minor": refunded, "crypto_funded_minor": crypto}


# Purchases that spent money (a reversed or expired authorization never left the account).
SPENDING_STATUSES = ("approved", "captured", "refunded")
MAX_HISTORY_ROWS = 5_000
# Read on every authorization (the sandbox's rules): parametrised SQL on the unit of work's own cursor.
_SPENDING = ("SELECT created_at, amount_minor, merchant_id FROM card_authorizations "
             "WHERE cardholder_id = :holder AND created_at >= :since "
             f"AND status IN ({', '.join(repr(s) for s in SPENDING_STATUSES)}) "
             f"ORDER BY created_at DESC, id DESC LIMIT {MAX_HISTORY_ROWS}")


def spending_since_later(uow, cardholder_id: str, since: datetime) -> Callable[[], list[tuple[datetime, int, str]]]:
    """(at, amount, merchant) of the holder's purchases that spent money since ``since``, oldest first: read
    with the next statement of ``uow`` (``uow.sql.read_ahead``), given when the returned function is called."""
    ahead = uow.sql.read_ahead(_SPENDING, {"holder": cardholder_id, "since": to_micros(since)})
    return lambda: [(from_micros(r[0]), r[1], r[2] or "") for r in reversed(ahead.all())]


def approvals_of_cardholders(uow, cardholder_prefix: str) -> tuple[int, int]:
    """(approved authorizations of the cardholders whose id starts with ``cardholder_prefix``, how many of
    them sold crypto just in time): what a benchmark checks its answered approvals against."""
    a = t.authorizations.c
    row = uow.conn.execute(select(func.count(), func.coalesce(func.sum(case((a.shortfall_minor > 0, 1), else_=0)), 0))
                           .where(a.cardholder_id.startswith(cardholder_prefix, autoescape=True),
                                  a.response_code.in_(sorted(rc.APPROVALS)))).one()
    return int(row[0]), int(row[1])
