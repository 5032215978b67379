"""Authorization advice: the network approved a purchase in stand-in and the issuer books it (card/advice.py:
tenge first, then crypto sold just in time, then a loan on the programme's credit line for the rest — the
customer's debt). Audited as ``card.advice_booked`` with the crypto sold and its tax disposals; the event
``authorization.advice_booked`` carries how it was funded. The debt is an open receivable the customer
repays with ``repay_debt`` (audited as ``card.debt_repaid``)."""
from __future__ import annotations

from dataclasses import dataclass, field

from card import advice as card_advice
from card import issuing

from .. import audit, events
from ..context import CityContext
from ..tax import DISPOSAL, tax_events
from . import customers, merchants
from .payments import NETWORK, pay_key
from .result import Result


@dataclass(frozen=True)
class AdviceBooked(Result):
    """How the issuer booked the network's stand-in approval (``status`` is always "approved")."""
    status: str
    response_code: str
    reason: str
    authorization_id: int
    auth_code: str
    reference: str
    kind: str
    amount_minor: int
    tenge_minor: int
    crypto_minor: int
    conversion_fee_minor: int
    debt_minor: int
    sold: list[dict] = field(default_factory=list)
    replayed: bool = False


@dataclass(frozen=True)
class CardDebt(Result):
    """The customer's debt to the programme's credit line after a repayment (``repaid_minor``)."""
    customer: str
    debt_minor: int
    repaid_minor: int = 0


def snapshot(res: card_advice.AdviceResult, reference: str) -> dict:
    return {"object": "authorization", "authorization_id": res.authorization_id, "reference": reference,
            "card_id": res.card_id, "customer": res.cardholder_id, "merchant_id": res.merchant_id,
            "status": "approved", "kind": res.kind, "response_code": res.response_code, "reason": res.reason,
            "auth_code": res.auth_code, "amount_minor": res.amount_minor, "currency": "KZT",
            "tenge_minor": res.tenge_minor, "crypto_minor": res.crypto_minor,
            "conversion_fee_minor": res.conversion_fee_minor, "debt_minor": res.debt_minor,
            "sold": [dict(leg) for leg in res.sold]}


def book(city: CityContext, uow, *, merchant_id: str, amount_minor: int, ref: str, card_id: int | None = None,
         pan: str | None = None, kind: str | None = None, by: str = NETWORK) -> AdviceBooked:
    """Book the network's stand-in approval of ``amount_minor`` at ``merchant_id`` under the purchase
    reference ``ref`` (captured, reversed or refunded later like any purchase)."""
    res = card_advice.book(city.cards, uow, amount_minor=amount_minor, merchant_id=merchant_id,
                           idempotency_key=pay_key(ref), card_id=card_id, pan=pan, kind=kind)
    if not res.replayed:
        tax = [e for leg in res.sold for e in tax_events(DISPOSAL, leg["asset"], leg["sold_qty_minor"],
                                                         leg["proceeds_minor"], "card", ref)]
        audit.append(uow, by, "card.advice_booked", ref,
                     {"customer": res.cardholder_id, "merchant": res.merchant_id, "kind": res.kind,
                      "amount_minor": res.amount_minor, "tenge_minor": res.tenge_minor,
                      "crypto_minor": res.crypto_minor, "debt_minor": res.debt_minor, "sold": list(res.sold),
                      "tax": tax})
        events.emit(uow, "authorization.advice_booked", snapshot(res, ref), customer=res.cardholder_id,
                    merchant=res.merchant_id)
    return AdviceBooked("approved", res.response_code, res.reason, res.authorization_id, res.auth_code, ref, res.kind,
                        res.amount_minor, res.tenge_minor, res.crypto_minor, res.conversion_fee_minor, res.debt_minor,
                        [dict(leg) for leg in res.sold], res.replayed)


def advise(city: CityContext, uow, *, actor: str, merchant: str, amount_minor: int, ref: str,
           kind: str | None = None) -> AdviceBooked:
    """``book`` for the actor's card at ``merchant`` (id or name)."""
    customer = customers.require(uow, actor)
    return book(city, uow, merchant_id=merchants.resolve(city, uow, merchant), amount_minor=amount_minor, ref=ref,
                card_id=customer.card_id, kind=kind)


def debt(city: CityContext, uow, actor: str) -> CardDebt:
    """What ``actor`` owes the programme's credit line (0 if nothing was lent)."""
    customers.require(uow, actor)
    return CardDebt(actor, card_advice.debt_of(uow, issuing.bank_account_of(uow, actor).ledger_account_id))


def repay_debt(city: CityContext, uow, *, actor: str, amount_minor: int | None = None) -> CardDebt:
    """Repay the debt (all of it, or ``amount_minor``) from the tenge available on the bank account."""
    customers.require(uow, actor)
    paid, owed = card_advice.repay(uow, issuing.bank_account_of(uow, actor).ledger_account_id, amount_minor)
    if paid:
        audit.append(uow, actor, "card.debt_repaid", actor, {"repaid_minor": paid, "debt_minor": owed})
    return CardDebt(actor, owed, paid)
