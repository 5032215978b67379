"""Reading the ledger for the layers above it: account lists, totals per asset, recent transfers with their
postings. Bounded; reads only."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, func, select

from . import tables as t
from .accounts import _COLUMNS, Account, _row_to_account

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

MAX_PAGE = 1000


def accounts(uow: UnitOfWork, *, owner: str | None = None, asset: str | None = None, purpose: str | None = None,
             after_id: int | None = None, limit: int = 100) -> list[Account]:
    """Accounts in the order they were opened, filtered by owner, asset and purpose (``after_id``: the
    previous page's last id)."""
    a = t.accounts.c
    cond = [c for c in ((a.owner == owner) if owner is not None else None,
                        (a.asset == asset) if asset is not None else None,
                        (a.purpose == purpose) if purpose is not None else None,
                        (a.id > after_id) if after_id is not None else None) if c is not None]
    rows = uow.conn.execute(select(*_COLUMNS).where(and_(True, *cond)).order_by(a.id)
                            .limit(max(1, min(int(limit), MAX_PAGE)))).all()
    return [_row_to_account(r) for r in rows]


def codes(uow: UnitOfWork, ids: set[int]) -> dict[int, tuple[str, str]]:
    """``{id: (code, asset)}`` of the accounts ``ids`` (bounded by the page that asks)."""
    if not ids:
        return {}
    a = t.accounts.c
    return {r[0]: (r[1], r[2]) for r in uow.conn.execute(select(a.id, a.code, a.asset)
                                                          .where(a.id.in_(sorted(ids)[:MAX_PAGE])))}


def totals_by_asset(uow: UnitOfWork, *, owner: str | None = None) -> list[tuple[str, int, int, int]]:
    """(asset, accounts, balance, held) over every account but the outside world's, per asset."""
    a = t.accounts.c
    cond = [a.purpose != "external"] + ([a.owner == owner] if owner is not None else [])
    return uow.conn.execute(select(a.asset, func.count(), func.coalesce(func.sum(a.balance_minor), 0),
                                   func.coalesce(func.sum(a.held_minor), 0))
                            .where(and_(*cond)).group_by(a.asset).order_by(a.asset)).all()


def transfers(uow: UnitOfWork, *, limit: int, after_id: int | None = None, newest_first: bool = False) -> list[dict]:
    """Transfers with their postings; oldest first from ``after_id``, or the newest ``limit``."""
    tr, e = t.transfers.c, t.entries.c
    query = select(tr.id, tr.kind, tr.memo, tr.created_at)
    if after_id is not None:
        query = query.where(tr.id > after_id)
    query = query.order_by(tr.id.desc() if newest_first else tr.id).limit(max(1, min(int(limit), MAX_PAGE)))
    rows = uow.conn.execute(query).all()
    postings: dict[int, list] = {r[0]: [] for r in rows}
    if rows:
        for tid, account_id, amount in uow.conn.execute(select(e.transfer_id, e.account_id, e.amount_minor)
                                                        .where(e.transfer_id.in_(list(postings))).order_by(e.id)):
            postings[tid].append({"account_id": account_id, "amount_minor": amount})
    return [{"id": r[0], "kind": r[1], "memo": r[2], "created_at": r[3].isoformat(), "postings": postings[r[0]]}
            for r in rows]
