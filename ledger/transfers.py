"""Transfers: N postings that balance per asset, applied atomically, at most once per idempotency key.

Sign convention: a posting's ``amount_minor`` is positive for a credit (the
account's balance grows) and negative for a debit. Every transfer sums to zero
per asset, so every asset sums to zero across all accounts.

Validation precedence (the same bad request always gets the same answer):
 1. idempotency key shape            -> invalid_idempotency_key
 2. postings present, <= MAX_POSTINGS -> invalid_transfer (no_postings / too_many_postings)
 3. each amount an int, non-zero      -> amount_is_float / amount_not_integer / zero_amount
 4. no account twice                  -> duplicate_account
 5. replay of the same key            -> first result / idempotency_conflict
    (the key is claimed by inserting the transfer row first; a refusal below rolls the claim back)
 6. accounts exist                    -> account_not_found
 7. sums per asset zero               -> unbalanced_transfer
 8. no overdraft                      -> insufficient_funds
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Iterable, NamedTuple, Sequence

from sqlalchemy import bindparam, select

from . import ids as _ids
from . import tables as t
from .accounts import lock_rows, note_balance, note_held
from .amounts import format_amount, require_minor
from .fastpath import FastSql
from .types import to_micros
from .errors import (AccountNotFound, IdempotencyConflict, InsufficientFunds, InvalidIdempotencyKey,
                     InvalidTransfer, LedgerError, UnbalancedTransfer)
from .errors import DUPLICATE_ACCOUNT, NO_POSTINGS, TOO_MANY_POSTINGS, ZERO_AMOUNT

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

MAX_POSTINGS = 64
MAX_KEY_LENGTH = 255
MAX_MEMO_LENGTH = 500


class Posting(NamedTuple):
    """One line of a transfer: ``amount_minor`` > 0 credits the account, < 0 debits it."""

    account_id: int
    amount_minor: int


def move(from_account_id: int, to_account_id: int, amount_minor: int) -> list[Posting]:
    """The two postings that move ``amount_minor`` from one account to another."""
    require_minor(amount_minor)
    return [Posting(from_account_id, -amount_minor), Posting(to_account_id, amount_minor)]


@dataclass(frozen=True, slots=True)
class TransferResult:
    id: int
    postings: tuple[Posting, ...]
    created_at: datetime
    replayed: bool = False
    kind: str = "transfer"
    memo: str = ""


def check_key(key: str | None) -> None:
    if key is None:
        return
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidIdempotencyKey(f"idempotency keys are 1-{MAX_KEY_LENGTH} printable characters")


def request_hash(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def validate_postings(postings: Sequence[Posting] | Iterable) -> tuple[Posting, ...]:
    """Steps 2-4 of the precedence: structure and integer amounts, no account twice."""
    postings = tuple(Posting(*p) for p in postings)
    if not postings:
        raise InvalidTransfer("a transfer needs at least two postings", code=NO_POSTINGS)
    if len(postings) > MAX_POSTINGS:
        raise InvalidTransfer(f"a transfer has at most {MAX_POSTINGS} postings, got {len(postings)}",
                              code=TOO_MANY_POSTINGS)
    for p in postings:
        require_minor(p.amount_minor)
        if p.amount_minor == 0:
            raise InvalidTransfer(f"posting to account {p.account_id} has a zero amount", code=ZERO_AMOUNT)
    ids = [p.account_id for p in postings]
    if len(set(ids)) != len(ids):
        raise InvalidTransfer("the same account appears twice in one transfer; combine its postings",
                              code=DUPLICATE_ACCOUNT)
    return postings


def transfer(uow: UnitOfWork, postings: Sequence[Posting], *, key: str | None = None, memo: str = "",
             kind: str = "transfer", hold_id: int | None = None,
             release: tuple[int, int] | None = None) -> TransferResult:
    """Apply a balanced transfer in ``uow`` (see the module docstring for the precedence of refusals).

    ``release`` (a hold post's own): ``(account_id, amount_minor)`` of held money on one of the
    accounts to release in the same balance update, counted as available for its debit."""
    check_key(key)
    postings = validate_postings(postings)
    memo = memo[:MAX_MEMO_LENGTH]
    digest = None if key is None else request_hash([kind, memo, [list(p) for p in postings]])
    fast = uow.ledger._fast
    cursor = fast.cursor(uow)
    now = uow.now()
    at = to_micros(now)
    row = {"key": key, "hash": digest, "kind": kind, "memo": memo, "hold_id": hold_id, "at": at}
    reserved = None if key is not None else _ids.take(uow, _ids.TRANSFERS)
    if reserved is not None:
        # No key to claim, and an id reserved ahead (ledger.ids): checked first, then written with the
        # entries, in the statements that go out with the next one that needs an answer.
        rows = _checked_rows(uow, postings, release)
        transfer_id = reserved()
        fast.later(cursor, "insert_transfer_with_id", dict(row, id=transfer_id))
    else:
        # Claim the key first: a replay (or a concurrent twin, which waits for the first to commit) finds it taken.
        transfer_id = fast.insert_transfer(cursor, row)
        if transfer_id is None:
            return _replay(uow, key, digest)
        try:
            rows = _checked_rows(uow, postings, release)
        except LedgerError:
            # Callers may catch a refusal and go on in the same unit of work (a card walking its
            # funding order): release the claimed key so the refused request leaves nothing behind.
            # Only a refusal: after a database error the transaction is aborted (PostgreSQL) and no
            # statement may run on it any more; the whole unit of work rolls back and is retried.
            fast.delete_transfer(cursor, transfer_id)
            raise
    fast.post_entries(cursor, transfer_id, at, [
        (p.account_id, rows[p.account_id][0], p.amount_minor,
         -release[1] if release is not None and p.account_id == release[0] else 0) for p in postings])
    if release is not None:
        note_held(uow, release[0], -release[1])
    for p in postings:
        note_balance(uow, p.account_id, p.amount_minor)
    return TransferResult(transfer_id, postings, now, False, kind, memo)


def _checked_rows(uow: UnitOfWork, postings: tuple[Posting, ...],
                  release: tuple[int, int] | None = None) -> dict[int, tuple]:
    """Steps 6-8: lock the accounts (all at once, ascending id), then refuse unknown accounts, unbalanced
    assets and overdrafts (counting ``release`` as no longer held)."""
    rows = lock_rows(uow, [p.account_id for p in postings])
    if release is not None and release[0] in rows:
        r = rows[release[0]]
        rows = {**rows, release[0]: (r[0], r[1], r[2], r[3] - release[1], r[4])}
    for p in postings:
        if p.account_id not in rows:
            raise AccountNotFound(f"no account with id {p.account_id}", account=p.account_id)
    sums: dict[str, int] = defaultdict(int)
    for p in postings:
        sums[rows[p.account_id][0]] += p.amount_minor
    for asset, total in sums.items():
        if total != 0:
            raise UnbalancedTransfer(
                f"postings in {asset} sum to {format_amount(total, asset, uow.ledger.assets)}, not zero: "
                "money cannot appear or vanish", asset=asset, difference_minor=total)
    for p in postings:
        asset, allow_negative, balance, held, code = rows[p.account_id]
        if p.amount_minor < 0 and not allow_negative:
            available = balance - held
            if available + p.amount_minor < 0 and held > 0 and _sweep_expired(uow, p.account_id):
                # A hold that ran out by the clock reserves nothing any more, swept or not.
                held = uow.account(p.account_id).held_minor
                available = balance - held
            if available + p.amount_minor < 0:
                raise InsufficientFunds(
                    f"account {code} has {format_amount(available, asset, uow.ledger.assets)} available, "
                    f"needs {format_amount(-p.amount_minor, asset, uow.ledger.assets)}",
                    account=code, available_minor=available, needed_minor=-p.amount_minor)
    return rows


def _sweep_expired(uow: UnitOfWork, account_id: int) -> int:
    from .holds import expire  # holds build on transfers; the import is local to avoid the cycle
    return expire(uow, account_id=account_id)


def _replay(uow: UnitOfWork, key: str, digest: str) -> TransferResult:
    row = uow.conn.execute(uow.ledger._find_transfer_by_key, {"key": key}).one()
    transfer_id, stored_hash, kind, memo, created_at = row
    if stored_hash != digest:
        raise IdempotencyConflict(
            f"idempotency key {key!r} was already used for a different transfer; use a new key for a new request",
            key=key)
    entries = uow.conn.execute(
        select(t.entries.c.account_id, t.entries.c.amount_minor)
        .where(t.entries.c.transfer_id == transfer_id).order_by(t.entries.c.id)).all()
    return TransferResult(transfer_id, tuple(Posting(a, m) for a, m in entries), created_at, True, kind, memo)


def compiled_statements(ledger) -> None:  # noqa: ANN001
    """Build the hot-path statements once per Ledger (SQLAlchemy then caches their compiled form)."""
    ledger._fast = FastSql("sqlite" if ledger.db.is_sqlite else "postgresql")
    ledger._find_transfer_by_key = select(t.transfers.c.id, t.transfers.c.request_hash, t.transfers.c.kind,
                                          t.transfers.c.memo, t.transfers.c.created_at).where(
        t.transfers.c.idempotency_key == bindparam("key"))
