"""The dashboard's blueprint, sign-in, CSRF, filters and the helpers every page shares.

Auth, chosen and documented: when the server runs with ``--open`` (the default on a loopback
host) every visitor is the operator — it is *your* sandbox on *your* laptop. Otherwise the
dashboard asks once for an API key and keeps it in the signed, HttpOnly, SameSite=Lax session
cookie; each page then sees exactly what that key may see through the API (the same
``auth.authorize`` policy check). Dashboard forms carry a CSRF token.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import (Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for)

from ledger import format_amount
from sandbox.apikeys import Principal, resolve_key

from ...i18n import N_
from ..auth import access, authorize, bearer_token, policy_of
from ..i18n import localized_money
from ..problems import Problem
from ..services import services

WEB_DIR = Path(__file__).resolve().parent.parent
bp = Blueprint("dashboard", __name__, template_folder=str(WEB_DIR / "templates"),
               static_folder=str(WEB_DIR / "static"), static_url_path="/static")

OPEN_OPERATOR = Principal(0, "operator", None, "open dashboard")
NAV = (("dashboard.overview", N_("Overview")), ("dashboard.pos", N_("POS terminal")),
       ("dashboard.wallet", N_("Wallet & card")), ("dashboard.orderbook", N_("Order book")),
       ("dashboard.explorer", N_("Ledger explorer")),
       ("dashboard.regulator", N_("Regulator")), ("dashboard.mining", N_("Mining")), ("dashboard.webhooks", N_("Webhooks")))
PAGE = 50


@bp.app_template_filter("money")
def money(amount_minor: int, asset: str) -> str:
    try:
        shown = localized_money(amount_minor, asset, services().ledger.assets)   # None: English
        return shown if shown is not None else format_amount(amount_minor, asset, services().ledger.assets)
    except Exception:  # noqa: BLE001 - an asset the registry does not know still displays
        return f"{amount_minor} {asset} (minor units)"


@bp.app_template_filter("num")
def num(amount_minor: int | None, asset: str) -> str:
    """Like ``money`` without the asset code (for tables whose header names the unit)."""
    if amount_minor is None:
        return "—"
    try:
        shown = localized_money(amount_minor, asset, services().ledger.assets, with_code=False)
        return shown if shown is not None else format_amount(amount_minor, asset, services().ledger.assets, with_code=False)
    except Exception:  # noqa: BLE001
        return str(amount_minor)


@bp.app_template_filter("price")
def price(price_minor: int | None, quote: str = "KZT") -> str:
    """A price in the quote asset's minor units per whole base unit (e.g. tiyn per BTC), for people."""
    if price_minor is None:
        return "—"
    return money(price_minor, quote)


@bp.app_template_filter("when")
def when(value) -> str:
    """Sandbox time as 'YYYY-MM-DD HH:MM:SS' (ISO text or datetime)."""
    text = value if isinstance(value, str) else value.isoformat()
    return text[:19].replace("T", " ")


@bp.app_template_filter("masked")
def masked(pan: str) -> str:
    """A card number as receipts print it: first six, last four."""
    from card.pan import mask_pan
    return mask_pan(pan)


@bp.app_template_filter("slug")
def slug(text: str) -> str:
    """An id-safe form of an asset key ("KZT@exchange" -> "KZT-at-exchange")."""
    return str(text).replace("@", "-at-").replace("/", "-").replace(" ", "-")


@bp.app_context_processor
def _globals():
    return {"nav": NAV, "principal": g.get("principal"), "open_dashboard": current_app.config["OPEN_DASHBOARD"],
            "csrf_token": _csrf_token, "has_city": services().city is not None, "incidents_now": _incidents_now}


INCIDENTS_IN_BANNER = 5


def _incidents_now() -> list[tuple[str, object]]:
    """(label, started at) of the incidents going on, newest first: every page shows them in a banner, the
    participants' phones (wallet, POS) included, so the room sees what the host set off."""
    city = services().city
    if city is None:
        return []
    from sandbox.incidents import LABELS
    from sandbox.incidents.tables import going_on
    try:
        rows = city.ctx.read(lambda uow: going_on(uow.conn, INCIDENTS_IN_BANNER))
    except Exception:  # noqa: BLE001 - a banner that cannot be read must not take the page down with it
        current_app.logger.warning("the incident banner could not be read", exc_info=True)
        return []
    return [(LABELS.get(row.kind, row.kind), row.started_at) for row in rows]


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


@bp.before_request
def _authenticate():
    _check_csrf()
    if request.endpoint in ("dashboard.static", "dashboard.login"):
        return None
    if current_app.config["OPEN_DASHBOARD"]:
        principal = OPEN_OPERATOR
    else:
        token = session.get("api_key") or bearer_token()  # a header works too, e.g. for scripts and tests
        if not token:
            return redirect(url_for("dashboard.login", next=request.path))
        with services().ledger.unit_of_work(read_only=True) as uow:
            principal = resolve_key(uow.conn, token)
        if principal is None:
            session.pop("api_key", None)
            return redirect(url_for("dashboard.login", next=request.path))
    g.principal = principal
    policy = policy_of(current_app.view_functions.get(request.endpoint))
    try:
        with services().ledger.unit_of_work(read_only=True) as uow:
            authorize(principal, policy, uow)
    except Problem as refusal:
        return refused(refusal.detail, refusal.status)
    return None


def _check_csrf() -> None:
    if request.method == "POST" and request.form.get("csrf") != session.get("csrf"):
        abort(400, "the form expired; reload the page and try again")


def refused(detail: str, status: int = 403, title: str = "Not for this key"):
    return render_template("refused.html", detail=detail, title=title), status


def principal() -> Principal:
    return g.principal


def is_staff() -> bool:
    """Operator or regulator: may look at any customer, merchant or the whole city."""
    return principal().role in ("operator", "regulator")


def city_or_none():
    return services().city


def needs_city(name: str, what: str):
    """The page a bare-ledger app shows where the CryptoCity facade is needed."""
    return render_template("needs_city.html", title=name, what=what)


def new_ref(prefix: str) -> str:
    """A fresh client reference for one form (reused by a double submit of the same form)."""
    return f"{prefix}-{secrets.token_hex(6)}"


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    # A workshop sheet's QR code brings the key in the link (/login?key=…&next=/pos): a phone signs in by
    # opening it. Only sign-in happens on that GET; the key then lives in the session cookie as usual.
    linked = request.args.get("key", "").strip() if request.method == "GET" else ""
    if request.method == "POST" or linked:
        token = linked or request.form.get("api_key", "").strip()
        with services().ledger.unit_of_work(read_only=True) as uow:
            found = resolve_key(uow.conn, token)
        if found is not None:
            session.clear()
            session["api_key"] = token
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//")
                            else url_for("dashboard.overview"))
        error = "That key is unknown or revoked."
    return render_template("login.html", error=error, title="Sign in"), 401 if error else 200


@bp.route("/logout", methods=["POST"])
@access("customer", "merchant", shared=True)
def logout():
    session.clear()
    return redirect(url_for("dashboard.login"))
