"""The sandbox clock: read it (any key); advance it (operator)."""
from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
from flask_smorest import Blueprint

from sandbox.services import clock as clock_service

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, idempotent_write
from ..problems import Problem
from ..responses import json_response
from ..services import services
from . import PREFIX
from .schemas import Strict

blp = Blueprint("clock", __name__, url_prefix=f"{PREFIX}/clock", description="Sandbox time")
MAX_ADVANCE_SECONDS = 3660 * 86400  # ten years: a typo is refused, not obeyed


class ClockSchema(Strict):
    now = ma.fields.String(required=True, metadata={"description": "sandbox time, ISO 8601 UTC"})


class AdvanceSchema(Strict):
    seconds = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(1, MAX_ADVANCE_SECONDS),
                                metadata={"description": "how far to move the clock forward"})


@blp.route("")
@access(shared=True)
@blp.response(200, ClockSchema)
def now():
    """The current sandbox time."""
    return {"now": services().clock.now().isoformat()}


@blp.route("/advance", methods=["POST"])
@access()
@blp.arguments(AdvanceSchema)
@blp.response(200, ClockSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def advance(body: dict):
    """Move sandbox time forward (operator); the first call with a key moves it, replays do not.
    On a city, holds past their expiry expire and market makers requote at the new prices."""
    city = services().city
    if city is not None:
        def advance_city(uow):
            # In the request's one unit of work: the advance and the stored response commit together,
            # so a replay never moves the clock twice.
            return {"now": clock_service.advance(city.ctx, uow, delta=timedelta(seconds=body["seconds"])).now}, 200
        answer = idempotent_write(advance_city)
        # More holds were due than one unit of work expires: the rest, a batch per unit of work — after a
        # replay too, so a retry finishes what a failed request left (with none due this only reads).
        city.sweep_expired()
        return json_response(*answer)
    clock = services().clock
    if not hasattr(clock, "advance"):
        raise Problem(409, "clock_not_manual", "this server runs on a clock that cannot be advanced")

    def compute(uow):
        # The clock moves only if the unit of work commits, so a failed request leaves time alone.
        target = clock.now() + timedelta(seconds=body["seconds"])
        uow.after_commit(lambda: clock.set(target) if hasattr(clock, "set") else clock.advance(target - clock.now()))
        return {"now": target.isoformat()}, 200
    return json_response(*idempotent_write(compute))
