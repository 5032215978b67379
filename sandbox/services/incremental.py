"""Incremental authorization (hotels, car rental): the merchant asks for more on an approved, uncleared
authorization. The card decides (card/incremental.py: the usual checks on the increment, crypto sold just
in time for any new shortfall); this service audits the answer and writes its event in the caller's unit
of work: ``authorization.incremented`` on approval, ``authorization.increment_declined`` on a decline
(nothing moved)."""
from __future__ import annotations

from dataclasses import dataclass, field

from card import incremental as card_incremental

from .. import audit, events
from ..context import CityContext
from ..tax import DISPOSAL, tax_events
from .payments import NETWORK, authorization_of
from .result import Result


@dataclass(frozen=True)
class IncrementDone(Result):
    """The issuer's answer to an increment; ``amount_minor`` is the authorization's total after it."""
    status: str  # approved or declined
    response_code: str
    reason: str
    authorization_id: int
    reference: str
    increment_minor: int
    amount_minor: int
    shortfall_minor: int = 0
    conversion_fee_minor: int = 0
    sold: list[dict] = field(default_factory=list)
    flags: list[tuple[str, str]] = field(default_factory=list)
    replayed: bool = False


def snapshot(res: card_incremental.IncrementResult, reference: str) -> dict:
    """The event's object: the authorization after the increment (or as it stays, on a decline)."""
    return {"object": "authorization", "authorization_id": res.authorization_id, "reference": reference,
            "customer": res.cardholder_id, "merchant_id": res.merchant_id, "status": res.status,
            "response_code": res.response_code, "reason": res.reason, "increment_minor": res.increment_minor,
            "amount_minor": res.amount_minor, "currency": "KZT", "shortfall_minor": res.shortfall_minor,
            "conversion_fee_minor": res.conversion_fee_minor, "sold": [dict(leg) for leg in res.sold]}


def increment(city: CityContext, uow, *, amount_minor: int, ref: str | None = None,
              authorization_id: int | None = None, key: str | None = None, by: str = NETWORK) -> IncrementDone:
    """Raise the hold of the purchase ``ref`` (or ``authorization_id``) by ``amount_minor``: approved (the
    hold grows, crypto sold just in time if the bank account is short) or declined with an ISO response code
    and a reason, changing nothing. With ``key``, a retry answers the same and changes nothing."""
    auth_id = authorization_of(uow, ref) if authorization_id is None else authorization_id
    res = card_incremental.increment(city.cards, uow, auth_id, amount_minor, key=key)
    reference = (res.idempotency_key or "").removeprefix("pay:")
    status = "approved" if res.approved else "declined"
    if not res.replayed:
        tax = [e for leg in res.sold for e in tax_events(DISPOSAL, leg["asset"], leg["sold_qty_minor"],
                                                         leg["proceeds_minor"], "card", reference)]
        audit.append(uow, by, "card.incremented" if res.approved else "card.increment_declined",
                     reference or str(auth_id),
                     {"authorization_id": auth_id, "increment_minor": res.increment_minor,
                      "amount_minor": res.amount_minor, "response_code": res.response_code, "reason": res.reason,
                      "sold": list(res.sold), "flags": [list(f) for f in res.flags], "key": key, "tax": tax})
        events.emit(uow, "authorization.incremented" if res.approved else "authorization.increment_declined",
                    snapshot(res, reference), customer=res.cardholder_id, merchant=res.merchant_id)
    return IncrementDone(status, res.response_code, res.reason, auth_id, reference, res.increment_minor,
                         res.amount_minor, res.shortfall_minor, res.conversion_fee_minor,
                         [dict(leg) for leg in res.sold], [tuple(f) for f in res.flags], res.replayed)
