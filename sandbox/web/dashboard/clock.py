"""The sandbox clock on the overview page: the operator moves it on by an hour, a day or a week, so a
workshop can watch holds expire, licences run out and market makers requote without a terminal.

Each form carries a fresh reference: a double click (or a resubmitted form) advances once.
"""
from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, request, url_for

from ..auth import access
from ..problems import is_domain_error
from .core import bp, city_or_none, needs_city, refused

STEPS = {"1h": ("an hour", timedelta(hours=1)), "1d": ("a day", timedelta(days=1)),
         "7d": ("a week", timedelta(days=7))}
REF_MAX = 64


@bp.route("/clock", methods=["POST"])
@access()  # operator only: the clock moves for every participant of the city
def clock_advance():
    city = city_or_none()
    if city is None:
        return needs_city("Sandbox clock", "advance the sandbox clock")
    step = request.form.get("by", "")
    ref = (request.form.get("ref") or "").strip()
    if step not in STEPS:
        return refused(f"Advance by one of {', '.join(STEPS)}, not {step!r}.", 400, "Not a step")
    if not 0 < len(ref) <= REF_MAX:
        return refused("The form lost its reference; reload the page and try again.", 400, "Form expired")
    words, delta = STEPS[step]
    try:
        out = city.ctx.transaction(lambda uow: uow.idempotent(
            "dashboard.clock.advance", ref, {"by": step}, lambda: city.advance_in(uow, delta).to_dict()))
    except Exception as error:  # noqa: BLE001 - typed refusals become a message; others propagate
        if not is_domain_error(error):
            raise
        flash(f"The clock did not move: {error}", "error")
    else:
        expired = out.get("expired_holds", 0)
        expired += city.sweep_expired()   # more were due than one unit of work expires: the rest, in batches
        flash(f"Sandbox time moved on {words}, to {out['now'][:16].replace('T', ' ')} UTC"
              f"{f'; {expired} card hold(s) expired' if expired else ''}.", "ok")
    return redirect(url_for("dashboard.overview"), code=303)
