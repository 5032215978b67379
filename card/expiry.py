"""Expire now: release what is left of an approved authorization's hold at once, as its expiry date would
(the merchant will not clear it; the terminal asked for it to go). Tenge from crypto sold stays in the bank
account, as at a natural expiry.

An authorization with part of it captured already (several partial captures) keeps what was captured: it
becomes ``captured``, and only the hold still left is released. Nothing left to release:
``NothingToExpire``. With ``key`` a retry answers the authorization as it stands, changing nothing.
"""
from __future__ import annotations

from sqlalchemy import update

from ledger import format_amount

from . import tables as t
from .authorization import APPROVED, CAPTURED, EXPIRED_AUTH, bump_usage
from .errors import NothingToExpire


def expire_now(service, uow, authorization_id: int, *, key: str | None = None) -> dict:
    from .clearing import _auth, _event, _replayed, authorization
    row = _auth(uow, authorization_id)
    if _replayed(uow, key, authorization_id, EXPIRED_AUTH, None):
        return authorization(uow, authorization_id, replayed=True)
    if row.status != APPROVED:
        raise NothingToExpire(f"authorization {authorization_id} has no hold left to expire: it is {row.status}",
                              authorization_id=authorization_id, status=row.status)
    held = row.amount_minor - row.captured_minor - row.reversed_minor
    uow.void_hold(row.hold_id, amount_minor=held)
    uow.conn.execute(update(t.authorizations).where(t.authorizations.c.id == authorization_id).values(
        status=CAPTURED if row.captured_minor else EXPIRED_AUTH, reversed_minor=row.reversed_minor + held))
    bump_usage(uow, row.card_id, row.created_at, -held, 0, tz=service.timezone)
    _event(uow, authorization_id, EXPIRED_AUTH, held,
           f"expired on request: {format_amount(held, 'KZT')} released", key)
    return {**authorization(uow, authorization_id), "released_minor": held}
