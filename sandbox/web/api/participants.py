"""Participants and their licences on the sandbox clock; suspending and reinstating a licence.

Any key may read the register (it is public information, as AFSA's is). Suspending or reinstating is
a write for the operator and for the regulator (``@access("regulator")``): a suspended licence makes
every action that needs it refuse with ``not_licensed`` until it is reinstated.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from sandbox import city_state
from sandbox.licensing import LicenceRegistry
from sandbox.services import licences as licence_service

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    idempotent_write,
    install_converters,
    page_schema,
    require_city,
)
from ..responses import json_response
from . import PREFIX
from .schemas import PageQuery, ReasonSchema, Strict, seq_page

blp = Blueprint("participants", __name__, url_prefix=PREFIX, description="Participants, licences and regulators")
install_converters(blp)


class LicenceSchema(Strict):
    seq = ma.fields.Integer()
    id = ma.fields.String(required=True)
    holder = ma.fields.String(required=True)
    regulator = ma.fields.String(required=True)
    regulator_name = ma.fields.String(required=True)
    scope = ma.fields.String(required=True, metadata={"example": "trading_facility"})
    valid_from = ma.fields.String(required=True)
    valid_until = ma.fields.String(required=True)
    renewable = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True, metadata={"description": "active, suspended, not_yet_valid, expired "
                                                                     "(at the sandbox's now)"})
    suspension_reason = ma.fields.String(allow_none=True, required=True)


class ParticipantSchema(Strict):
    seq = ma.fields.Integer(required=True)
    id = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, metadata={"description": "participant or merchant"})
    licences = ma.fields.List(ma.fields.Nested(LicenceSchema), required=True)


ParticipantPage = page_schema(ParticipantSchema, "ParticipantPage")
LicencePage = page_schema(LicenceSchema, "LicencePage")


def licence_dict(city, lic, now) -> dict:
    return {"id": lic.id, "holder": lic.participant, "regulator": lic.regulator,
            "regulator_name": city.licences.regulator_names.get(lic.regulator, lic.regulator), "scope": lic.scope,
            "valid_from": lic.valid_from.isoformat(), "valid_until": lic.valid_until.isoformat(),
            "renewable": lic.renewable, "status": lic.status(now), "suspension_reason": lic.suspension_reason}


def _holders(city):
    for kind, holders in (("participant", city.cfg.participants), ("merchant", city.cfg.merchants)):
        for h in holders:
            yield kind, h


@blp.route("/participants")
@access(shared=True)
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, ParticipantPage)
def participants(limit: int, after_id: int | None = None):
    """Licensed participants and zone merchants with each licence's state at sandbox time."""
    city = require_city()
    now = city.now()
    items = [{"id": h.id, "name": h.name, "kind": kind,
              "licences": [licence_dict(city, city.licences.get(lic.id), now) for lic in h.licences]}
             for kind, h in _holders(city)]
    return seq_page(items, limit, after_id)


@blp.route("/licences")
@access(shared=True)
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, LicencePage)
def licences(limit: int, after_id: int | None = None):
    """Every licence with its state at sandbox time: the configuration's, then those granted at run time."""
    city = require_city()
    now = city.now()
    items = [licence_dict(city, city.licences.get(lic.id), now) for _, h in _holders(city) for lic in h.licences]
    known = {item["id"] for item in items}   # then licences granted at run time (a mining farm's)
    items += [licence_dict(city, lic, now) for lic in sorted(city.licences.states(), key=lambda x: x.id)
              if lic.id not in known]
    return seq_page(items, limit, after_id)


@blp.route("/licences/<name:licence_id>")
@access(shared=True)
@blp.response(200, LicenceSchema)
def licence(licence_id: str):
    """One licence (unknown: 404)."""
    city = require_city()
    now = city.now()
    return licence_dict(city, city.licences.get(licence_id), now)


def _change(licence_id: str, body: dict, verb: str):
    city = require_city()
    city.licences.get(licence_id)  # 404 before anything is claimed
    until = {"valid_until": body["valid_until"], "applied_at": body.get("applied_at"),
             "exit_plan": body.get("exit_plan")} if verb == "renew" else {}

    def compute(uow):
        getattr(licence_service, f"{verb}_licence")(city.ctx, uow, licence_id=licence_id, reason=body["reason"],
                                                    **until)
        lic = LicenceRegistry.from_config(city.cfg, city_state.load_licences(uow.conn)).get(licence_id)
        return licence_dict(city, lic, uow.now()), 200
    return json_response(*idempotent_write(compute))


@blp.route("/licences/<name:licence_id>/suspend", methods=["POST"])
@access("regulator")
@blp.arguments(ReasonSchema)
@blp.response(200, LicenceSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def suspend(body: dict, licence_id: str):
    """Suspend a licence from now on (regulator or operator); suspending a suspended licence changes nothing."""
    return _change(licence_id, body, "suspend")


@blp.route("/licences/<name:licence_id>/reinstate", methods=["POST"])
@access("regulator")
@blp.arguments(ReasonSchema)
@blp.response(200, LicenceSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def reinstate(body: dict, licence_id: str):
    """Lift a suspension (regulator or operator)."""
    return _change(licence_id, body, "reinstate")




class RenewSchema(ReasonSchema):
    valid_until = ma.fields.AwareDateTime(required=True, metadata={"description": "the new end of validity "
                                                                                 "(with its zone), later than now"})
    applied_at = ma.fields.AwareDateTime(load_default=None, metadata={
        "description": "when the participant applied (default now): the regulator's notice before expiry is "
                       "counted from it"})
    exit_plan = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(1, 2_000), metadata={
        "description": "how the participant would wind its business down in order, customers paid out; "
                       "required by a regulator that asks for one (AFSA)"})


@blp.route("/licences/<name:licence_id>/renew", methods=["POST"])
@access("regulator")
@blp.arguments(RenewSchema)
@blp.response(200, LicenceSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def renew(body: dict, licence_id: str):
    """Extend a renewable licence to ``valid_until`` (regulator or operator) on its regulator's terms. Refused:
    not renewable or not extending it (``licensing_error``), expired when applied for (``licence_expired``),
    applied for more than one renewal's length before expiry (``renewal_too_early``), later than the
    regulator's notice (``renewal_too_late``: AFSA, 2 months), further than one renewal grants
    (``renewal_too_long``: AFSA, 24 months), without the exit plan the regulator asks for
    (``exit_plan_required``: AFSA). ``applied_at``: when the participant applied (default now)."""
    return _change(licence_id, body, "renew")


class CitySchema(Strict):
    name = ma.fields.String(required=True)
    config_fingerprint = ma.fields.String(required=True, metadata={
        "description": "SHA-256 of the city's configuration: two cities with the same one run the same rules"})
    seed = ma.fields.Integer(required=True)
    now = ma.fields.String(required=True, metadata={"description": "sandbox time, ISO 8601"})


@blp.route("/city")
@access(shared=True)
@blp.response(200, CitySchema)
def city_info():
    """Which city this server runs: its name, a fingerprint of its configuration, its seed and its time
    (``cryptocity run --server`` checks a scenario's configuration against it before it starts)."""
    from sandbox.config import config_fingerprint
    city = require_city()
    return {"name": city.cfg.sandbox.name, "config_fingerprint": config_fingerprint(city.cfg),
            "seed": city.ctx.seed, "now": city.now().isoformat()}
