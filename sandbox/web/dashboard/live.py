"""The live event feed (overview and POS pages) and the webhooks page.

The feed is a Server-Sent Events stream of the events the signed-in key may see, read by a small vendored
script (``static/live-feed.js``, ``EventSource``, no CDN); the page passes the newest event id at render
time, so the feed shows what happens from then on, and a reconnecting ``EventSource`` resumes from
``Last-Event-ID`` without a gap. The webhooks page lists the endpoints, each one's delivery log, and lets
the operator create, delete, enable and resend.
"""
from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for

from sandbox import events
from sandbox.webhooks import endpoints as webhook_endpoints
from sandbox.webhooks import schedule

from ..auth import access
from ..problems import is_domain_error
from ..services import services
from .core import bp, city_or_none, needs_city, principal, refused

STREAM_SECONDS = 300.0


def _scope() -> dict:
    who = principal()
    if who.role == "customer":
        return {"customer": who.subject}
    if who.role == "merchant":
        return {"merchant": who.subject}
    return {}


@bp.app_context_processor
def _live_feed():
    def live_feed() -> dict | None:
        """What a page needs to show the feed: the stream URL and the event types; None without a city."""
        if city_or_none() is None:
            return None
        with services().ledger.unit_of_work(read_only=True) as uow:
            after = events.last_seq(uow.conn)
        return {"src": url_for("dashboard.live_events", after=events.format_id(after) if after else None),
                "types": ",".join(events.EVENT_TYPES)}
    return {"live_feed": live_feed}


@bp.route("/live/events")
@access("customer", "merchant", scope="owner")
def live_events():
    """The feed's stream (the dashboard's session authenticates it; ``EventSource`` sends no API key)."""
    from ..api.events import STREAMS_EXTENSION, _sse
    city = city_or_none()
    if city is None:
        return Response("retry: 60000\n\n", mimetype="text/event-stream")
    try:
        after = events.parse_id(request.headers.get("Last-Event-ID") or request.args.get("after"))
        lifetime = min(STREAM_SECONDS, float(request.args.get("max_seconds", STREAM_SECONDS)))
    except (ValueError, events.InvalidEventId):
        return Response("bad request: after must be an event id, max_seconds a number", status=400)
    # The same per-process budget as the API's streams: each open stream holds a server thread.
    slots = current_app.extensions[STREAMS_EXTENSION]
    if not slots.acquire(blocking=False):
        return Response("retry: 5000\n: too many streams; retrying\n\n", mimetype="text/event-stream")
    body = _sse(city.ctx.ledger, after, None, _scope(), poll=0.25, heartbeat=15.0, lifetime=max(0.1, lifetime))
    response = Response(body, mimetype="text/event-stream", headers={"Cache-Control": "no-cache",
                                                                     "X-Accel-Buffering": "no"})
    response.call_on_close(slots.release)
    return response


# -- the webhooks page ----------------------------------------------------------------------------------
@bp.route("/webhooks")
@access()  # operator (and a regulator, who may look)
def webhooks():
    if city_or_none() is None:
        return needs_city("Webhooks", "deliver the city's events to your app")
    selected = request.args.get("show", type=int)
    with services().ledger.unit_of_work(read_only=True) as uow:
        rows = webhook_endpoints.list_all(uow, limit=100)
        if selected is None and rows:
            selected = rows[-1]["id"]
        log = webhook_endpoints.deliveries(uow, selected, limit=50, newest_first=True) \
            if any(r["id"] == selected for r in rows) else []
    return render_template("webhooks.html", title="Webhooks", endpoints=rows, selected=selected, log=log,
                           can_edit=principal().role == "operator", event_types=events.EVENT_TYPES,
                           schedule=schedule.describe(schedule.from_environment()), secret=None)


@bp.route("/webhooks", methods=["POST"])
@access()
def webhooks_action():
    action = request.form.get("action", "")
    endpoint_id = request.form.get("endpoint", type=int)
    if action not in ("create", "delete", "enable", "resend"):
        return refused(f"Unknown action {action!r}.", 400, "Not an action")

    def act(uow):
        if action == "create":
            types = request.form.getlist("events") or ["*"]
            return webhook_endpoints.create(uow, url=request.form.get("url", "").strip(), events=types,
                                            description=request.form.get("description", "").strip())
        if action == "delete":
            return webhook_endpoints.delete(uow, endpoint_id or 0)
        if action == "enable":
            return webhook_endpoints.enable(uow, endpoint_id or 0)
        return webhook_endpoints.resend(uow, endpoint_id or 0, request.form.get("delivery", type=int) or 0)
    try:
        out = services().ledger.transaction(act)
    except Exception as error:  # noqa: BLE001 - typed refusals become a message; others propagate
        if not is_domain_error(error):
            raise
        flash(f"Nothing changed: {error}", "error")
        return redirect(url_for("dashboard.webhooks", show=endpoint_id), code=303)
    if action == "create":
        # The secret is shown once, on this page's answer (not stored in the session, not in a redirect).
        flash(f"Endpoint {out['id']} created.", "ok")
        with services().ledger.unit_of_work(read_only=True) as uow:
            rows = webhook_endpoints.list_all(uow, limit=100)
        return render_template("webhooks.html", title="Webhooks", endpoints=rows, selected=out["id"], log=[],
                               can_edit=True, event_types=events.EVENT_TYPES,
                               schedule=schedule.describe(schedule.from_environment()), secret=out["secret"]), 201
    flash({"delete": f"Endpoint {endpoint_id} deleted.", "enable": f"Endpoint {endpoint_id} enabled.",
           "resend": f"Queued again as delivery {out['id'] if isinstance(out, dict) else ''}."}[action], "ok")
    return redirect(url_for("dashboard.webhooks", show=endpoint_id if action != "delete" else None), code=303)
