"""Network messages beyond a purchase: incremental authorization and authorization advice.

* ``POST /authorizations/{authorization_id}/increment`` — the merchant asks for more on an approved,
  uncleared authorization (a hotel's longer stay, a car rental's extra days). Like a purchase, **a decline
  is an answer**: ``200`` with ``approved: false``, the ISO 8583 ``response_code`` and the ``reason``; the
  authorization is unchanged. Asking to increment a captured, reversed or expired authorization is a
  problem (409). The ``Idempotency-Key`` makes a retry answer the same and hold once.
* ``POST /merchants/{merchant_id}/authorization-advices`` — the network approved a purchase in stand-in
  (the issuer was unreachable) and advises the issuer, who must book it: ``201`` with what was held and
  how it was funded — tenge on the bank account, crypto sold just in time, and any rest lent on the
  programme's credit line (a debt of the customer, ``debt_minor``). Never declined.

Both resolve the merchant like the POS endpoints: a merchant key acts only on its own authorizations.
"""
from __future__ import annotations

import hashlib

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from card import authorizations
from sandbox.services import advices, incremental

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    idempotent_write,
    install_converters,
    require_city,
)
from ..responses import json_response
from . import PREFIX
from .pos import AuthorizationSchema, row_dict
from .schemas import Strict, amount_field

blp = Blueprint("network-messages", __name__, url_prefix=PREFIX,
                description="Card network messages: incremental authorization, authorization advice")
install_converters(blp)


class IncrementRequest(Strict):
    amount_minor = amount_field(description="tiyn to add to the hold")


class IncrementAnswerSchema(Strict):
    approved = ma.fields.Boolean(required=True)
    response_code = ma.fields.String(required=True, metadata={"description": "ISO 8583 field 39 (docs/response-codes.md)"})
    reason = ma.fields.String(required=True)
    increment_minor = ma.fields.Integer(required=True, metadata={"description": "tiyn asked for"})
    authorization = ma.fields.Nested(AuthorizationSchema, required=True,
                                     metadata={"description": "the authorization after the answer"})


def _durable_key(operation: str, subject) -> str:
    """The card's own durable key for this caller's ``operation`` under the request's Idempotency-Key."""
    principal = g.get("principal")
    return "http:" + hashlib.sha256(f"{principal.key_id if principal else '-'}|{operation}|{subject}|"
                                    f"{g.idempotency_key}".encode()).hexdigest()[:48]


def _by() -> str:
    principal = g.get("principal")
    return (principal.subject or principal.role) if principal is not None else "card-network"


@blp.route("/authorizations/<id:authorization_id>/increment", methods=["POST"])
@access("merchant")
@blp.arguments(IncrementRequest)
@blp.response(200, IncrementAnswerSchema, description="the issuer's answer: approved or declined (see response_code)")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def increment(body: dict, authorization_id: int):
    """Raise the hold of an approved, uncleared authorization by ``amount_minor``: the usual checks run on
    the increment (limits, card status, rules) and crypto is sold just in time for any new shortfall.
    Declined: 200 with the ISO response code and reason, nothing changed."""
    city = require_city()
    key, by = _durable_key("increment", authorization_id), _by()

    def compute(uow):
        res = incremental.increment(city.ctx, uow, authorization_id=authorization_id,
                                    amount_minor=body["amount_minor"], key=key, by=by)
        return {"approved": res.status == "approved", "response_code": res.response_code, "reason": res.reason,
                "increment_minor": body["amount_minor"],
                "authorization": row_dict(authorizations.row(uow, authorization_id))}, 200
    return json_response(*idempotent_write(compute))


class AdviceRequest(Strict):
    card_id = ma.fields.Integer(load_default=None, strict=True, validate=ma.validate.Range(1, 2**63 - 1))
    pan = ma.fields.String(load_default=None, validate=ma.validate.Regexp(r"^\d{12,19}$"),
                           metadata={"description": "the card number (digits only), instead of card_id"})
    amount_minor = amount_field(description="tiyn the network approved in stand-in")
    kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(("purchase", "atm_withdrawal", "p2p")),
                            metadata={"description": "purchase (default), atm_withdrawal or p2p"})

    @ma.validates_schema
    def _one_card(self, data, **_):
        if (data.get("card_id") is None) == (data.get("pan") is None):
            raise ma.ValidationError("give exactly one of card_id or pan")


class AdviceSchema(Strict):
    authorization = ma.fields.Nested(AuthorizationSchema, required=True,
                                     metadata={"description": "the booked authorization (capture it as usual)"})
    tenge_minor = ma.fields.Integer(required=True, metadata={"description": "held from tenge on the bank account"})
    crypto_minor = ma.fields.Integer(required=True, metadata={"description": "raised by selling crypto"})
    debt_minor = ma.fields.Integer(required=True, metadata={
        "description": "lent on the programme's credit line: the customer owes it"})


@blp.route("/merchants/<name:merchant_id>/authorization-advices", methods=["POST"])
@access("merchant")
@blp.arguments(AdviceRequest)
@blp.response(201, AdviceSchema, description="how the issuer booked the stand-in approval")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def authorization_advice(body: dict, merchant_id: str):
    """Book a purchase the network approved in stand-in: held from tenge, then crypto sold just in time, and
    what is still short lent on the programme's credit line (the customer's debt). Never declined; an
    unknown card is a 404. The ``Idempotency-Key`` is the purchase reference, as for an authorization."""
    city = require_city()
    ref = f"{merchant_id}:{g.idempotency_key}"

    def compute(uow):
        res = advices.book(city.ctx, uow, merchant_id=merchant_id, amount_minor=body["amount_minor"], ref=ref,
                           card_id=body["card_id"], pan=body["pan"], kind=body["kind"], by=_by())
        return {"authorization": row_dict(authorizations.row(uow, res.authorization_id)),
                "tenge_minor": res.tenge_minor, "crypto_minor": res.crypto_minor, "debt_minor": res.debt_minor}, 201
    return json_response(*idempotent_write(compute))


class CardDebtSchema(Strict):
    customer = ma.fields.String(required=True)
    debt_minor = ma.fields.Integer(required=True, metadata={
        "description": "what the customer owes the programme's credit line (tiyn)"})
    repaid_minor = ma.fields.Integer(required=True, metadata={"description": "repaid by this request (0 on a read)"})


class RepayRequest(Strict):
    amount_minor = amount_field(required=False, load_default=None, description="tiyn; omit to repay all the debt")


@blp.route("/customers/<name:actor>/card-debt")
@access("customer")
@blp.response(200, CardDebtSchema)
def card_debt(actor: str):
    """What the customer owes the programme's credit line after authorization advices booked short."""
    city = require_city()
    return city.ctx.read(lambda uow: advices.debt(city.ctx, uow, actor).to_dict())


@blp.route("/customers/<name:actor>/card-debt/repay", methods=["POST"])
@access("customer")
@blp.arguments(RepayRequest)
@blp.response(200, CardDebtSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def repay_card_debt(body: dict, actor: str):
    """Repay the debt (all of it, or ``amount_minor``) from the tenge available on the bank account: at
    most the debt and what is available; what is left stays owed."""
    city = require_city()

    def compute(uow):
        return advices.repay_debt(city.ctx, uow, actor=actor, amount_minor=body["amount_minor"]).to_dict(), 200
    return json_response(*idempotent_write(compute))
