"""Card network messages beyond authorize-then-clear, as an acquirer sends them:

* ``POST /merchants/{merchant_id}/force-posts`` — a clearing that comes without an authorization: crypto is
  sold just in time if the bank account is short and the merchant is paid now, whatever the card's status
  (networks do not let the issuer decline a presentment; a dispute comes later). 422 ``clearing_unfunded``
  (ISO 51) when tenge plus crypto cannot pay it: nothing changes.
* ``POST /merchants/{merchant_id}/refunds`` — a refund with no original purchase: the merchant pays the
  card's bank account.
* ``POST /authorizations/{authorization_id}/expire`` — release what is left of the hold now.

The ``Idempotency-Key`` is the message's reference, as for an authorization: the card's own durable key is
``force:<merchant_id>:<key>`` / ``refund:<merchant_id>:<key>``, written in the same transaction as the stored
response, so a retry never pays twice. Scoping as for the POS: a merchant key only for its own merchant and
the authorizations made there.
"""
from __future__ import annotations

import hashlib

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from card import authorizations
from sandbox.services import network_messages

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, idempotent_write, install_converters, require_city
from ..responses import json_response
from . import PREFIX
from .pos import AuthorizationSchema, AuthorizeRequest, row_dict

blp = Blueprint("network", __name__, url_prefix=PREFIX,
                description="Card network messages: force posts, unlinked refunds, expiring a hold now")
install_converters(blp)


class NetworkMessageSchema(AuthorizationSchema):
    kind = ma.fields.String(required=True, metadata={"description": "force_post or unlinked_refund"})


def _message(kind: str, merchant_id: str, body: dict):
    city = require_city()
    ref = f"{merchant_id}:{g.idempotency_key}"
    principal = g.get("principal")
    by = (principal.subject or principal.role) if principal is not None else network_messages.NETWORK
    service = network_messages.force_post if kind == "force_post" else network_messages.unlinked_refund

    def compute(uow):
        res = service(city.ctx, uow, merchant_id=merchant_id, amount_minor=body["amount_minor"], ref=ref,
                      card_id=body["card_id"], pan=body["pan"], by=by)
        return {**row_dict(authorizations.row(uow, res.authorization_id)), "kind": kind}, 201
    return json_response(*idempotent_write(compute))


@blp.route("/merchants/<name:merchant_id>/force-posts", methods=["POST"])
@access("merchant")
@blp.arguments(AuthorizeRequest)
@blp.response(201, NetworkMessageSchema, description="the force post as booked (status captured)")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def force_post(body: dict, merchant_id: str):
    """Clear a sale at ``merchant_id`` that was never authorized (card by id or number): crypto is sold just in
    time if the bank account is short, the merchant is paid now minus its fee. Booked even on a frozen, closed
    or expired card; spend controls and sandbox rules are not asked. 422 ``clearing_unfunded`` (ISO 51) when
    tenge plus crypto cannot pay it."""
    return _message("force_post", merchant_id, body)


@blp.route("/merchants/<name:merchant_id>/refunds", methods=["POST"])
@access("merchant")
@blp.arguments(AuthorizeRequest)
@blp.response(201, NetworkMessageSchema, description="the refund as booked (status refunded)")
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def unlinked_refund(body: dict, merchant_id: str):
    """A refund with no original purchase: ``merchant_id`` pays ``amount_minor`` into the card's bank account
    (in tenge). 422 ``insufficient_funds`` if the merchant's settlement account cannot pay it."""
    return _message("unlinked_refund", merchant_id, body)


@blp.route("/authorizations/<id:authorization_id>/expire", methods=["POST"])
@access("merchant")
@blp.response(200, AuthorizationSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def expire(authorization_id: int):
    """Release what is left of the authorization's hold now, as its expiry date would (event
    ``authorization.expired``). Part of it captured already: it stays captured. 409 ``nothing_to_expire``
    when no hold is left."""
    city = require_city()
    principal = g.get("principal")
    key = "http:" + hashlib.sha256(f"{principal.key_id if principal else '-'}|expire|{authorization_id}|"
                                   f"{g.idempotency_key}".encode()).hexdigest()[:48]
    by = (principal.subject or principal.role) if principal is not None else network_messages.NETWORK

    def compute(uow):
        network_messages.expire_now(city.ctx, uow, authorization_id=authorization_id, key=key, by=by)
        return row_dict(authorizations.row(uow, authorization_id)), 200
    return json_response(*idempotent_write(compute))
