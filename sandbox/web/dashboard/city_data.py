"""Read-only look-ups the pages need that the CryptoCity facade has no verb for (yet): who the customers
and merchants are, a customer's card and accounts, one purchase by reference, city-wide card volumes and
the latest audit entries. Plain SQL over the card, ledger and sandbox tables; bounded; never writes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import case, func, select

from card import tables as ct
from card.pan import mask_pan
from sandbox.tables import audit_log

MAX_OPTIONS = 500  # a populated city has thousands of customers: the pickers list the first 500


@dataclass(frozen=True)
class CustomerOption:
    actor: str
    card_id: int
    masked_pan: str
    status: str


@dataclass(frozen=True)
class MerchantOption:
    id: str
    name: str
    mcc: str
    in_zone: bool


def customers(city, only: str | None = None) -> list[CustomerOption]:
    """Onboarded customers with their (first) card, by name; ``only`` restricts to one customer."""
    c = ct.cards.c
    query = select(c.cardholder_id, func.min(c.id)).group_by(c.cardholder_id).order_by(c.cardholder_id)
    if only is not None:
        query = query.where(c.cardholder_id == only)
    with city.ledger.unit_of_work(read_only=True) as uow:
        firsts = uow.conn.execute(query.limit(MAX_OPTIONS)).all()
        ids = [card_id for _, card_id in firsts]
        rows = {r.id: r for r in uow.conn.execute(select(c.id, c.pan, c.status).where(c.id.in_(ids)))} if ids else {}
    return [CustomerOption(actor, card_id, mask_pan(rows[card_id].pan), rows[card_id].status)
            for actor, card_id in firsts]


def merchants(city, only: str | None = None) -> list[MerchantOption]:
    m = ct.merchants.c
    query = select(m.id, m.name, m.mcc, m.in_zone).order_by(m.name, m.id).limit(MAX_OPTIONS)
    if only is not None:
        query = query.where(m.id == only)
    with city.ledger.unit_of_work(read_only=True) as uow:
        return [MerchantOption(r.id, r.name, r.mcc, bool(r.in_zone)) for r in uow.conn.execute(query)]


def customer_card(city, actor: str):
    """The customer's first card (card.Card: PAN, status, controls, funding order), or None."""
    c = ct.cards.c
    with city.ledger.unit_of_work(read_only=True) as uow:
        card_id = uow.conn.execute(select(func.min(c.id)).where(c.cardholder_id == actor)).scalar()
    return None if card_id is None else city.cards.card(card_id)


def customer_accounts(city, actor: str) -> list:
    """The customer's ledger accounts (bank tenge and custodial crypto) with balance, held and available."""
    with city.ledger.unit_of_work(read_only=True) as uow:
        return [a for a in uow.accounts_of(actor) if a.purpose in ("bank", "customer")]


def purchase(city, ref: str) -> dict | None:
    """The purchase a POS reference paid for: its authorization row (merchant, cardholder, status, amounts)."""
    a = ct.authorizations.c
    with city.ledger.unit_of_work(read_only=True) as uow:
        row = uow.conn.execute(select(a.id, a.cardholder_id, a.merchant_id, a.amount_minor, a.status,
                                      a.response_code, a.captured_minor, a.reversed_minor, a.refunded_minor)
                               .where(a.idempotency_key == f"pay:{ref}")).first()
    return None if row is None else dict(row._mapping)


def counts(city) -> dict:
    """How many customers (with a card) and merchants the city has."""
    with city.ledger.unit_of_work(read_only=True) as uow:
        people = uow.conn.execute(select(func.count(func.distinct(ct.cards.c.cardholder_id)))).scalar_one()
        shops = uow.conn.execute(select(func.count()).select_from(ct.merchants)).scalar_one()
    return {"customers": int(people), "merchants": int(shops)}


def card_volumes(city) -> dict:
    """City-wide authorizations: count, approved, declined, approved/captured/refunded amounts (tiyn)."""
    a = ct.authorizations.c
    approved = a.response_code == "00"
    with city.ledger.unit_of_work(read_only=True) as uow:
        row = uow.conn.execute(select(
            func.count(), func.coalesce(func.sum(case((approved, 1), else_=0)), 0),
            func.coalesce(func.sum(case((approved, a.amount_minor), else_=0)), 0),
            func.coalesce(func.sum(a.captured_minor), 0), func.coalesce(func.sum(a.refunded_minor), 0),
            func.coalesce(func.sum(case((approved, a.shortfall_minor), else_=0)), 0))).one()
    total, ok, approved_minor, captured, refunded, crypto = (int(v) for v in row)
    return {"authorizations": total, "approved": ok, "declined": total - ok, "approved_minor": approved_minor,
            "captured_minor": captured, "refunded_minor": refunded, "crypto_funded_minor": crypto}


def latest_audit(city, limit: int = 10) -> list[dict]:
    log = audit_log.c
    with city.ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(select(log.seq, log.at, log.actor, log.action, log.subject, log.details)
                                .order_by(log.seq.desc()).limit(limit)).all()
    out = []
    for r in rows:
        details = json.loads(r.details)
        summary = ", ".join(f"{k}={v}" for k, v in details.items()
                            if k not in ("tax", "sold", "flags") and not isinstance(v, (dict, list)))
        out.append({"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject,
                    "summary": summary[:160]})
    return out
