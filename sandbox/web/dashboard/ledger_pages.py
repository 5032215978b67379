"""Overview, ledger explorer and account pages (they work on a bare ledger too)."""
from __future__ import annotations

from flask import render_template, request

from ledger import queries as ledger_queries

from ..auth import access, owner_scope
from ..services import services
from . import city_data
from .core import PAGE, bp, city_or_none, new_ref, principal


def _accounts(uow, *, after_id: int | None = None, limit: int = PAGE) -> list:
    return ledger_queries.accounts(uow, owner=owner_scope(), after_id=after_id or None, limit=limit + 1)


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
    scope = owner_scope()
    with services().ledger.unit_of_work(read_only=True) as uow:
        accounts = _accounts(uow, limit=20)
        totals = ledger_queries.totals_by_asset(uow, owner=scope)
        transfers = [] if scope is not None else ledger_queries.transfers(uow, limit=10, newest_first=True)
        codes = ledger_queries.codes(uow, {p["account_id"] for t in transfers for p in t["postings"]})
    city = city_or_none()
    facts = _city_facts(city) if city is not None and scope is None else None
    return render_template("overview.html", title="Overview", accounts=accounts[:20], more=len(accounts) > 20,
                           totals=totals, transfers=transfers, codes=codes, now=services().clock.now(), city=facts,
                           can_advance=principal().role == "operator", clock_ref=new_ref("clock"))


@bp.route("/ledger")
@access("customer", "merchant", scope="owner")
def explorer():
    after_id = request.args.get("after_id", type=int)
    with services().ledger.unit_of_work(read_only=True) as uow:
        accounts = _accounts(uow, after_id=after_id)
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
