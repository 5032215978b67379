"""Read-only look-ups the pages need: who the customers and merchants are, a customer's card and accounts,
one purchase by reference, city-wide card volumes and the latest audit entries — each read through the
package that owns the table, in a read-only unit of work at the city's time; bounded; never writes.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from card import authorizations, issuing
from card.pan import mask_pan
from sandbox import audit, city_state
from sandbox.services.payments import pay_key

MAX_OPTIONS = 500  # a populated city has thousands of customers: the pickers list the first 500


@dataclass(frozen=True)
class CustomerOption:
    actor: str
    card_id: int
    masked_pan: str
    status: str
    full_name: str | None = None

    @property
    def label(self) -> str:
        """How a picker names the customer: "Aigerim Zhaksybekova (cust-00001)", or the actor id alone."""
        return f"{self.full_name} ({self.actor})" if self.full_name else self.actor


@dataclass(frozen=True)
class MerchantOption:
    id: str
    name: str
    mcc: str
    in_zone: bool


def customers(city, only: str | None = None) -> list[CustomerOption]:
    """Onboarded customers with their (first) card and full name, by actor id; ``only`` restricts to one."""
    def read(uow):
        rows = issuing.first_cards(uow, cardholder_id=only, limit=MAX_OPTIONS)
        return rows, city_state.profiles(uow.conn, [row[0] for row in rows])
    rows, profiles = city.ctx.read(read)
    return [CustomerOption(actor, card_id, mask_pan(pan), status,
                           profiles[actor].full_name if actor in profiles else None)
            for actor, card_id, pan, status in rows]


def merchants(city, only: str | None = None) -> list[MerchantOption]:
    rows = city.ctx.read(lambda uow: issuing.merchants(uow, merchant_id=only, limit=MAX_OPTIONS))
    return [MerchantOption(m.id, m.name, m.mcc, m.in_zone) for m in rows]


def customer_card(city, actor: str):
    """The customer's first card (card.Card: PAN, status, controls, funding order), or None."""
    def read(uow):
        card_id = issuing.first_card_id(uow, actor)
        return None if card_id is None else issuing.get_card(uow, card_id)
    return city.ctx.read(read)


def customer_accounts(city, actor: str) -> list:
    """The customer's ledger accounts (bank tenge and custodial crypto) with balance, held and available."""
    return city.ctx.read(lambda uow: [a for a in uow.accounts_of(actor) if a.purpose in ("bank", "customer")])


def purchase(city, ref: str) -> dict | None:
    """The purchase a POS reference paid for: its authorization row (merchant, cardholder, status, amounts)."""
    return city.ctx.read(lambda uow: authorizations.purchase_by_key(uow, pay_key(ref)))


def merchant_purchases(city, merchant_id: str, limit: int = 20) -> list[dict]:
    """The merchant's latest ``limit`` authorizations, newest first, with the POS reference each was paid
    with (what the terminal's capture and refund buttons name)."""
    rows = city.ctx.read(lambda uow: authorizations.latest_of_merchant(uow, merchant_id, limit=limit))
    return [{**r.__dict__, "ref": (r.idempotency_key or "").removeprefix("pay:")} for r in rows]


def counts(city) -> dict:
    """How many customers (with a card) and merchants the city has."""
    return city.ctx.read(issuing.counts)


def card_volumes(city) -> dict:
    """City-wide authorizations: count, approved, declined, approved/captured/refunded amounts (tiyn)."""
    return city.ctx.read(authorizations.volumes)


def latest_audit(city, limit: int = 10) -> list[dict]:
    rows = city.ctx.read(lambda uow: audit.latest(uow.conn, limit))
    out = []
    for r in rows:
        details = json.loads(r.details)
        summary = ", ".join(f"{k}={v}" for k, v in details.items()
                            if k not in ("tax", "sold", "flags") and not isinstance(v, (dict, list)))
        out.append({"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action, "subject": r.subject,
                    "summary": summary[:160]})
    return out
