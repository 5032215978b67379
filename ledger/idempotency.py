"""Generic idempotency for any retried write (card authorizations, API POSTs, mints…).

A key is claimed in the SAME unit of work as the work it guards, and its response stored there too, so a
key is either absent or carries its response: there is no state in which one exists without the other.
On PostgreSQL a concurrent request with the same key blocks on the unique index until the first commits,
then finds the stored response (or, if the first rolled back, claims the key itself); SQLite's single
writer serialises them. So the work never runs twice for one key.

    stored = claim(uow, scope, key, request)      # None: new key, go on; else the first response
    ...the work...
    store(uow, scope, key, response)
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from .db import from_database
from .errors import DomainError, IdempotencyConflict
from .transfers import check_key, request_hash
from .types import to_micros

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

MAX_SCOPE_CHARS = 64

_WHERE = ' WHERE scope = :scope AND "key" = :key'
# ON CONFLICT DO NOTHING (0 rows) rather than a unique violation: a failed statement would abort the
# PostgreSQL transaction, and a new key (the usual case) is claimed in this one statement.
_CLAIM = ('INSERT INTO ledger_idempotency (scope, "key", request_hash, response, created_at) '
          'VALUES (:scope, :key, :hash, NULL, :at) ON CONFLICT (scope, "key") DO NOTHING')
_READ = "SELECT request_hash, response FROM ledger_idempotency" + _WHERE
_STORE = "UPDATE ledger_idempotency SET response = :response" + _WHERE
_RELEASE = "DELETE FROM ledger_idempotency" + _WHERE + " AND response IS NULL"


class Stored(NamedTuple):
    """The response stored for a key by the first request that used it."""
    response: Any


def claim(uow: UnitOfWork, scope: str, key: str, request: Any) -> Stored | None:
    """Claim ``key`` in ``scope`` for ``request`` inside ``uow``: None if it is new (do the work, then
    ``store``), or the ``Stored`` response of the first request with the same key and the same request.

    The same key with a different request raises ``IdempotencyConflict``."""
    check_key(key)
    assert scope and len(scope) <= MAX_SCOPE_CHARS, "scope is a short name such as 'card.authorize'"
    digest = request_hash(request)
    where = {"scope": scope, "key": key}
    if uow.sql.run(_CLAIM, {**where, "hash": digest, "at": to_micros(uow.now())}):
        return None
    return _stored(uow.sql.one(_READ, where), scope, key, digest)


def peek(uow: UnitOfWork, scope: str, key: str, request: Any) -> Stored | None:
    """What ``claim`` would answer for a key already used, without claiming a new one (a read)."""
    check_key(key)
    digest = request_hash(request)
    row = uow.sql.one(_READ, {"scope": scope, "key": key})
    return None if row is None else _stored(row, scope, key, digest)


def _stored(row: tuple, scope: str, key: str, digest: str) -> Stored:
    if row[0] != digest:
        raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different request; use a new key",
                                  key=key, scope=scope)
    # A response is always stored in the unit of work that claimed the key, so a committed claim has one.
    assert row[1] is not None, f"idempotency key {key!r} in {scope} has no stored response"
    return Stored(json.loads(row[1]))


def store(uow: UnitOfWork, scope: str, key: str, response: Any, *, at_commit: bool = False) -> None:
    """Store ``response`` (JSON-able) on the key this unit of work claimed. ``at_commit``: when it is the
    unit of work's last word on the key, send it with the COMMIT (``UnitOfWork.write_at_commit``: on
    PostgreSQL no round trip of its own)."""
    params = {"scope": scope, "key": key, "response": json.dumps(response, sort_keys=True, default=str)}
    if at_commit:
        uow.write_at_commit(_STORE, params)
    else:
        uow.sql.run(_STORE, params)


def release(uow: UnitOfWork, scope: str, key: str) -> None:
    """Give back a key this unit of work claimed but will not answer (its work was refused, and the caller
    commits other work in the same unit of work)."""
    uow.sql.run(_RELEASE, {"scope": scope, "key": key})


def run_once(uow: UnitOfWork, scope: str, key: str, request: Any, compute: Callable[[], Any]) -> Any:
    """Return ``compute()``'s JSON-able result, or the stored one if ``key`` was used with the same request.

    Same key with a different request raises ``IdempotencyConflict``. A refusal raised by
    ``compute`` stores nothing: the key is released, so a caller that commits other work can retry it.
    """
    stored = claim(uow, scope, key, request)
    if stored is not None:
        return stored.response
    try:
        result = compute()
    except DomainError as refusal:
        # The caller may catch the refusal and commit other work: release the claim, as transfers do.
        # Not when the refusal came out of a database error: that transaction is dead (PostgreSQL), it
        # rolls back whole (claim included) and no statement may run on it any more.
        if not from_database(refusal):
            release(uow, scope, key)
        raise
    store(uow, scope, key, result)
    return result
