"""Accounts: list (paginated, filtered), one account, its balance (now or as of) and its history."""
from __future__ import annotations

from flask_smorest import Blueprint
from ledger import queries as ledger_queries

from ..auth import access, owner_scope
from ..conventions import IDEMPOTENCY_PARAM, idempotent_write, page
from ..responses import json_response
from ..services import services
from . import PREFIX
from .schemas import (
    AccountCreate,
    AccountFilter,
    AccountPage,
    AccountSchema,
    AsOfArgs,
    BalanceSchema,
    EntryPage,
    HistoryArgs,
    account_dict,
)

blp = Blueprint("accounts", __name__, url_prefix=f"{PREFIX}/accounts",
                description="Ledger accounts, balances and entries (amounts in minor units)")


@blp.route("")
@access("customer", "merchant", scope="owner")
@blp.arguments(AccountFilter, location="query", as_kwargs=True)
@blp.response(200, AccountPage)
def list_accounts(limit: int, after_id: int | None = None, owner: str | None = None, asset: str | None = None,
                  purpose: str | None = None):
    """List accounts, oldest first; a customer or merchant key sees only its own."""
    pinned = owner_scope()
    if pinned is not None and owner is not None and owner != pinned:
        return page([], limit)
    with services().ledger.unit_of_work(read_only=True) as uow:
        rows = ledger_queries.accounts(uow, owner=pinned or owner, asset=asset, purpose=purpose, after_id=after_id,
                                       limit=limit + 1)
    return page([account_dict(r) for r in rows], limit)


@blp.route("", methods=["POST"])
@access()
@blp.arguments(AccountCreate)
@blp.response(201, AccountSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def open_account(body: dict):
    """Open an account (operator). Opening the identical account again returns it."""
    def compute(uow):
        return account_dict(uow.open_account(body["owner"], body["asset"], body["purpose"])), 201
    return json_response(*idempotent_write(compute))


@blp.route("/<id:account_id>")
@access("customer", "merchant")
@blp.response(200, AccountSchema)
def get_account(account_id: int):
    """One account with its ledger, held and available balance."""
    with services().ledger.unit_of_work(read_only=True) as uow:
        return account_dict(uow.account(account_id))


@blp.route("/<id:account_id>/balance")
@access("customer", "merchant")
@blp.arguments(AsOfArgs, location="query", as_kwargs=True)
@blp.response(200, BalanceSchema)
def get_balance(account_id: int, as_of=None):
    """Ledger, held and available balance now, or as of a past sandbox time."""
    with services().ledger.unit_of_work(read_only=True) as uow:
        b = uow.balance(account_id, as_of=as_of)
    return {"account_id": b.account_id, "asset": b.asset, "ledger_minor": b.ledger_minor,
            "held_minor": b.held_minor, "available_minor": b.available_minor, "as_of": as_of}


@blp.route("/<id:account_id>/history")
@access("customer", "merchant")
@blp.arguments(HistoryArgs, location="query", as_kwargs=True)
@blp.response(200, EntryPage)
def get_history(account_id: int, limit: int, after_id=None, since=None, until=None):
    """The account's entries, oldest first, paginated by ``after_id``."""
    with services().ledger.unit_of_work(read_only=True) as uow:
        uow.account(account_id)  # 404 for an unknown account rather than an empty page
        rows = uow.history(account_id, since=since, until=until, after_id=after_id, limit=limit + 1)
    return page(rows, limit, id_key="entry_id")
