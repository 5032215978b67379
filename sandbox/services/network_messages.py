"""Card network messages beyond authorize-then-clear: force posts (a clearing without an authorization), unlinked
refunds, expiring an authorization now, several partial captures and over-capture — each audited with its
tax events (crypto sold just in time, crypto bought back under the programme's refund policy) and written
as an event, in the caller's transaction.

The card decides (card/force_post.py, card/refunds.py, card/expiry.py, card/capture.py); this module records.
"""
from __future__ import annotations

from dataclasses import dataclass

from card import expiry, force_post as card_force_post, refunds as card_refunds

from .. import audit, events
from ..context import CityContext
from . import customers, merchants
from .card_records import force_key, refund_key, tax_of
from .payments import _clearing_result, authorization_of
from .result import Result

NETWORK = "card-network"


@dataclass(frozen=True)
class NetworkMessageResult(Result):
    """A force post or an unlinked refund as recorded: the row the card wrote (kind ``force_post`` or
    ``unlinked_refund``) and, for a force post, the crypto sold to pay it."""
    authorization_id: int
    kind: str
    status: str
    response_code: str
    reason: str
    amount_minor: int
    merchant_id: str
    reference: str
    cardholder: str | None
    shortfall_minor: int = 0
    conversion_fee_minor: int = 0
    sold: list | None = None
    replayed: bool = False


def _result(row: dict) -> NetworkMessageResult:
    key = row.get("idempotency_key") or ""
    reference = key.split(":", 1)[1] if ":" in key else key
    return NetworkMessageResult(int(row["id"]), row["kind"], row["status"], row["response_code"], row["reason"],
                                int(row["amount_minor"]), row["merchant_id"], reference, row.get("cardholder_id"),
                                int(row["shortfall_minor"]), int(row["conversion_fee_minor"]),
                                [dict(leg) for leg in row.get("sold") or ()], bool(row.get("replayed")))


def _snapshot(row: dict, reference: str) -> dict:
    return {"object": "authorization", "authorization_id": int(row["id"]), "kind": row["kind"], "reference": reference,
            "card_id": row.get("card_id"), "customer": row.get("cardholder_id"), "merchant_id": row["merchant_id"],
            "status": row["status"], "response_code": row["response_code"], "reason": row["reason"],
            "amount_minor": int(row["amount_minor"]), "captured_minor": int(row["captured_minor"]),
            "refunded_minor": int(row["refunded_minor"]), "shortfall_minor": int(row["shortfall_minor"]),
            "conversion_fee_minor": int(row["conversion_fee_minor"]),
            "sold": [dict(leg) for leg in row.get("sold") or ()], "currency": "KZT"}


def force_post(city: CityContext, uow, *, merchant_id: str, amount_minor: int, ref: str, card_id: int | None = None,
               pan: str | None = None, by: str = NETWORK) -> NetworkMessageResult:
    """A clearing at ``merchant_id`` with no authorization before it: crypto is sold just in time if the bank
    account is short and the merchant is paid now, whatever the card's status (card/force_post.py). Audited
    as ``card.force_post`` with the tax disposals of what was sold; event ``authorization.force_posted``.
    ``ref``: the force post's reference (a retry with it answers once)."""
    row = card_force_post.force_post(city.cards, uow, merchant_id=merchant_id, amount_minor=amount_minor,
                                     key=force_key(ref), card_id=card_id, pan=pan)
    if not row["replayed"]:
        holder = row["cardholder_id"]
        audit.append(uow, by, "card.force_post", ref,
                     {"customer": holder, "merchant": merchant_id, "amount_minor": amount_minor,
                      "authorization_id": row["id"], "card_status": row.get("card_status"),
                      "sold": list(row["sold"]), "tax": tax_of(row, ref)})
        events.emit(uow, "authorization.force_posted", _snapshot(row, ref), customer=holder, merchant=merchant_id)
    return _result(row)


def unlinked_refund(city: CityContext, uow, *, merchant_id: str, amount_minor: int, ref: str,
                    card_id: int | None = None, pan: str | None = None, by: str = NETWORK) -> NetworkMessageResult:
    """A refund with no original purchase: the merchant pays ``amount_minor`` into the card's bank account
    (card/refunds.py). Audited as ``card.unlinked_refund``; event ``authorization.refunded`` with
    ``kind: unlinked_refund``."""
    row = card_refunds.unlinked_refund(city.cards, uow, merchant_id=merchant_id, amount_minor=amount_minor,
                                       key=refund_key(ref), card_id=card_id, pan=pan)
    if not row["replayed"]:
        holder = row["cardholder_id"]
        audit.append(uow, by, "card.unlinked_refund", ref, {"customer": holder, "merchant": merchant_id,
                                                            "amount_minor": amount_minor, "authorization_id": row["id"]})
        data = {**_snapshot(row, ref), "step": "refund", "step_amount_minor": amount_minor}
        events.emit(uow, "authorization.refunded", data, customer=holder, merchant=merchant_id)
    return _result(row)


def expire_now(city: CityContext, uow, *, authorization_id: int, key: str | None = None, by: str = NETWORK,
               subject: str | None = None) -> dict:
    """Release what is left of the hold now (card/expiry.py): audited as ``card.expire``, event
    ``authorization.expired`` (``by_request: true``). Returns the authorization as it stands."""
    row = expiry.expire_now(city.cards, uow, authorization_id, key=key)
    if not row.get("replayed"):
        audit.append(uow, by, "card.expire", subject or str(authorization_id),
                     {"authorization_id": authorization_id, "key": key, "released_minor": row["released_minor"]})
        events.emit(uow, "authorization.expired", {
            "object": "authorization", "authorization_id": authorization_id,
            "reference": (row.get("idempotency_key") or "").removeprefix("pay:"), "card_id": row.get("card_id"),
            "customer": row.get("cardholder_id"), "merchant_id": row["merchant_id"], "status": row["status"],
            "captured_minor": int(row["captured_minor"]), "released_minor": row["released_minor"],
            "by_request": True, "currency": "KZT"},
            customer=row.get("cardholder_id"), merchant=row["merchant_id"])
    return row


def force_post_by(city: CityContext, uow, *, actor: str, merchant: str, amount_minor: int, ref: str
                  ) -> NetworkMessageResult:
    """``force_post`` on the actor's card at ``merchant`` (id or name): the facade's and the scenarios' verb."""
    card_id = customers.require(uow, actor).card_id
    return force_post(city, uow, merchant_id=merchants.resolve(city, uow, merchant), amount_minor=amount_minor,
                      ref=ref, card_id=card_id)


def unlinked_refund_by(city: CityContext, uow, *, actor: str, merchant: str, amount_minor: int, ref: str
                       ) -> NetworkMessageResult:
    """``unlinked_refund`` to the actor's card from ``merchant`` (id or name)."""
    card_id = customers.require(uow, actor).card_id
    return unlinked_refund(city, uow, merchant_id=merchants.resolve(city, uow, merchant), amount_minor=amount_minor,
                           ref=ref, card_id=card_id)


def expire_ref(city: CityContext, uow, *, ref: str, key: str | None = None):
    """``expire_now`` of the purchase with reference ``ref``, as a clearing result."""
    row = expire_now(city, uow, authorization_id=authorization_of(uow, ref), key=key, subject=ref)
    return _clearing_result(row, bool(row.get("replayed")))
