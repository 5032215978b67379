"""Webhook endpoints (operator; a regulator key may read them): create one (its signing secret is shown
in that answer only), list, read, delete, enable again; each endpoint's delivery log and manual resend.

Delivery itself never runs here: the dispatcher (``sandbox.webhooks.dispatcher``) does it on background
threads, so a request only writes rows.
"""
from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask_smorest import Blueprint

from sandbox.webhooks import endpoints as service
from sandbox.webhooks import schedule

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, MAX_ID, MAX_PAGE_SIZE, idempotent_write, page, page_schema
from ..responses import json_response
from ..services import services
from . import PREFIX
from .schemas import Strict

blp = Blueprint("webhooks", __name__, url_prefix=f"{PREFIX}/webhook-endpoints",
                description="Webhook endpoints: signed event deliveries to your app (Standard Webhooks), "
                            f"retried on the schedule {schedule.describe(schedule.DEFAULT)}")
DELIVERY_STATUSES = ("pending", "succeeded", "failed", "cancelled")


class EndpointCreate(Strict):
    url = ma.fields.String(required=True, validate=ma.validate.Length(1, service.MAX_URL),
                           metadata={"example": "http://localhost:4242/webhooks"})
    events = ma.fields.List(ma.fields.String(validate=ma.validate.Length(1, 80)), load_default=["*"],
                            validate=ma.validate.Length(1, service.MAX_TYPES),
                            metadata={"description": "event types to receive: exact (authorization.created), "
                                                     "a prefix (authorization.*) or * for all (the default)"})
    description = ma.fields.String(load_default="", validate=ma.validate.Length(0, service.MAX_DESCRIPTION))


class EndpointSchema(Strict):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(), required=True)
    description = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "enabled or disabled"})
    disabled_reason = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True, metadata={"description": "wall-clock time, ISO 8601"})
    deliveries = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True,
                                metadata={"description": "how many deliveries are in each status"})


class EndpointCreated(EndpointSchema):
    secret = ma.fields.String(required=True, metadata={"description": "the signing secret (whsec_…): shown "
                                                                      "only in this answer"})


class AttemptSchema(Strict):
    number = ma.fields.Integer(required=True)
    started_at = ma.fields.String(required=True)
    status_code = ma.fields.Integer(allow_none=True, required=True)
    latency_ms = ma.fields.Integer(required=True)
    error = ma.fields.String(allow_none=True, required=True)


class DeliverySchema(Strict):
    id = ma.fields.Integer(required=True)
    endpoint_id = ma.fields.Integer(required=True)
    event_id = ma.fields.String(required=True)
    event_type = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": ", ".join(DELIVERY_STATUSES)})
    attempts = ma.fields.Integer(required=True)
    next_attempt_at = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True)
    finished_at = ma.fields.String(allow_none=True, required=True)
    last_status_code = ma.fields.Integer(allow_none=True, required=True)
    last_error = ma.fields.String(allow_none=True, required=True)
    resend_of = ma.fields.Integer(allow_none=True, required=True)
    attempt_log = ma.fields.List(ma.fields.Nested(AttemptSchema), required=True)


EndpointPage = page_schema(EndpointSchema, "WebhookEndpointPage")
DeliveryPage = page_schema(DeliverySchema, "WebhookDeliveryPage")


class PageArgs(Strict):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(1, MAX_PAGE_SIZE))
    after_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, MAX_ID))


class DeliveryArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(DELIVERY_STATUSES))


def _iso(value):
    return None if value is None else value.isoformat()


def endpoint_dict(row: dict) -> dict:
    out = {k: row[k] for k in ("id", "url", "events", "description", "status", "disabled_reason", "deliveries")}
    out["created_at"] = _iso(row["created_at"])
    if "secret" in row:
        out["secret"] = row["secret"]
    return out


def delivery_dict(row: dict) -> dict:
    out = {k: row[k] for k in ("id", "endpoint_id", "event_id", "event_type", "status", "attempts",
                               "last_status_code", "last_error", "resend_of")}
    out["next_attempt_at"] = _iso(row["next_attempt_at"]) if row["status"] == "pending" else None
    out["created_at"], out["finished_at"] = _iso(row["created_at"]), _iso(row["finished_at"])
    out["attempt_log"] = [{**a, "started_at": _iso(a["started_at"])} for a in row["attempt_log"]]
    return out


def _read(fn):
    with services().ledger.unit_of_work(read_only=True) as uow:
        return fn(uow)


@blp.route("", methods=["POST"])
@access()
@blp.arguments(EndpointCreate)
@blp.response(201, EndpointCreated)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def create(body: dict):
    """Register an endpoint: the events from now on that match ``events`` are POSTed to ``url``, signed
    with the secret in this answer (store it: it is not shown again)."""
    def compute(uow):
        return endpoint_dict(service.create(uow, url=body["url"], events=body["events"],
                                            description=body["description"])), 201
    return json_response(*idempotent_write(compute))


@blp.route("")
@access()
@blp.arguments(PageArgs, location="query", as_kwargs=True)
@blp.response(200, EndpointPage)
def list_endpoints(limit: int, after_id: int | None = None):
    """The endpoints, oldest first (secrets are never listed)."""
    rows = _read(lambda uow: service.list_all(uow, after_id=after_id, limit=limit + 1))
    return page([endpoint_dict(r) for r in rows], limit)


@blp.route("/<id:endpoint_id>")
@access()
@blp.response(200, EndpointSchema)
def get_endpoint(endpoint_id: int):
    """One endpoint, with how many deliveries are in each status."""
    return endpoint_dict(_read(lambda uow: service.get(uow, endpoint_id)))


@blp.route("/<id:endpoint_id>", methods=["DELETE"])
@access()
@blp.response(204)
def delete_endpoint(endpoint_id: int):
    """Delete an endpoint: nothing more is delivered to it (what was pending is cancelled)."""
    services().ledger.transaction(lambda uow: service.delete(uow, endpoint_id))
    return Response(status=204)


@blp.route("/<id:endpoint_id>/enable", methods=["POST"])
@access()
@blp.response(200, EndpointSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def enable_endpoint(endpoint_id: int):
    """Enable an endpoint that was disabled after repeated failure: its waiting deliveries resume, in order."""
    return json_response(*idempotent_write(lambda uow: (endpoint_dict(service.enable(uow, endpoint_id)), 200)))


@blp.route("/<id:endpoint_id>/deliveries")
@access()
@blp.arguments(DeliveryArgs, location="query", as_kwargs=True)
@blp.response(200, DeliveryPage)
def deliveries(endpoint_id: int, limit: int, after_id: int | None = None, status: str | None = None):
    """The endpoint's delivery log, oldest first: each delivery with its attempts (status code, latency)."""
    rows = _read(lambda uow: service.deliveries(uow, endpoint_id, after_id=after_id, limit=limit + 1,
                                                status=status))
    return page([delivery_dict(r) for r in rows], limit)


@blp.route("/<id:endpoint_id>/deliveries/<id:delivery_id>/resend", methods=["POST"])
@access()
@blp.response(202, DeliverySchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def resend(endpoint_id: int, delivery_id: int):
    """Send a delivery's event again: a new delivery (same ``webhook-id``) queued behind what is pending."""
    return json_response(*idempotent_write(lambda uow: (delivery_dict(service.resend(uow, endpoint_id,
                                                                                       delivery_id)), 202)))
