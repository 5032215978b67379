"""Payments: the card network's side of a purchase — authorize (with just-in-time crypto funding),
capture, reverse, refund — each with its audit entry in the same transaction.

One path for every authorization, whoever asks (the facade's ``pay`` by actor, the POS by card id or
PAN): the card decides in the caller's unit of work (card/authorization.py), then the audit entry
records the answer and, for an approval that sold crypto, the tax disposals — read from the card's own
answer, never from what one process happens to remember.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from card import authorization as card_authorization
from card import authorizations as card_authorizations_read
from card import clearing

from .. import audit, events
from ..events import snapshots
from ..context import CityContext
from ..errors import InvalidClearing, UnknownReference
from ..tax import DISPOSAL, tax_events
from . import card_records, card_verification, customers, merchants
from .result import Result

CLEARING_VERBS = ("capture", "reverse", "refund")
CLEARING_EVENTS = {"capture": "authorization.captured", "reverse": "authorization.reversed",
                   "refund": "authorization.refunded"}
NETWORK = "card-network"


def pay_key(ref: str) -> str:
    """The card's durable idempotency key of the purchase with reference ``ref``."""
    return f"pay:{ref}"


@dataclass(frozen=True)
class PaymentResult(Result):
    """What the POS gets back, plus what was sold to fund it. ``replayed``: the stored answer to a retry."""
    status: str
    response_code: str
    reason: str
    flags: list[tuple[str, str]] = field(default_factory=list)
    authorization_id: int | None = None
    auth_code: str | None = None
    amount_minor: int = 0
    shortfall_minor: int = 0
    conversion_fee_minor: int = 0
    sold: list[dict] = field(default_factory=list)
    cardholder: str | None = None
    replayed: bool = False
    kind: str = "purchase"
    decision: str | None = None          # how the programme's decision app decided (None: none was asked)
    requested_minor: int | None = None   # the amount asked for, when less was approved (10) or an app decided


@dataclass(frozen=True)
class ClearingResult(Result):
    """An authorization after a clearing step: its new status and the amounts so far."""
    authorization_id: int
    status: str
    amount_minor: int
    captured_minor: int
    reversed_minor: int
    refunded_minor: int
    merchant_id: str
    reference: str
    replayed: bool = False
    # what this step charged or gave back of the card's conversion fee: an over-capture the bank account
    # could not pay sells crypto just in time (charged); a refund's buy-back may return the fee
    conversion_fee_minor: int = 0
    conversion_fee_returned_minor: int = 0


def pay(city: CityContext, uow, *, actor: str, merchant: str, amount_minor: int, ref: str,
        presented=None, kind: str | None = None, decision=None) -> PaymentResult:
    """Tap the actor's card at ``merchant`` (id or name): approved (hold placed, crypto sold just in time if
    the bank account is short) or declined with an ISO response code and a reason; flags are AML
    observations. ``ref`` is the purchase's reference: the same ``ref`` and request answer once.
    ``presented``: a card-not-present purchase's channel, expiry and CVV2 (``card_verification.presented``).
    ``kind``: purchase (default), atm_withdrawal or p2p (card/kinds.py; a cash or P2P merchant category
    decides)."""
    customer = customers.require(uow, actor)
    return authorize(city, uow, merchant_id=merchants.resolve(city, uow, merchant), amount_minor=amount_minor,
                     ref=ref, card_id=customer.card_id, presented=presented, kind=kind, decision=decision)


def authorize(city: CityContext, uow, *, merchant_id: str, amount_minor: int, ref: str, card_id: int | None = None,
              pan: str | None = None, presented=None, kind: str | None = None, decision=None) -> PaymentResult:
    """A POS authorization for ``merchant_id`` by card id or PAN (a card number the sandbox never issued
    still gets a recorded decline, 14, as a real issuer answers). Audited as ``card.approved`` or
    ``card.declined`` with the crypto sold and its tax disposals, in the caller's transaction.

    ``decision``: what the programme's decision app decided, asked before this unit of work began
    (``sandbox.gateway.decide``); the programme's ``partial_approval`` applies whether or not an app decided."""
    res = card_authorization.authorize(city.cards, uow, amount_minor=amount_minor, merchant_id=merchant_id,
                                       idempotency_key=pay_key(ref), card_id=card_id, pan=pan, presented=presented,
                                       kind=kind, decision=decision, partial_approval=city.cfg.card.partial_approval)
    status = "approved" if res.approved else "declined"
    if not res.replayed and res.authorization_id is not None and res.response_code != "94":
        holder = res.cardholder_id
        tax = [e for leg in res.sold for e in tax_events(DISPOSAL, leg["asset"], leg["sold_qty_minor"],
                                                         leg["proceeds_minor"], "card", ref)]
        audit.append(uow, holder or NETWORK, f"card.{status}", ref,
                     {"customer": holder, "merchant": merchant_id, "kind": res.kind, "amount_minor": res.amount_minor,
                      "response_code": res.response_code, "reason": res.reason, "sold": list(res.sold),
                      "flags": [list(f) for f in res.flags], "tax": tax}, at_commit=True)   # sent with the COMMIT
        _authorization_events(uow, res, merchant_id, ref, card_id, decision)
        card_verification.after_decline(city, uow, res)   # a decline that froze the card: audited, announced
    return PaymentResult(status, res.response_code, res.reason, [tuple(f) for f in res.flags], res.authorization_id,
                         res.auth_code, res.amount_minor, res.shortfall_minor, res.conversion_fee_minor,
                         [dict(leg) for leg in res.sold], res.cardholder_id, res.replayed, res.kind, res.decision,
                         res.requested_minor)


def _authorization_events(uow, res, merchant_id: str, ref: str, card_id: int | None, decision=None) -> None:
    """``authorization.created`` (approved or declined) and one ``aml.flag_raised`` per AML flag on it."""
    data = snapshots.authorization(res, merchant_id=merchant_id, reference=ref, card_id=card_id)
    if decision is not None:   # what the decision app said (or why its stand-in decided)
        data.update(decision_detail=decision.detail or None, decision_metadata=dict(decision.metadata))
    events.emit(uow, "authorization.created", data, customer=res.cardholder_id, merchant=merchant_id)
    for rule, detail in res.flags:
        # No customer or merchant on it: only the operator and the regulator read AML flags (no tipping-off).
        events.emit(uow, "aml.flag_raised", {"object": "aml_flag", "rule": rule, "detail": detail,
                                             "authorization_id": res.authorization_id, "reference": ref,
                                             "customer": res.cardholder_id, "merchant_id": merchant_id,
                                             "amount_minor": res.amount_minor, "response_code": res.response_code})


def authorization_of(uow, ref: str) -> int:
    """The authorization id of the purchase ``ref`` (read from the card's tables: survives restarts)."""
    auth_id = card_authorizations_read.id_by_key(uow, pay_key(ref))
    if auth_id is None:   # a force post is a purchase too (it can be refunded)
        auth_id = card_authorizations_read.id_by_key(uow, card_records.force_key(ref))
    if auth_id is None:
        raise UnknownReference(f"no purchase with reference {ref!r}", reference=str(ref)[:120])
    return auth_id


def clear(city: CityContext, uow, verb: str, *, authorization_id: int, amount_minor: int | None = None,
          key: str | None = None, by: str = NETWORK, subject: str | None = None, final: bool = True) -> ClearingResult:
    """Capture, reverse or refund an approved authorization (all of it, or ``amount_minor``), audited as
    ``card.<verb>`` on ``subject`` (default: the authorization id) in the same transaction, under the
    authorization's row lock — so a retried or concurrent step with the same ``key`` (the clearing
    event's own idempotency key) returns the authorization as it stands and is audited once."""
    if verb not in CLEARING_VERBS:
        raise InvalidClearing(f"clearing is one of {', '.join(CLEARING_VERBS)}, not {verb!r}")
    more = {"final": final} if verb == "capture" else {}
    outcome = getattr(clearing, verb)(city.cards, uow, authorization_id, amount_minor, key=key, **more)
    replayed = bool(outcome.get("replayed"))
    if not replayed:
        details = {"amount_minor": amount_minor, "authorization_id": authorization_id, "key": key, **more}
        details.update(card_records.policy_details(outcome, subject or str(authorization_id)))
        audit.append(uow, by, f"card.{verb}", subject or str(authorization_id), details)
        events.emit(uow, CLEARING_EVENTS[verb], {**snapshots.cleared(outcome, step=verb, step_amount_minor=amount_minor),
                                                 **card_records.event_extras(outcome, more)},
                    customer=outcome.get("cardholder_id"), merchant=outcome["merchant_id"])
    return _clearing_result(outcome, replayed)


def capture(city: CityContext, uow, *, ref: str, amount_minor: int | None = None, key: str | None = None,
            final: bool = True) -> ClearingResult:
    """Clear a purchase (all of it, or ``amount_minor`` of it): the merchant is paid in tenge, minus fees.
    With ``key``, a retry of the same capture changes nothing (another request with it is refused).
    ``final=False`` keeps the rest of the hold for another partial capture (card/capture.py)."""
    return clear(city, uow, "capture", authorization_id=authorization_of(uow, ref), amount_minor=amount_minor,
                 key=key, subject=ref, final=final)


def reverse(city: CityContext, uow, *, ref: str, amount_minor: int | None = None, key: str | None = None
            ) -> ClearingResult:
    """Void an uncleared purchase (all, or ``amount_minor`` of it): the hold is released (crypto already
    sold stays sold, as tenge on the bank account)."""
    return clear(city, uow, "reverse", authorization_id=authorization_of(uow, ref), amount_minor=amount_minor,
                 key=key, subject=ref)


def refund(city: CityContext, uow, *, ref: str, amount_minor: int | None = None, key: str | None = None
           ) -> ClearingResult:
    """The merchant pays back a cleared purchase (all of it, or ``amount_minor``) to the bank account.
    With ``key``, a retried partial refund pays once."""
    return clear(city, uow, "refund", authorization_id=authorization_of(uow, ref), amount_minor=amount_minor,
                 key=key, subject=ref)


def _clearing_result(row: dict, replayed: bool) -> ClearingResult:
    key = row.get("idempotency_key") or ""
    reference = key.removeprefix("pay:")
    return ClearingResult(int(row["id"]), row["status"], int(row["amount_minor"]), int(row["captured_minor"]),
                          int(row["reversed_minor"]), int(row["refunded_minor"]), row["merchant_id"], reference,
                          replayed, int(row.get("conversion_fee_charged_minor") or 0),
                          int(row.get("conversion_fee_returned_minor") or 0))
