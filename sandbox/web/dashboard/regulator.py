"""Regulator: licences and their state at sandbox time (suspend / reinstate), AML flags, declines by
reason, card volumes, KZTE reserves against supply, invariants, their charts, and the report as JSON, CSV
(key,value or zipped tables), HTML or PDF.

Rendering never starts the KZTE token (an in-process EVM, seconds to deploy): until a verb has needed
it, reserves and the issuer's liability come from the ledger and the page says the on-chain supply is
attested once the token is live.
"""
from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for

from markupsafe import Markup

from sandbox import reports
from sandbox.charts import gather as charts

from ..auth import access
from ..problems import is_domain_error
from .core import bp, city_or_none, money, needs_city, principal, refused

# The issuer's ledger accounts, as the charts name them (not from stablecoin.issuer: importing it loads
# web3, ~1.5 s, which a page that only reads two balances should not pay; a test keeps them equal).
from sandbox.charts.history import ISSUANCE_CODE, RESERVE_CODE  # noqa: E402
LICENCE_ACTIONS = {"suspend": "suspend_licence", "reinstate": "reinstate_licence"}
REASON_MAX = 200
INCIDENTS_SHOWN = 20
INCIDENT_FIELDS = ("percent", "minutes", "address", "count")


def _kzte(city, summary: dict) -> dict:
    if city.issuer_started:
        return {**summary["kzte"], "live": True}
    reserve = city.account_balance(RESERVE_CODE)
    liability = -city.account_balance(ISSUANCE_CODE)
    return {"live": False, "reserve_minor": reserve, "liability_minor": liability, "supply_minor": None,
            "excess_reserve_minor": reserve - liability, "peg_holds": reserve >= liability, "problem": None,
            "reserve_ratio": None}


def _licences(city, summary: dict) -> list[dict]:
    names = city.licences.regulator_names
    out = []
    for row in summary["licences"]:
        state = city.licences.get(row["id"])
        out.append({**row, "regulator_name": names.get(row["regulator"], row["regulator"]),
                    "valid_from": state.valid_from, "valid_until": state.valid_until, "renewable": state.renewable,
                    "suspended_at": state.suspended_at, "suspension_reason": state.suspension_reason})
    return out


@bp.route("/regulator")
@access("regulator")
def regulator():
    city = city_or_none()
    if city is None:
        return needs_city("Regulator", "licences, AML flags, KZTE reserves versus supply, and report downloads")
    summary = city.regulator_summary()
    from sandbox import incidents
    drawn = {name: Markup(svg) for name, svg in charts.regulator_charts(city, summary, money=money).items()}
    return render_template("regulator.html", title="Regulator", s=summary, kzte=_kzte(city, summary), charts=drawn,
                           licences=_licences(city, summary), can_act=principal().role in ("operator", "regulator"),
                           formats=reports.FORMATS, now=city.now(),
                           incidents=city.read(lambda ctx, uow: incidents.listing(uow, INCIDENTS_SHOWN)),
                           incident_kinds=incidents.KINDS, incident_labels=incidents.LABELS,
                           can_start_incidents=principal().role == "operator")


@bp.route("/regulator/licences", methods=["POST"])
@access("regulator")  # a regulator may make this change (and the operator); nobody else
def regulator_licence():
    city = city_or_none()
    if city is None:
        return needs_city("Regulator", "suspend and reinstate licences")
    action = request.form.get("action", "")
    licence_id = (request.form.get("licence_id") or "").strip()
    reason = (request.form.get("reason") or "").strip()[:REASON_MAX]
    if action not in LICENCE_ACTIONS:
        return refused(f"Unknown action {action!r}; use suspend or reinstate.", 400, "Not an action")
    try:
        out = getattr(city, LICENCE_ACTIONS[action])(licence_id=licence_id, reason=reason)
    except Exception as error:  # noqa: BLE001 - typed refusals become a message; others propagate
        if not is_domain_error(error):
            raise
        flash(f"{action.capitalize()} refused: {error}", "error")
    else:
        flash(f"Licence {licence_id} is now {out['state']}.", "ok")
    return redirect(url_for("dashboard.regulator") + "#licences", code=303)


@bp.route("/regulator/incidents", methods=["POST"])
@access()   # the operator (the workshop host) only
def regulator_incident():
    """Set off an incident from the form (sandbox/incidents/); only the fields the form filled are sent."""
    from sandbox import incidents
    city = city_or_none()
    if city is None:
        return needs_city("Regulator", "set off incidents")
    kind = request.form.get("kind", "")
    params = {k: request.form.get(k, "").strip() for k in INCIDENT_FIELDS if request.form.get(k, "").strip()}
    try:
        row = incidents.trigger(city, kind, params, by=principal().role)
    except Exception as error:  # noqa: BLE001 - typed refusals become a message; others propagate
        if not is_domain_error(error):
            raise
        flash(f"Incident refused: {error}", "error")
    else:
        flash(f"Incident {row.id} ({incidents.LABELS[row.kind]}) is {row.status}.", "ok")
    return redirect(url_for("dashboard.regulator") + "#incidents", code=303)


@bp.route("/regulator/incidents/<int:incident_id>/resolve", methods=["POST"])
@access()
def regulator_incident_resolve(incident_id: int):
    from sandbox import incidents
    city = city_or_none()
    if city is None:
        return needs_city("Regulator", "resolve incidents")
    try:
        row = city.run(incidents.resolve, incident_id=incident_id, by=principal().role, retries=0)
    except Exception as error:  # noqa: BLE001
        if not is_domain_error(error):
            raise
        flash(f"Resolve refused: {error}", "error")
    else:
        flash(f"Incident {row.id} ({incidents.LABELS[row.kind]}) is {row.status}.", "ok")
    return redirect(url_for("dashboard.regulator") + "#incidents", code=303)


@bp.route("/regulator/report.<fmt>")
@access("regulator")
def regulator_report(fmt: str):
    city = city_or_none()
    if city is None:
        return needs_city("Regulator report", "the regulator report as JSON, CSV, zipped CSV tables, HTML or PDF")
    if fmt not in reports.FORMATS:
        return refused(f"The report comes as {', '.join(reports.FORMATS)}.", 404, "Unknown format")
    summary = city.regulator_summary()
    drawn = charts.report_charts(city, summary) if fmt in ("html", "pdf") else []
    body = reports.render(summary, fmt, city.ledger.assets, drawn)
    stamp = city.now().strftime("%Y%m%dT%H%M")
    return Response(body, mimetype=reports.MEDIA[fmt], headers={
        "Content-Disposition": f'attachment; filename="{reports.filename(fmt, stamp)}"'})
