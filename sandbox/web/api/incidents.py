"""Incidents a workshop host sets off (operator): a price crash, a licence suspended, a KZTE address frozen,
an AML alert wave, the decision gateway down, a chain halt — and their end. Operator and regulator read
the list. See sandbox/incidents/ for what each does.

A start is one idempotent write (the incident, its immediate effect, its audit entry and its
``incident.started`` event commit together); a price crash's walk through its minutes and an AML wave's
purchases follow, each step its own transaction, and are safe to repeat, so a replayed request finishes
what a broken connection left half done and answers with the incident as it stands.
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from sandbox import incidents

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, idempotent_write, require_city
from ..responses import json_response
from . import PREFIX
from .schemas import Strict

blp = Blueprint("incidents", __name__, url_prefix=f"{PREFIX}/incidents", description="Workshop incidents")


class StartBody(Strict):
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(incidents.KINDS))
    percent = ma.fields.Integer(strict=True, metadata={"description": "price_crash: how far prices fall, 1-95 %"})
    minutes = ma.fields.Integer(strict=True, metadata={"description": "price_crash: over how many sandbox minutes"})
    assets = ma.fields.List(ma.fields.String(), metadata={"description": "price_crash: which (default: all but "
                                                                         "stablecoins)"})
    walk = ma.fields.Boolean(metadata={"description": "price_crash: move the clock through the minutes now "
                                                      "(default true)"})
    licence_id = ma.fields.String(metadata={"description": "licence_suspended: which (default: the exchange's "
                                                           "trading-facility licence)"})
    address = ma.fields.String(metadata={"description": "kzte_address_frozen: the KZTE holder address (0x…)"})
    count = ma.fields.Integer(strict=True, metadata={"description": "aml_alert_wave: purchases that raise a flag "
                                                                    "(default 5)"})


class IncidentSchema(Strict):
    object = ma.fields.String(required=True)
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    params = ma.fields.Dict(required=True)
    status = ma.fields.String(required=True, metadata={"description": "active or resolved"})
    started_at = ma.fields.String(required=True)
    started_by = ma.fields.String(required=True)
    resolved_at = ma.fields.String(allow_none=True, required=True)
    outcome = ma.fields.Dict(required=True, metadata={"description": "what it did: prices before and after, "
                                                                     "flags raised, deposits credited…"})


class IncidentList(Strict):
    items = ma.fields.List(ma.fields.Nested(IncidentSchema), required=True)


def _by() -> str:
    principal = g.get("principal")
    return principal.role if principal is not None else "operator"


@blp.route("", methods=["GET"])
@access()   # operator; a regulator may always read
@blp.response(200, IncidentList)
def list_incidents():
    """The latest incidents, newest first."""
    city = require_city()
    return {"items": [r.to_dict() for r in city.read(lambda ctx, uow: incidents.listing(uow))]}


@blp.route("", methods=["POST"])
@access()
@blp.arguments(StartBody)
@blp.response(201, IncidentSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def start_incident(body: dict):
    """Set off an incident (operator): ``kind`` and its parameters."""
    city = require_city()
    kind = body.pop("kind")

    def compute(uow):
        return incidents.start(city.ctx, uow, kind=kind, params=body, by=_by()).to_dict(), 201
    # a KZTE freeze moves an in-process chain: a retried transaction would repeat it
    stored, status, headers = idempotent_write(compute, retries=0 if kind == "kzte_address_frozen" else None)
    row = incidents.follow_up(city, stored["id"])
    return json_response(row.to_dict(), status, headers)


@blp.route("/<id:incident_id>/resolve", methods=["POST"])
@access()
@blp.response(200, IncidentSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def resolve_incident(incident_id: int):
    """End an incident (operator): the licence reinstated, the address unfrozen, the gateway back, the chain
    mining again (its held deposits confirm and credit). Resolving a resolved incident changes nothing."""
    city = require_city()

    def compute(uow):
        return incidents.resolve(city.ctx, uow, incident_id=incident_id, by=_by()).to_dict(), 200
    return json_response(*idempotent_write(compute, retries=0))
