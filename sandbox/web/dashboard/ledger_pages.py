"""Overview, ledger explorer and account pages (they work on a bare ledger too)."""
from __future__ import annotations

from flask import render_template, request
from sqlalchemy import and_, func, select

from ledger import tables as lt
from ledger.accounts import _COLUMNS, _row_to_account

from ..api.transfers import latest_transfers
from ..auth import access, owner_scope
from ..services import services
from . import city_data
from .core import PAGE, bp, city_or_none, new_ref, principal


def _accounts(conn, *, after_id: int | None = None, limit: int = PAGE) -> list:
    a = lt.accounts.c
    cond = [a.id > after_id] if after_id else []
    if owner_scope() is not None:
        cond.append(a.owner == owner_scope())
    rows = conn.execute(select(*_COLUMNS).where(and_(True, *cond)).order_by(a.id).limit(limit + 1)).all()
    return [_row_to_account(r) for r in rows]


def _codes(conn, ids: set[int]) -> dict[int, tuple[str, str]]:
    if not ids:
        return {}
    a = lt.accounts.c
    return {r[0]: (r[1], r[2]) for r in conn.execute(select(a.id, a.code, a.asset).where(a.id.in_(sorted(ids))))}


def _city_facts(city) -> dict:
    """Participants, card volumes and the latest audit entries (operator and regulator only)."""
    participants = [{"id": p.id, "name": p.name, "licences": [lic.scope for lic in p.licences]}
                    for p in city.cfg.participants]
    return {"name": city.cfg.sandbox.name, "participants": participants,
            **city_data.counts(city),
            "card": city_data.card_volumes(city), "audit": city_data.latest_audit(city)}


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
    city = city_or_none()
    facts = _city_facts(city) if city is not None and not scope else None
    return render_template("overview.html", title="Overview", accounts=accounts[:20], more=len(accounts) > 20,
                           totals=totals, transfers=transfers, codes=codes, now=services().clock.now(), city=facts,
                           can_advance=principal().role == "operator", clock_ref=new_ref("clock"))


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
