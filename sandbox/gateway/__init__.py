"""The decision gateway: the developer's app decides card authorizations.

A card programme (``card.decision_url`` in the preset, or ``PUT /api/v1/card-programme/decision``) and
a card (``PUT /api/v1/cards/<id>/decision``, overriding it) may name a decision URL. For a purchase on
such a card, ``decide`` runs BEFORE the purchase's write transaction:

1. a read-only pre-check (card/precheck.py: the card's and the sandbox's own checks, the proposed
   funding plan; no lock is taken). A check that would decline, or a key already answered, means the
   app is not asked at all;
2. with no transaction open, a signed ``authorization.request`` (Standard Webhooks, the webhooks'
   signing code) is POSTed to the app, waiting at most the programme's ``decision_deadline_ms``;
3. the answer becomes a ``card.decisions.Decision``: ``webhook_approved`` / ``webhook_declined``, or,
   on a timeout (``webhook_timeout``), a refused connection, a non-2xx status or an answer that is not
   a valid decision (``webhook_error``), the programme's stand-in: ``approve_with_sandbox_rules`` (the
   sandbox decides as if there were no app), ``decline`` (91) or ``tenge_only`` (Marqeta's Commando Mode:
   the stand-in switches the funding source to the tenge on the bank account; no crypto is sold).

The caller then runs the usual write transaction with the decision (``payments.authorize(…,
decision=…)``), which re-checks everything and records the decision on the authorization and in its
``authorization.created`` event.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Callable

from card import response_codes as rc
from card.decisions import Decision
from card.precheck import Proposal, precheck

from ..errors import CityError
from ..incidents.state import gateway_down
from ..webhooks import signing
from . import store
from .client import DecisionClient

REQUEST_TYPE = "authorization.request"
MAX_METADATA_BYTES = 2000
# What decides when the app does not: the sandbox's own decision, a decline (91), or the card's tenge only
# (Marqeta's Commando Mode: the stand-in switches the funding source — no crypto is sold, 51 if short).
STAND_INS = ("approve_with_sandbox_rules", "decline", "tenge_only")
_client = DecisionClient()
DOWN = object()   # ``ask``'s look-up found the gateway down by an incident


class InvalidAnswer(CityError):
    """The app answered 2xx with something that is not a decision (never leaves ``decide``: the stand-in
    decides, ``webhook_error``)."""
    code = "invalid_decision_answer"


def message_id(pay_key: str) -> str:
    """The request's ``webhook-id``: the same for every retry of the same purchase (so an app can drop
    a duplicate when a retry arrives while the first request still waits)."""
    return "authreq_" + hashlib.sha256(pay_key.encode()).hexdigest()[:24]


def decide(ctx, *, merchant_id: str, amount_minor: Any, ref: str, card_id: int | None = None,
           pan: str | None = None, client: DecisionClient | None = None, wanted_known: bool = False
           ) -> Decision | None:
    """Ask the card's decision app for the purchase ``ref`` of the city ``ctx`` (see the module
    docstring); None when no app is asked. ``wanted_known``: the caller has just found ``wanted``."""
    from ..services.payments import pay_key
    return ask(ctx.cards, ctx.ledger, ctx.read, ctx.cfg.card, merchant_id=merchant_id, amount_minor=amount_minor,
               key=pay_key(ref), reference=ref, card_id=card_id, pan=pan, client=client, wanted_known=wanted_known)


def wanted(ledger, programme) -> bool:
    """Whether any app may be asked: the preset names one, or a decision URL was set at runtime."""
    with ledger.unit_of_work(autocommit=True) as uow:
        return wanted_later(uow, programme)()


def wanted_later(uow, programme) -> Callable[[], bool]:
    """``wanted``, its read sent with the next statement of ``uow`` (a POS request's: the API key check's
    own, one round trip and no unit of work of its own), answered when called."""
    if programme.decision_url:
        return lambda: True
    return store.any_set_later(uow)


def decide_pay(ctx, *, actor: str, merchant: str, amount_minor: Any, ref: str) -> Decision | None:
    """``decide`` for the facade's ``pay``: the actor's card at ``merchant`` (an id or a name)."""
    if not wanted(ctx.ledger, ctx.cfg.card):
        return None
    from ..errors import UnknownActor
    from ..services import customers, merchants

    def look(uow):
        try:
            return customers.require(uow, actor).card_id, merchants.resolve(ctx, uow, merchant)
        except UnknownActor:
            return None   # the purchase itself says so
    found = ctx.read(look)
    if found is None or found[0] is None:
        return None
    return decide(ctx, merchant_id=found[1], amount_minor=amount_minor, ref=ref, card_id=found[0], wanted_known=True)


def ask(cards, ledger, read, programme, *, merchant_id: str, amount_minor: Any, key: str, reference: str,
        card_id: int | None = None, pan: str | None = None, client: DecisionClient | None = None,
        wanted_known: bool = False) -> Decision | None:
    """``decide`` for a card service ``cards`` on ``ledger``: ``read(fn)`` runs ``fn(uow)`` in a read-only
    unit of work, ``programme`` has the ``CardProgrammeCfg`` decision fields, ``key`` is the card's
    idempotency key of the purchase."""
    if not wanted_known and not wanted(ledger, programme):
        return None

    def look(uow):
        proposal = precheck(cards, uow, amount_minor=amount_minor, merchant_id=merchant_id, idempotency_key=key,
                            card_id=card_id, pan=pan, partial_approval=programme.partial_approval)
        if proposal is None:
            return None
        endpoint = store.resolve(uow, proposal.card.id, programme)
        down = gateway_down(uow.conn)
        if down is not None:   # an incident: the gateway is unreachable, whether or not an app is set
            return DOWN, endpoint.stand_in if endpoint is not None else programme.stand_in, down
        return None if endpoint is None else (proposal, endpoint, uow.now())

    found = read(look)   # the read-only unit of work is closed before the app is asked
    if found is None:
        return None
    if found[0] is DOWN:
        return stand_in(found[1], rc.WEBHOOK_ERROR, f"the decision gateway is down (incident {found[2]})")
    proposal, endpoint, at = found
    body = json.dumps(request_payload(proposal, ref=reference, at=at, deadline_ms=endpoint.deadline_ms,
                                      partial_approval=programme.partial_approval), separators=(",", ":"))
    headers = signing.headers(endpoint.secret, message_id(key), body)
    reply = (client or _client).post(endpoint.url, body.encode(), headers, timeout_s=endpoint.deadline_ms / 1000)
    if reply.timed_out:
        return stand_in(endpoint.stand_in, rc.WEBHOOK_TIMEOUT, f"no answer within {endpoint.deadline_ms} ms")
    if reply.error is not None:
        return stand_in(endpoint.stand_in, rc.WEBHOOK_ERROR, reply.error)
    try:
        return parse_answer(reply.body, proposal)
    except InvalidAnswer as error:
        return stand_in(endpoint.stand_in, rc.WEBHOOK_ERROR, f"not a decision: {error}")


def stand_in(kind: str, outcome: str, detail: str) -> Decision:
    """The programme's decision when its app gave none."""
    if kind == "approve_with_sandbox_rules":
        return Decision(outcome, True, detail=detail[:200])
    if kind == "tenge_only":
        return Decision(outcome, True, tenge_only=True, detail=f"stand-in tenge only: {detail}"[:200])
    return Decision(outcome, False, decline_code=rc.ISSUER_INOPERATIVE, detail=detail[:200])


def request_payload(p: Proposal, *, ref: str, at: datetime, deadline_ms: int, partial_approval: bool) -> dict:
    """The ``authorization.request`` body (Standard Webhooks' ``type``/``timestamp``/``data`` shape)."""
    funding = p.card.funding
    return {"type": REQUEST_TYPE, "timestamp": datetime.now(timezone.utc).isoformat(),
            "data": {"object": "authorization_request", "reference": ref, "at": at.isoformat(),
                     "deadline_ms": deadline_ms,
                     "card": {"id": p.card.id, "last4": p.card.pan[-4:], "customer": p.card.cardholder_id},
                     "merchant": {"id": p.merchant.id, "name": p.merchant.name, "mcc": p.merchant.mcc,
                                  "in_zone": p.merchant.in_zone},
                     "amount_minor": p.requested_minor, "approvable_minor": p.amount_minor, "currency": "KZT",
                     "partial_approval": partial_approval, "available_minor": max(0, p.available_minor),
                     "shortfall_minor": p.shortfall_minor,
                     "funding": {"mode": funding.mode, "order": list(funding.order),
                                 "slippage_cap_bps": funding.slippage_cap_bps,
                                 "conversion_fee_minor": p.fee_minor,
                                 "plan": [{"asset": asset, "expected_proceeds_minor": proceeds}
                                          for asset, proceeds in p.legs]},
                     "flags": [{"rule": f[0], "detail": f[1]} for f in p.flags]}}


def parse_answer(raw: bytes, p: Proposal) -> Decision:
    """``{"approved": bool, "amount_minor"?: int, "funding"?: [assets], "metadata"?: {…}}`` → a Decision."""
    try:
        answer = json.loads(raw or b"null")
    except ValueError:
        raise InvalidAnswer("the body is not JSON") from None
    if not isinstance(answer, dict) or not isinstance(answer.get("approved"), bool):
        raise InvalidAnswer('a JSON object with "approved": true or false is required')
    metadata = answer.get("metadata", {})
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise InvalidAnswer(f"metadata must be a JSON object of at most {MAX_METADATA_BYTES} bytes")
    if not answer["approved"]:
        return Decision(rc.WEBHOOK_DECLINED, False, metadata=metadata,
                        detail=str(metadata.get("reason", ""))[:120] if isinstance(metadata.get("reason"), str) else "")
    amount = answer.get("amount_minor")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool)
                               or not 0 < amount <= p.requested_minor):
        raise InvalidAnswer(f"amount_minor must be a whole number of tiyn 1..{p.requested_minor}")
    funding = answer.get("funding")
    if funding is not None:
        order = p.card.funding.order
        if (not isinstance(funding, list) or not funding or len(set(map(str, funding))) != len(funding)
                or any(asset not in order for asset in funding)):
            raise InvalidAnswer(f"funding must list distinct assets of the card's funding order {list(order)}")
        funding = tuple(funding)
    return Decision(rc.WEBHOOK_APPROVED, True, amount_minor=amount, funding=funding, metadata=metadata)
