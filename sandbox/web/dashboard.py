"""The dashboard: server-rendered pages for a workshop projector (no JavaScript, no CDN).

Auth, chosen and documented: when the server runs with ``--open`` (the default on a loopback
host) every visitor is the operator — it is *your* sandbox on *your* laptop. Otherwise the
dashboard asks once for an API key and keeps it in the signed, HttpOnly, SameSite=Lax session
cookie; each page then sees exactly what that key may see through the API (the same
``auth.authorize`` policy check). Dashboard forms carry a CSRF token.
"""
from __future__ import annotations

import secrets

from flask import (Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for)
from sqlalchemy import and_, func, select

from ledger import format_amount
from ledger import tables as lt
from ledger.accounts import _COLUMNS, _row_to_account
from sandbox.apikeys import Principal, resolve_key

from .api.transfers import latest_transfers
from .auth import access, authorize, bearer_token, owner_scope, policy_of
from .problems import Problem
from .services import services

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

OPEN_OPERATOR = Principal(0, "operator", None, "open dashboard")
NAV = (("dashboard.overview", "Overview"), ("dashboard.pos", "POS terminal"), ("dashboard.wallet", "Wallet & card"),
       ("dashboard.orderbook", "Order book"), ("dashboard.explorer", "Ledger explorer"),
       ("dashboard.regulator", "Regulator"))
PAGE = 50


@bp.app_template_filter("money")
def money(amount_minor: int, asset: str) -> str:
    try:
        return format_amount(amount_minor, asset, services().ledger.assets)
    except Exception:  # noqa: BLE001 - an asset the registry does not know still displays
        return f"{amount_minor} {asset} (minor units)"


@bp.app_context_processor
def _globals():
    return {"nav": NAV, "principal": g.get("principal"), "open_dashboard": current_app.config["OPEN_DASHBOARD"],
            "csrf_token": _csrf_token}


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


@bp.before_request
def _authenticate():
    if request.endpoint in ("dashboard.static", "dashboard.login"):
        _check_csrf()
        return None
    _check_csrf()
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
            authorize(principal, policy, uow.conn)
    except Problem as refusal:
        return render_template("refused.html", detail=refusal.detail, title="Not for this key"), refusal.status
    return None


def _check_csrf() -> None:
    if request.method == "POST" and request.form.get("csrf") != session.get("csrf"):
        abort(400, "the form expired; reload the page and try again")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        token = request.form.get("api_key", "").strip()
        with services().ledger.unit_of_work(read_only=True) as uow:
            principal = resolve_key(uow.conn, token)
        if principal is not None:
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


def _accounts(conn, *, after_id: int | None = None, limit: int = PAGE) -> list:
    a = lt.accounts.c
    cond = [a.id > after_id] if after_id else []
    if owner_scope() is not None:
        cond.append(a.owner == owner_scope())
    rows = conn.execute(select(*_COLUMNS).where(and_(True, *cond)).order_by(a.id).limit(limit + 1)).all()
    return [_row_to_account(r) for r in rows]


@bp.route("/")
@access("customer", "merchant", scope="owner")
def overview():
    a = lt.accounts.c
    with services().ledger.unit_of_work(read_only=True) as uow:
        accounts = _accounts(uow.conn, limit=20)
        scope = [a.owner == owner_scope()] if owner_scope() is not None else []
        totals = uow.conn.execute(
            select(a.asset, func.count(), func.coalesce(func.sum(a.balance_minor), 0),
                   func.coalesce(func.sum(a.held_minor), 0))
            .where(and_(a.purpose != "external", *scope)).group_by(a.asset).order_by(a.asset)).all()
        transfers = [] if scope else latest_transfers(uow.conn, limit=10, newest_first=True)
        codes = _codes(uow.conn, {p["account_id"] for t in transfers for p in t["postings"]})
    return render_template("overview.html", title="Overview", accounts=accounts[:20], more=len(accounts) > 20,
                           totals=totals, transfers=transfers, codes=codes, now=services().clock.now())


def _codes(conn, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    a = lt.accounts.c
    return {r[0]: (r[1], r[2]) for r in conn.execute(select(a.id, a.code, a.asset).where(a.id.in_(sorted(ids))))}


@bp.route("/ledger")
@access("customer", "merchant", scope="owner")
def explorer():
    after_id = request.args.get("after_id", type=int)
    with services().ledger.unit_of_work(read_only=True) as uow:
        accounts = _accounts(uow.conn, after_id=after_id)
    more = len(accounts) > PAGE
    accounts = accounts[:PAGE]
    return render_template("explorer.html", title="Ledger explorer", accounts=accounts,
                           next_after_id=accounts[-1].id if more else None)


@bp.route("/ledger/accounts/<id:account_id>")
@access("customer", "merchant")
def account(account_id: int):
    after_id = request.args.get("after_id", type=int)
    with services().ledger.unit_of_work(read_only=True) as uow:
        acct = uow.account(account_id)
        entries = uow.history(account_id, after_id=after_id, limit=PAGE + 1)
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    return render_template("account.html", title=f"Account {acct.code}", account=acct, entries=entries,
                           next_after_id=entries[-1]["entry_id"] if more else None)


def _placeholder(name: str, module: str, what: str):
    return render_template("placeholder.html", title=name, module=module, what=what)


@bp.route("/pos")
@access("customer", "merchant", shared=True)
def pos():
    return _placeholder("POS terminal", "card", "pick a customer card and a merchant, enter an amount, and watch "
                        "the authorization sell crypto just in time and move the balances")


@bp.route("/wallet")
@access("customer", "merchant", shared=True)
def wallet():
    return _placeholder("Wallet & card", "wallet and card", "a customer's deposit addresses, balances, card, "
                        "controls, funding order and statement")


@bp.route("/orderbook")
@access("customer", "merchant", shared=True)
def orderbook():
    return _placeholder("Order book", "exchange", "depth per instrument, recent trades and a price chart")


@bp.route("/regulator")
@access("regulator")
def regulator():
    return _placeholder("Regulator", "sandbox rules and stablecoin", "licences, AML flags, KZTE reserves versus "
                        "supply, and report downloads")
