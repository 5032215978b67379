"""The decision gateway's URLs (operator): the app that approves each card purchase in real time, for the
whole card programme or for one card (overriding the programme's). Kept in the database, so every
serving process asks the same app. ``PUT`` answers the signing secret (``whsec_…``): a new one unless the
body brings its own; ``GET`` never shows it. See sandbox/gateway/ for the flow.
"""
from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from card import issuing
from sandbox.gateway import STAND_INS, admin, store
from sandbox.webhooks.endpoints import MAX_URL

from ..auth import access
from ..conventions import install_converters, require_city
from . import PREFIX
from .schemas import Strict

blp = Blueprint("decisions", __name__, url_prefix=PREFIX,
                description="Decision gateway: your app approves each card purchase (signed authorization.request)")
install_converters(blp)


class DecisionPut(Strict):
    url = ma.fields.String(required=True, validate=ma.validate.Length(1, MAX_URL),
                           metadata={"example": "http://localhost:4243/decide"})
    secret = ma.fields.String(load_default=None, validate=ma.validate.Length(10, 100),
                              metadata={"description": "sign with this whsec_ secret (default: a new one)"})
    deadline_ms = ma.fields.Integer(load_default=None, strict=True, validate=ma.validate.Range(500, 3000),
                                    metadata={"description": "how long to wait for the app (default: the "
                                                             "programme's decision_deadline_ms)"})
    stand_in = ma.fields.String(load_default=None, validate=ma.validate.OneOf(STAND_INS),
                                metadata={"description": "what decides when the app does not (default: the "
                                                         "programme's stand_in)"})


class DecisionSchema(Strict):
    scope = ma.fields.String(required=True, metadata={"description": "programme, card:<id> or config"})
    url = ma.fields.String(required=True, allow_none=True, metadata={"description": "null: no app is asked"})
    deadline_ms = ma.fields.Integer(required=True)
    stand_in = ma.fields.String(required=True)


class DecisionSet(DecisionSchema):
    secret = ma.fields.String(required=True, metadata={"description": "the signing secret (whsec_…): shown only "
                                                                      "in this answer"})


def _put(body: dict, card_id: int | None = None) -> dict:
    city = require_city()
    programme = city.ctx.cfg.card
    secret = city.run(admin.set_url, url=body["url"], secret=body["secret"], deadline_ms=body["deadline_ms"],
                      stand_in=body["stand_in"], card_id=card_id)
    return {"scope": store.PROGRAMME if card_id is None else store.card_scope(card_id), "url": body["url"],
            "deadline_ms": body["deadline_ms"] or programme.decision_deadline_ms,
            "stand_in": body["stand_in"] or programme.stand_in, "secret": secret}


def _get(scope: str, card_id: int | None = None) -> dict:
    city = require_city()
    programme = city.ctx.cfg.card

    def read(uow):
        if card_id is not None:
            issuing.get_card(uow, card_id)
        return store.get(uow, scope)
    row = city.ctx.read(read)
    if row is None:
        if scope == store.PROGRAMME and programme.decision_url:
            return {"scope": "config", "url": programme.decision_url, "deadline_ms": programme.decision_deadline_ms,
                    "stand_in": programme.stand_in}
        return {"scope": scope, "url": None, "deadline_ms": programme.decision_deadline_ms,
                "stand_in": programme.stand_in}   # no app: the sandbox decides alone
    return {"scope": row.scope, "url": row.url, "deadline_ms": row.deadline_ms or programme.decision_deadline_ms,
            "stand_in": row.stand_in or programme.stand_in}


def _delete(card_id: int | None = None) -> Response:
    require_city().run(admin.remove_url, card_id=card_id)
    return Response(status=204)


@blp.route("/card-programme/decision", methods=["PUT"])
@access()
@blp.arguments(DecisionPut)
@blp.response(200, DecisionSet)
def put_programme(body: dict):
    """Name the app that decides every purchase of the programme's cards (a card's own app wins)."""
    return _put(body)


@blp.route("/card-programme/decision")
@access()
@blp.response(200, DecisionSchema)
def get_programme():
    """The programme's decision app (the secret is never shown again); ``url`` null when none is set."""
    return _get(store.PROGRAMME)


@blp.route("/card-programme/decision", methods=["DELETE"])
@access()
@blp.response(204)
def delete_programme():
    """Stop asking the programme's app (the preset's ``decision_url``, if any, applies again)."""
    return _delete()


@blp.route("/cards/<id:card_id>/decision", methods=["PUT"])
@access()
@blp.arguments(DecisionPut)
@blp.response(200, DecisionSet)
def put_card(body: dict, card_id: int):
    """Name the app that decides this card's purchases, instead of the programme's."""
    return _put(body, card_id)


@blp.route("/cards/<id:card_id>/decision")
@access()
@blp.response(200, DecisionSchema)
def get_card(card_id: int):
    """This card's own decision app (``url`` null: the programme's decides)."""
    return _get(store.card_scope(card_id), card_id)


@blp.route("/cards/<id:card_id>/decision", methods=["DELETE"])
@access()
@blp.response(204)
def delete_card(card_id: int):
    """Stop asking this card's own app (the programme's applies again)."""
    return _delete(card_id)
