"""Reading the wallet's tables for the layers above it (a withdrawal by its key, a customer's withdrawals)."""
from __future__ import annotations

from sqlalchemy import select

from . import tables as t

MAX_PAGE = 1000


def withdrawal_by_key(uow, idempotency_key: str) -> dict | None:
    """The withdrawal made under ``idempotency_key``, as a row dict, or None."""
    row = uow.conn.execute(select(t.withdrawals).where(t.withdrawals.c.idempotency_key == idempotency_key)
                           ).mappings().first()
    return None if row is None else dict(row)


def withdrawals_of(uow, owner: str, *, after_id: int | None = None, limit: int = 50) -> list[dict]:
    """``owner``'s withdrawals, oldest first, after ``after_id`` (at most ``MAX_PAGE``)."""
    w = t.withdrawals.c
    query = select(t.withdrawals).where(w.owner == owner)
    if after_id is not None:
        query = query.where(w.id > after_id)
    rows = uow.conn.execute(query.order_by(w.id).limit(max(1, min(int(limit), MAX_PAGE)))).mappings().all()
    return [dict(r) for r in rows]


def evm_contract(conn, chain_id: int, name: str) -> str | None:
    """The address of contract ``name`` deployed on the EVM chain ``chain_id``, or None."""
    c = t.evm_contracts.c
    return conn.execute(select(c.address).where(c.chain_id == chain_id, c.name == name)).scalar()


def record_evm_contract(conn, chain_id: int, name: str, address: str, at) -> None:
    """Remember that ``name`` lives at ``address`` on chain ``chain_id`` (once: the key is chain id + name)."""
    conn.execute(t.evm_contracts.insert().values(chain_id=chain_id, name=name, address=address, deployed_at=at))
