"""The event log over HTTP: a page of events (``GET /api/v1/events``) and a live stream of them as
Server-Sent Events (``GET /api/v1/events/stream``), scoped by role: an operator or regulator key sees every
event, a customer key the events of its own actor, a merchant key its own purchases.

Every request gets a request id (``X-Request-Id``: the client's, if it sent a sane one, else a new
``req_…``), echoed on the response and recorded on the events its write caused.
"""
from __future__ import annotations

import json
import re
import threading
import time
import uuid

import marshmallow as ma
from flask import Response, current_app, g, request
from flask_smorest import Blueprint

from sandbox import events

from ..auth import access, current_principal
from ..conventions import require_city
from ..problems import Problem
from . import PREFIX
from .schemas import Strict

blp = Blueprint("events", __name__, url_prefix=f"{PREFIX}/events",
                description="The event log: what changed in the city, in order (a page, or a live stream)")

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_TYPES = 30
DEFAULT_LIMIT = 50
# The stream: how often it looks for new events, how often it proves it is alive, and how long one
# connection may last (a sync worker is not held forever; an EventSource reconnects with Last-Event-ID).
# EVENTS_MAX_STREAMS: open streams per process; each holds a server thread, so a gunicorn worker with a
# few threads keeps some for other requests (``cryptocity serve --workers N`` sets 2 of its 4).
STREAM_DEFAULTS = {"EVENTS_POLL_SECONDS": 0.25, "EVENTS_HEARTBEAT_SECONDS": 15.0, "EVENTS_STREAM_SECONDS": 300.0,
                   "EVENTS_MAX_STREAMS": 16}
RETRY_MS = 1000
STREAMS_EXTENSION = "cryptocity_event_streams"


def init_app(app) -> None:
    for name, value in STREAM_DEFAULTS.items():
        app.config.setdefault(name, value)
    app.extensions[STREAMS_EXTENSION] = threading.BoundedSemaphore(int(app.config["EVENTS_MAX_STREAMS"]))
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)


def _assign_request_id() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _REQUEST_ID_RE.match(given) else f"req_{uuid.uuid4().hex}"


def _echo_request_id(response):
    if g.get("request_id"):
        response.headers.setdefault(REQUEST_ID_HEADER, g.request_id)
    return response


class EventRequestSchema(Strict):
    id = ma.fields.String(allow_none=True, required=True, metadata={"description": "X-Request-Id of the request"})
    idempotency_key = ma.fields.String(allow_none=True, required=True)


class CityEventSchema(Strict):
    id = ma.fields.String(required=True, metadata={"example": "evt_0000000000000042",
                                                   "description": "ordered: a later event has a greater id"})
    type = ma.fields.String(required=True, metadata={"enum": list(events.EVENT_TYPES)})
    created_at = ma.fields.String(required=True, metadata={"description": "sandbox time, ISO 8601 UTC"})
    data = ma.fields.Dict(required=True, metadata={"description": "a snapshot of the object (amounts in minor "
                                                                  "units, `*_minor`)"})
    request = ma.fields.Nested(EventRequestSchema, required=True)


class EventPageSchema(Strict):
    items = ma.fields.List(ma.fields.Nested(CityEventSchema), required=True)
    next_after = ma.fields.String(allow_none=True, required=True,
                                  metadata={"description": "pass as `after` for the next page; null on the last"})
    last_id = ma.fields.String(allow_none=True, required=True,
                               metadata={"description": "the last event on this page (or `after` when empty): "
                                                        "poll again from it"})


class EventArgs(Strict):
    type = ma.fields.String(load_default=None, validate=ma.validate.Length(1, 2000),
                            metadata={"description": "only these types, comma-separated "
                                                     "(e.g. authorization.created,deposit.confirmed)"})
    after = ma.fields.String(load_default=None, validate=ma.validate.Length(max=40),
                             metadata={"description": "an event id: only events after it"})
    limit = ma.fields.Integer(load_default=DEFAULT_LIMIT, validate=ma.validate.Range(1, events.MAX_PAGE),
                              metadata={"description": f"page size, at most {events.MAX_PAGE}"})
    owner = ma.fields.String(load_default=None, validate=ma.validate.Length(max=120),
                             metadata={"description": "a customer or merchant key may only name itself"})


class StreamArgs(Strict):
    type = EventArgs._declared_fields["type"]
    after = ma.fields.String(load_default=None, validate=ma.validate.Length(max=40),
                             metadata={"description": "start after this event id (the `Last-Event-ID` header, "
                                                      "which a reconnecting EventSource sends, wins)"})
    max_seconds = ma.fields.Float(load_default=None, validate=ma.validate.Range(0.1, 3600),
                                  metadata={"description": "close the stream after this long (at most the "
                                                           "server's limit, 300 s by default)"})
    owner = EventArgs._declared_fields["owner"]


def _types(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    if len(names) > MAX_TYPES:
        raise Problem(422, "validation_error", f"at most {MAX_TYPES} event types per request")
    return events.check_types(names) or None


def _scope() -> dict:
    """The filter a key's role allows: nothing for operator and regulator, its own actor for a customer,
    its own purchases for a merchant."""
    principal = current_principal()
    if principal is None or principal.role in ("operator", "regulator"):
        return {}
    if principal.role == "customer":
        return {"customer": principal.subject}
    if principal.role == "merchant":
        return {"merchant": principal.subject}
    raise Problem(403, "forbidden", f"a {principal.role} key may not read events")


@blp.route("")
@access("customer", "merchant", scope="owner")
@blp.arguments(EventArgs, location="query")
@blp.response(200, EventPageSchema)
def list_events(args: dict):
    """Events oldest first, after `after`: the change, its sandbox time, a snapshot of the object and the
    request that caused it. A customer key sees its own events, a merchant key its own purchases, operator
    and regulator everything."""
    city = require_city()
    after = events.parse_id(args["after"])
    types, scope, limit = _types(args["type"]), _scope(), args["limit"]

    found = city.ctx.read(lambda uow: _read_one_more(uow, after, limit, types, scope))
    more = len(found) > limit
    found = found[:limit]
    last = found[-1].id if found else (events.format_id(after) if after else None)
    return {"items": [e.to_dict() for e in found], "next_after": found[-1].id if more and found else None,
            "last_id": last}


def _read_one_more(uow, after: int, limit: int, types, scope) -> list:
    """A page and the event after it, if any (two bounded reads when the page is full)."""
    page = events.read(uow.conn, after=after, limit=limit, types=types, **scope)
    if len(page) == limit:
        page += events.read(uow.conn, after=page[-1].seq, limit=1, types=types, **scope)
    return page


@blp.route("/stream")
@access("customer", "merchant", scope="owner")
@blp.arguments(StreamArgs, location="query")
@blp.doc(responses={"200": {"description": "Server-Sent Events: `id: evt_…`, `event: <type>`, `data: <the event "
                                           "as JSON>`; `: heartbeat` comments while idle; the stream ends after "
                                           "its lifetime and the client reconnects with `Last-Event-ID`",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
def stream(args: dict):
    """A live stream of the events this key may see, from `Last-Event-ID` (or `after`) on, with no gaps:
    it pages through the log by id, then polls it. Each connection lasts at most the server's stream
    lifetime (300 s by default); an EventSource reconnects by itself and resumes where it stopped."""
    city = require_city()
    resume = request.headers.get("Last-Event-ID")
    after = events.parse_id(resume if resume else args["after"])
    types, scope = _types(args["type"]), _scope()
    cfg = current_app.config
    lifetime = float(cfg["EVENTS_STREAM_SECONDS"])
    if args["max_seconds"] is not None:
        lifetime = min(lifetime, args["max_seconds"])
    slots = current_app.extensions[STREAMS_EXTENSION]
    if not slots.acquire(blocking=False):
        raise Problem(503, "too_many_streams", f"this server process already serves {cfg['EVENTS_MAX_STREAMS']} event "
                      "streams; retry shortly, or page with GET /api/v1/events", headers={"Retry-After": "5"})
    body = _sse(city.ctx.ledger, after, types, scope, poll=float(cfg["EVENTS_POLL_SECONDS"]),
                heartbeat=float(cfg["EVENTS_HEARTBEAT_SECONDS"]), lifetime=lifetime)
    response = Response(body, status=200, mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(slots.release)   # the server closes the body when the stream ends or the client left
    return response


def _sse(ledger, after: int, types, scope: dict, *, poll: float, heartbeat: float, lifetime: float):
    """The stream's body. Each read is its own short read-only transaction (no connection is held while
    idle); every event is sent once, in id order, and ``after`` moves past it."""
    started = time.monotonic()
    last_sent = started
    yield f"retry: {RETRY_MS}\n: stream open after {events.format_id(after)}\n\n"
    while time.monotonic() - started < lifetime:
        with ledger.unit_of_work(read_only=True) as uow:
            batch = events.read(uow.conn, after=after, limit=events.MAX_PAGE, types=types, **scope)
        if batch:
            chunks = []
            for event in batch:
                chunks.append(f"id: {event.id}\nevent: {event.type}\n"
                              f"data: {json.dumps(event.to_dict(), separators=(',', ':'))}\n\n")
                after = event.seq
            yield "".join(chunks)
            last_sent = time.monotonic()
            if len(batch) == events.MAX_PAGE:
                continue   # more waiting: read on at once
        elif time.monotonic() - last_sent >= heartbeat:
            yield ": heartbeat\n\n"
            last_sent = time.monotonic()
        time.sleep(poll)
    yield f": stream lifetime over; reconnect with Last-Event-ID: {events.format_id(after)}\n\n"

