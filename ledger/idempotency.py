"""Generic idempotency for any retried write (card authorizations, API POSTs, mints…).

The key is reserved *before* the work runs: on PostgreSQL a concurrent request
with the same key blocks on the unique index until the first commits, then fails
with a unique violation; ``Ledger.transaction`` retries it and it reads the stored
result. So the work never runs twice for one key.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import and_, delete, insert, select, update

from . import tables as t
from .db import from_database
from .errors import IdempotencyConflict, LedgerError
from .transfers import check_key, request_hash

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork


def run_once(uow: UnitOfWork, scope: str, key: str, request: Any, compute: Callable[[], Any]) -> Any:
    """Return ``compute()``'s JSON-able result, or the stored one if ``key`` was used with the same request.

    Same key with a different request raises ``IdempotencyConflict``. A refusal raised by
    ``compute`` rolls back with the unit of work and stores nothing.
    """
    check_key(key)
    assert scope and len(scope) <= 64, "scope is a short name such as 'card.authorize'"
    digest = request_hash(request)
    where = and_(t.idempotency.c.scope == scope, t.idempotency.c.key == key)
    row = uow.conn.execute(select(t.idempotency.c.request_hash, t.idempotency.c.response).where(where)).first()
    if row is not None:
        if row[0] != digest:
            raise IdempotencyConflict(
                f"idempotency key {key!r} was already used for a different request; use a new key", key=key,
                scope=scope)
        return json.loads(row[1])
    uow.conn.execute(insert(t.idempotency).values(scope=scope, key=key, request_hash=digest, response=None,
                                                  created_at=uow.now()))
    try:
        result = compute()
    except LedgerError as refusal:
        # The caller may catch the refusal and commit other work: release the claim, as transfers do.
        # Not when the refusal came out of a database error: that transaction is dead (PostgreSQL), it
        # rolls back whole (claim included) and no statement may run on it any more.
        if not from_database(refusal):
            uow.conn.execute(delete(t.idempotency).where(where))
        raise
    uow.conn.execute(update(t.idempotency).where(where).values(
        response=json.dumps(result, sort_keys=True, default=str)))
    return result
