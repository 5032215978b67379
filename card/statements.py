"""Statements: every purchase on a card (or all a customer's cards), its status history and the crypto sold."""
from __future__ import annotations

from datetime import tzinfo

from sqlalchemy import select

from . import tables as t
from .message_types import message_type

MAX_STATEMENT_ROWS = 1_000


def _lines(uow, where, limit: int, *, tz: tzinfo) -> list[dict]:
    """Statement lines; ``day`` is the programme's calendar day (``tz``) the purchase counts against."""
    a = t.authorizations
    rows = uow.conn.execute(select(a).where(where).order_by(a.c.id).limit(min(limit, MAX_STATEMENT_ROWS))).all()
    ids = [r.id for r in rows]
    events: dict[int, list] = {i: [] for i in ids}
    legs: dict[int, list] = {i: [] for i in ids}
    if ids:
        for e in uow.conn.execute(select(t.auth_events).where(t.auth_events.c.authorization_id.in_(ids))
                                  .order_by(t.auth_events.c.id)):
            events[e.authorization_id].append({"at": e.at.isoformat(), "kind": e.kind,
                                               "message_type": message_type(e.kind),
                                               "amount_minor": e.amount_minor, "note": e.note})
        for leg in uow.conn.execute(select(t.funding_legs).where(t.funding_legs.c.authorization_id.in_(ids))
                                    .order_by(t.funding_legs.c.id)):
            legs[leg.authorization_id].append({"asset": leg.asset, "sold_qty_minor": leg.sold_qty_minor,
                                               "proceeds_minor": leg.proceeds_minor, "avg_price_minor": leg.avg_price_minor,
                                               "fee_minor": leg.fee_minor, "slippage_bps": leg.slippage_bps})
    return [{"authorization_id": r.id, "kind": r.kind, "card_id": r.card_id, "merchant_id": r.merchant_id,
             "amount_minor": r.amount_minor, "response_code": r.response_code, "reason": r.reason,
             "status": r.status, "auth_code": r.auth_code, "captured_minor": r.captured_minor,
             "reversed_minor": r.reversed_minor, "refunded_minor": r.refunded_minor,
             "conversion_fee_minor": r.conversion_fee_minor, "at": r.created_at.isoformat(),
             "day": r.created_at.astimezone(tz).date().isoformat(),
             "history": events[r.id], "crypto_sold": legs[r.id]} for r in rows]


def card_statement(uow, card_id: int, limit: int = MAX_STATEMENT_ROWS, *, tz: tzinfo) -> list[dict]:
    return _lines(uow, t.authorizations.c.card_id == card_id, limit, tz=tz)


def customer_statement(uow, customer_id: str, limit: int = MAX_STATEMENT_ROWS, *, tz: tzinfo) -> list[dict]:
    return _lines(uow, t.authorizations.c.cardholder_id == customer_id, limit, tz=tz)


def card_statement_page(uow, card_id: int, *, tz: tzinfo, after_id: int | None = None,
                        limit: int = 100) -> list[dict]:
    """One page of ``card_statement``: the authorizations after ``after_id``, oldest first."""
    a = t.authorizations.c
    return _lines(uow, (a.card_id == card_id) & (a.id > (after_id or 0)), limit, tz=tz)
