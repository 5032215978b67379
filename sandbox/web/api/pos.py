"""The card network as an acquirer or a merchant's POS sees it: authorize, capture, reverse, refund.

* ``POST /merchants/{merchant_id}/authorizations`` — the merchant is in the path, so the central
  scope check admits a merchant key (``cryptocity keys create merchant --for <merchant_id>``) only for
  its own merchant; ``/authorizations/{id}/...`` resolve to the merchant the authorization was made at,
  so merchant X cannot capture, reverse or refund merchant Y's purchases (404, nothing changes).
* **A decline is not an HTTP error.** The request was understood and the issuer answered: the POS gets
  ``201`` with ``approved: false``, the ISO 8583 ``response_code`` (51, 61, 62, 57, 59, 14…) and the
  ``reason`` in words — exactly what a real acquirer reads from field 39. The declined attempt is
  recorded (statements, regulator report) and no money moves. Only malformed requests are problems
  (400 malformed body, 422 invalid fields such as a non-integer amount), and clearing refusals
  (capturing a reversed authorization, refunding more than was captured) are problems (409/422).
* **Idempotency:** the ``Idempotency-Key`` IS the purchase reference: the card authorization runs under
  the card's own durable key ``pay:<merchant_id>:<Idempotency-Key>`` (the ``pay:<ref>`` of
  ``CryptoCity.pay``), in the same transaction as the key's claim and stored response, so a retried POS
  request never sells crypto or holds money twice; the same key with a different body is a 409 and
  changes nothing. Clearing steps carry their own durable key too (the card's clearing event key).
* The merchant sees what a merchant needs (approval, code, reason, amounts); which crypto the customer
  sold and any AML flags stay with the issuer and the regulator.
"""
from __future__ import annotations

import hashlib

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from card import authorizations
from card.response_codes import is_approval
from ledger.errors import DomainError
from sandbox import gateway
from sandbox.services import card_verification, payments

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    idempotent_write,
    install_converters,
    page,
    page_schema,
    require_city,
)
from ..responses import json_response
from ..services import services
from . import PREFIX
from .schemas import PageQuery, Strict, amount_field

blp = Blueprint("pos", __name__, url_prefix=PREFIX, description="Card network: authorization and clearing (POS)")
install_converters(blp)


class AuthorizeRequest(Strict):
    card_id = ma.fields.Integer(load_default=None, strict=True, validate=ma.validate.Range(1, 2**63 - 1))
    pan = ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^\d{12,19}$"),
                           metadata={"description": "the card number (digits only), instead of card_id"})
    amount_minor = amount_field(description="tiyn")
    # card verification (card/verification.py, docs/card.md "Card verification")
    channel = ma.fields.String(load_default=card_verification.CHANNELS[0],
                               validate=ma.validate.OneOf(card_verification.CHANNELS),
                               metadata={"description": "card_present (default: the terminal read the card) or "
                                                        "card_not_present (online: expiry and cvv are checked)"})
    expiry = ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^(0[1-9]|1[0-2])/\d{2}$"),
                              metadata={"description": "card_not_present only: the card's expiry, MM/YY "
                                                       "(a mismatch declines 54)", "example": "06/28"})
    cvv = ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^\d{3}$"),
                           metadata={"description": "card_not_present only: the 3-digit CVV2 (a mismatch declines "
                                                    "N7; never stored, logged or part of the request's fingerprint)"})
    kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(("purchase", "atm_withdrawal", "p2p")),
                            metadata={"description": "purchase (default), atm_withdrawal or p2p; a cash or P2P "
                                                     "merchant category decides (57 unless the programme permits it)"})

    @ma.validates_schema
    def _one_card(self, data, **_):
        if (data.get("card_id") is None) == (data.get("pan") is None):
            raise ma.ValidationError("give exactly one of card_id or pan")
        try:
            card_verification.presented(data.get("channel"), data.get("expiry"), data.get("cvv"))
        except DomainError as error:
            raise ma.ValidationError(str(error)) from None


class AuthorizationSchema(Strict):
    id = ma.fields.Integer(allow_none=True, required=True, metadata={"description": "the authorization id"})
    reference = ma.fields.String(required=True, metadata={"description": "the purchase reference (Idempotency-Key)"})
    merchant_id = ma.fields.String(allow_none=True, required=True)
    approved = ma.fields.Boolean(required=True)
    response_code = ma.fields.String(required=True, metadata={"description": "ISO 8583 field 39: 00 approved, "
                                                                            "51 insufficient funds, 61 limit…"})
    reason = ma.fields.String(required=True)
    auth_code = ma.fields.String(allow_none=True, required=True)
    amount_minor = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True, metadata={"description": "approved, declined, captured, reversed, "
                                                                     "refunded, expired"})
    captured_minor = ma.fields.Integer(required=True)
    reversed_minor = ma.fields.Integer(required=True)
    refunded_minor = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "purchase, atm_withdrawal or p2p"})
    at = ma.fields.String(allow_none=True, required=True)


AuthorizationPage = page_schema(AuthorizationSchema, "AuthorizationPage")


class AmountRequest(Strict):
    amount_minor = amount_field(required=False, load_default=None,
                                description="tiyn; omit for the whole (remaining) amount")


class CaptureRequest(AmountRequest):
    final = ma.fields.Boolean(load_default=True, metadata={
        "description": "true (default): release what is left of the hold; false: keep it for another partial "
                       "capture. Only a final capture may go over the authorized amount (within the tip tolerance "
                       "of the merchant's category)"})


def row_dict(row) -> dict:
    key = row.idempotency_key or ""
    prefix = next((p for p in ("pay:", "force:", "refund:") if key.startswith(p)), "")  # a purchase, force post, refund
    rest = key[len(prefix):]
    reference = rest.split(":", 1)[1] if prefix and ":" in rest else rest
    return {"id": row.id, "reference": reference, "merchant_id": row.merchant_id,
            "approved": is_approval(row.response_code), "response_code": row.response_code, "reason": row.reason,
            "auth_code": row.auth_code, "amount_minor": row.amount_minor, "status": row.status,
            "captured_minor": row.captured_minor, "reversed_minor": row.reversed_minor,
            "refunded_minor": row.refunded_minor, "kind": row.kind, "at": row.created_at.isoformat()}


def fresh_row_dict(res, merchant_id: str, reference: str, at) -> dict:
    """``row_dict`` of the authorization ``res`` that was recorded just now (nothing cleared yet): the
    same fields the card wrote to its row (card/authorization.py keeps a reason to 300 characters)."""
    approved = is_approval(res.response_code)
    return {"id": res.authorization_id, "reference": reference, "merchant_id": merchant_id, "approved": approved,
            "response_code": res.response_code, "reason": res.reason[:300],
            "auth_code": res.auth_code if approved else None, "amount_minor": res.amount_minor,
            "status": res.status, "captured_minor": 0, "reversed_minor": 0, "refunded_minor": 0,
            "kind": res.kind, "at": at.isoformat()}


def _gateway_wanted(uow):
    city = services().city
    if city is None:   # the view answers 503 city_required, after the key's check
        return lambda: None
    return gateway.wanted_later(uow, city.ctx.cfg.card)


@blp.route("/merchants/<name:merchant_id>/authorizations", methods=["POST"])
@access("merchant", ahead={"gateway_wanted": _gateway_wanted})
@blp.arguments(AuthorizeRequest)
@blp.response(201, AuthorizationSchema, description="the issuer's answer: approved or declined (see response_code)")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def authorize(body: dict, merchant_id: str):
    """Authorize a purchase at ``merchant_id`` (card by id or number). Approved: the amount is held on the
    customer's bank account (crypto sold just in time if the account is short). Declined: 201 with the
    ISO response code and reason, nothing moved."""
    city = require_city()
    ref = f"{merchant_id}:{g.idempotency_key}"
    # The programme's decision app, asked with no transaction open (sandbox/gateway/); None: no app asked.
    # Whether one may be asked was read with the API key's check (None: no key was checked, ask here).
    wanted = g.get("ahead", {}).get("gateway_wanted")
    decision = None if wanted is False else gateway.decide(
        city.ctx, merchant_id=merchant_id, amount_minor=body["amount_minor"], ref=ref, card_id=body["card_id"],
        pan=body["pan"], wanted_known=bool(wanted))

    def compute(uow):
        res = payments.authorize(city.ctx, uow, merchant_id=merchant_id, amount_minor=body["amount_minor"], ref=ref,
                                 card_id=body["card_id"], pan=body["pan"], kind=body["kind"], decision=decision,
                                 presented=card_verification.presented(body["channel"], body["expiry"], body["cvv"]))
        if res.authorization_id is not None and not res.replayed and res.response_code != "94":
            # Written just now in this unit of work: the answer is what the card wrote, no need to read it back.
            return fresh_row_dict(res, merchant_id, g.idempotency_key, uow.now()), 201
        row = authorizations.row(uow, res.authorization_id) if res.authorization_id else None
        if row is None or row.idempotency_key != payments.pay_key(ref):  # 94: the key was another purchase's
            return {"id": None, "reference": g.idempotency_key, "merchant_id": merchant_id, "approved": False,
                    "response_code": res.response_code, "reason": res.reason, "auth_code": None,
                    "amount_minor": body["amount_minor"], "status": "declined", "captured_minor": 0,
                    "reversed_minor": 0, "refunded_minor": 0, "kind": body["kind"] or "purchase", "at": None}, 201
        return row_dict(row), 201
    return json_response(*idempotent_write(compute))


@blp.route("/merchants/<name:merchant_id>/authorizations")
@access("merchant")
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, AuthorizationPage)
def list_authorizations(merchant_id: str, limit: int, after_id: int | None = None):
    """The merchant's authorizations (approved and declined), oldest first."""
    rows = require_city().ctx.read(lambda uow: authorizations.of_merchant(uow, merchant_id, after_id=after_id,
                                                                           limit=limit + 1))
    return page([row_dict(r) for r in rows], limit)


@blp.route("/authorizations/<id:authorization_id>")
@access("merchant")
@blp.response(200, AuthorizationSchema)
def get_authorization(authorization_id: int):
    """One authorization as the merchant sees it: status and what was captured, reversed, refunded."""
    row = require_city().ctx.read(lambda uow: authorizations.row(uow, authorization_id))
    if row is None:
        from card.errors import AuthorizationNotFound
        raise AuthorizationNotFound(f"no authorization {authorization_id}")
    return row_dict(row)


def _clearing(verb: str, authorization_id: int, body: dict, **more):
    city = require_city()
    principal = g.get("principal")
    # the clearing event's own durable key: one per (caller, operation, Idempotency-Key)
    key = "http:" + hashlib.sha256(f"{principal.key_id if principal else '-'}|{verb}|{authorization_id}|"
                                   f"{g.idempotency_key}".encode()).hexdigest()[:48]
    by = (principal.subject or principal.role) if principal is not None else "card-network"

    def compute(uow):
        payments.clear(city.ctx, uow, verb, authorization_id=authorization_id, amount_minor=body.get("amount_minor"),
                       key=key, by=by, **more)
        return row_dict(authorizations.row(uow, authorization_id)), 200
    return json_response(*idempotent_write(compute))


@blp.route("/authorizations/<id:authorization_id>/capture", methods=["POST"])
@access("merchant")
@blp.arguments(CaptureRequest)
@blp.response(200, AuthorizationSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def capture(body: dict, authorization_id: int):
    """Clear the purchase (all of it, or ``amount_minor`` and release the rest): the merchant's settlement
    account is paid in tenge, minus the merchant fee. ``final: false`` keeps the rest of the hold for another
    partial capture; a final capture may go over the authorized amount within the tolerance of the merchant's
    category (a tip), the extra charged to the customer now (422 ``over_capture_refused``, ISO 64, beyond it)."""
    return _clearing("capture", authorization_id, body, final=body.get("final", True))


@blp.route("/authorizations/<id:authorization_id>/reverse", methods=["POST"])
@access("merchant")
@blp.arguments(AmountRequest)
@blp.response(200, AuthorizationSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def reverse(body: dict, authorization_id: int):
    """Void an uncleared purchase (all, or ``amount_minor`` of it): the hold is released; crypto already
    sold stays sold (as tenge on the customer's bank account)."""
    return _clearing("reverse", authorization_id, body)


@blp.route("/authorizations/<id:authorization_id>/refund", methods=["POST"])
@access("merchant")
@blp.arguments(AmountRequest)
@blp.response(200, AuthorizationSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def refund(body: dict, authorization_id: int):
    """Pay back a cleared purchase (all, or ``amount_minor``) from the merchant to the customer's bank account."""
    return _clearing("refund", authorization_id, body)
