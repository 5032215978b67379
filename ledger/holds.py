"""Two-phase holds: reserve an amount, then post all or part of it, or void it; holds expire.

A pending hold lowers the account's *available* balance (``balance - held``) but
not its *ledger* balance. Posting moves money out of the held account through an
ordinary balanced transfer; the rest of the hold is released when the post is final.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from sqlalchemy import and_, select, update

from . import ids as _ids
from . import tables as t
from .accounts import lock_rows, lock_rows_later, note_held
from .amounts import format_amount, require_minor
from .errors import (AccountNotFound, HoldExceeded, HoldExpired, HoldNotFound, HoldNotPending,
                     IdempotencyConflict, InsufficientFunds, InvalidTransfer, LedgerError, UnbalancedTransfer)
from .errors import ZERO_AMOUNT, DomainError
from .types import from_micros, id_chunks, to_micros
from .transfers import MAX_MEMO_LENGTH, MAX_POSTINGS, Posting, TransferResult, check_key, request_hash, transfer

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

PENDING, POSTED, VOIDED, EXPIRED = "pending", "posted", "voided", "expired"
MAX_EXPIRY_BATCH = 10_000
_EVENTS = "ledger.hold_events"   # uow.scratch: the hold events ``events_together`` holds back (a tuple)
MAX_EVENTS_PER_INSERT = 100


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    account_id: int
    asset: str
    amount_minor: int
    remaining_minor: int
    posted_minor: int
    status: str
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None = None
    memo: str = ""
    replayed: bool = False


_COLS = (t.holds.c.id, t.holds.c.account_id, t.holds.c.asset, t.holds.c.amount_minor, t.holds.c.remaining_minor,
         t.holds.c.posted_minor, t.holds.c.status, t.holds.c.created_at, t.holds.c.expires_at,
         t.holds.c.resolved_at, t.holds.c.memo)


def _row(row, replayed: bool = False) -> Hold:  # noqa: ANN001
    return Hold(*row, replayed=replayed)


def place(uow: UnitOfWork, account_id: int, amount_minor: int, *, expires_at: datetime | None = None,
          key: str | None = None, memo: str = "") -> Hold:
    """Reserve ``amount_minor`` on the account. Refuses with ``InsufficientFunds`` if it is not available."""
    check_key(key)
    require_minor(amount_minor)
    if amount_minor <= 0:
        raise InvalidTransfer("a hold must be for a positive amount", code=ZERO_AMOUNT)
    memo = memo[:MAX_MEMO_LENGTH]
    digest = None
    if key is not None:
        digest = request_hash(["hold", account_id, amount_minor, expires_at, memo])
        row = uow.conn.execute(select(*_COLS, t.holds.c.request_hash).where(t.holds.c.idempotency_key == key)).first()
        if row is not None:
            if row[-1] != digest:
                raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different hold", key=key)
            return _row(row[:-1], replayed=True)
    rows = lock_rows(uow, [account_id])
    if account_id not in rows:
        raise AccountNotFound(f"no account with id {account_id}", account=account_id)
    asset, allow_negative, balance, held, code = rows[account_id]
    if not allow_negative and balance - held < amount_minor:
        # Holds that have run out by the clock no longer reserve anything: sweep them and look again.
        if expire(uow, account_id=account_id):
            asset, allow_negative, balance, held, code = lock_rows(uow, [account_id])[account_id]
        if balance - held < amount_minor:
            raise InsufficientFunds(
                f"account {code} has {format_amount(balance - held, asset, uow.ledger.assets)} available, "
                f"a hold needs {format_amount(amount_minor, asset, uow.ledger.assets)}",
                account=code, available_minor=balance - held, needed_minor=amount_minor)
    now = uow.now()
    fast, cursor = uow.ledger._fast, uow.raw_cursor()
    params = {"aid": account_id, "asset": asset, "amount": amount_minor, "key": key, "hash": digest, "memo": memo,
              "at": to_micros(now), "expires": None if expires_at is None else to_micros(expires_at)}
    reserved = None if key is not None else _ids.take(uow, _ids.HOLDS)
    if reserved is not None:   # PostgreSQL, an id reserved ahead (ledger.ids): sent with the next statement
        hold_id = reserved()
        fast.later(cursor, "place_hold_with_id", dict(params, id=hold_id))
        note_held(uow, account_id, amount_minor)
    elif fast.is_pg:   # one statement there (a data-modifying CTE), two on SQLite
        hold_id = fast.insert_id(cursor, "place_hold", params)
        note_held(uow, account_id, amount_minor)
    else:
        hold_id = fast.insert_id(cursor, "insert_hold", params)
        _add_held(uow, account_id, amount_minor)
    _event(uow, hold_id, account_id, "placed", amount_minor)
    known = uow.ledger._hold_accounts
    uow.after_commit(lambda: _remember(known, hold_id, account_id))
    return Hold(hold_id, account_id, asset, amount_minor, amount_minor, 0, PENDING, now, expires_at, None, memo)


def get(uow: UnitOfWork, hold_id: int, *, lock: bool = False) -> Hold:
    """The hold ``hold_id`` (with ``lock``, row-locked on PostgreSQL). Raises ``HoldNotFound``."""
    row = uow.ledger._fast.one(uow.raw_cursor(), "hold_locked" if lock else "hold", {"hid": hold_id})
    if row is None:
        raise HoldNotFound(f"no hold with id {hold_id}", hold_id=hold_id)
    return Hold(row[0], row[1], row[2], row[3], row[4], row[5], row[6], from_micros(row[7]),
                None if row[8] is None else from_micros(row[8]), None if row[9] is None else from_micros(row[9]),
                row[10])


def _pending(uow: UnitOfWork, hold_id: int) -> Hold:
    hold = get(uow, hold_id, lock=True)
    if hold.status != PENDING:
        raise HoldNotPending(f"hold {hold_id} is {hold.status}, not pending", hold_id=hold_id, status=hold.status)
    if hold.expires_at is not None and hold.expires_at <= uow.now():
        raise HoldExpired(f"hold {hold_id} expired at {hold.expires_at.isoformat()}", hold_id=hold_id)
    return hold


def post(uow: UnitOfWork, hold_id: int, to: Sequence[tuple[int, int]], *, amount_minor: int | None = None,
         key: str | None = None, memo: str = "", final: bool = True, also: Sequence[Posting] = ()) -> TransferResult:
    """Post ``amount_minor`` (default: all that remains) of a pending hold to the ``to`` accounts.

    ``to`` lists ``(account_id, amount_minor)`` credits that must add up to the posted amount.
    With ``final`` (the default) whatever remains of the hold is released. ``also``: more postings,
    balanced among themselves per asset, that travel in the same transfer (the other leg of an
    exchange fill): one transfer, one set of statements, refused as a whole.
    """
    check_key(key)
    also = tuple(Posting(*p) for p in also)
    # Every account the post touches (the held one and the credited ones) in one ascending lock, then
    # the hold: the lock order of ledger.unit_of_work, the same as a transfer between those accounts.
    # The replay is looked up under those locks: a concurrent twin with the same key has committed by then.
    credited = _credited_ids(to) + _credited_ids(also)
    if key is None and not final:
        # A post that may leave the hold pending: the accounts' locks go out with its guarded update of
        # the hold (PostgreSQL: one round trip, the locks first), where an exchange fill holds its book's lock.
        account_id = _account_of(uow, hold_id)
        locked = lock_rows_later(uow, [*credited, account_id] if account_id is not None else credited)
        result = _post_progress(uow, hold_id, to, amount_minor, memo, also, locked)
        locked()   # held from here on, whatever the post did
        if result is not None:
            return result
    else:
        _lock_accounts_of(uow, hold_id, credited)
        if key is not None:
            previous = replay_post(uow, key, hold_id, amount_minor, [*to, *also] if also else to)
            if previous is not None:
                return previous
    hold = _pending(uow, hold_id)
    amount = hold.remaining_minor if amount_minor is None else require_minor(amount_minor)
    if amount <= 0:
        raise InvalidTransfer("a post must be for a positive amount", code=ZERO_AMOUNT)
    if amount > hold.remaining_minor:
        raise HoldExceeded(
            f"cannot post {format_amount(amount, hold.asset, uow.ledger.assets)}: hold {hold_id} has only "
            f"{format_amount(hold.remaining_minor, hold.asset, uow.ledger.assets)} left",
            hold_id=hold_id, remaining_minor=hold.remaining_minor)
    credited = sum(require_minor(m) for _, m in to)
    if credited != amount:
        raise UnbalancedTransfer(
            f"the credits add up to {format_amount(credited, hold.asset, uow.ledger.assets)} but the post is for "
            f"{format_amount(amount, hold.asset, uow.ledger.assets)}", asset=hold.asset,
            difference_minor=credited - amount)
    release = hold.remaining_minor if final else amount
    postings = [Posting(hold.account_id, -amount)] + [Posting(a, m) for a, m in to] + list(also)
    # The release is applied with the debit, in the transfer's own balance update (the debit may use it).
    result = transfer(uow, postings, key=key, memo=memo or hold.memo, kind="hold_post", hold_id=hold_id,
                      release=(hold.account_id, release))
    if result.replayed:   # only a concurrent twin with the same key gets here: it posted the hold
        return result
    _event(uow, hold_id, hold.account_id, "posted", -release)
    remaining = hold.remaining_minor - release
    _update(uow, hold_id, remaining, hold.posted_minor + amount, POSTED if remaining == 0 else PENDING)
    return result


def _post_progress(uow: UnitOfWork, hold_id: int, to: Sequence[tuple[int, int]], amount_minor: int | None,
                   memo: str, also: tuple[Posting, ...], locked: Callable[[], dict]) -> TransferResult | None:
    """A well-formed post of part of a hold that stays pending (an exchange fill of a resting order), with
    the hold's read and update as ONE guarded ``UPDATE … RETURNING``. None (nothing done) when the post
    does not have that shape or the hold is not pending, has expired, or would be used up: ``post``
    then reads the hold and refuses, or posts, as it always has. ``locked``: the accounts' locks, started
    by the caller (``lock_rows_later``), taken before the hold's update and recorded before the transfer."""
    amount = amount_minor
    if type(amount) is not int or amount <= 0:
        return None
    if not all(isinstance(c, (tuple, list)) and len(c) == 2 and type(c[1]) is int for c in to):
        return None
    if sum(c[1] for c in to) != amount:
        return None
    fast, cursor = uow.ledger._fast, uow.raw_cursor()
    params = {"hid": hold_id, "amount": amount}
    row = fast.one(cursor, "post_progress", {**params, "now": to_micros(uow.now())})
    locked()
    if row is None:
        return None
    account_id, hold_memo = row
    postings = [Posting(account_id, -amount)] + [Posting(a, m) for a, m in to] + list(also)
    try:
        result = transfer(uow, postings, memo=memo or hold_memo, kind="hold_post", hold_id=hold_id,
                          release=(account_id, amount))
    except LedgerError:
        # A refusal (the transfer wrote nothing): put the hold back, as the transfer frees its key, for
        # callers that go on in the same unit of work. After a database error the unit of work rolls back.
        fast.run(cursor, "post_progress_undo", params)
        raise
    _event(uow, hold_id, account_id, "posted", -amount)
    return result


def replay_post(uow: UnitOfWork, key: str, hold_id: int, amount_minor: int | None,
                to: Sequence[tuple[int, int]] | None = None) -> TransferResult | None:
    """The first result of a post retried with the same key, or None if the key is new. The same key
    for another hold, another amount or other credits (``to``) is an ``IdempotencyConflict``."""
    row = uow.conn.execute(select(t.transfers.c.id, t.transfers.c.hold_id, t.transfers.c.created_at,
                                  t.transfers.c.memo).where(t.transfers.c.idempotency_key == key)).first()
    if row is None:
        return None
    entries = uow.conn.execute(select(t.entries.c.account_id, t.entries.c.amount_minor)
                               .where(t.entries.c.transfer_id == row[0]).order_by(t.entries.c.id)).all()
    postings = tuple(Posting(a, m) for a, m in entries)
    posted = -postings[0].amount_minor if postings else 0
    credits_differ = to is not None and [tuple(p) for p in postings[1:]] != [(a, m) for a, m in to]
    if row[1] != hold_id or (amount_minor is not None and amount_minor != posted) or credits_differ:
        raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different post", key=key)
    return TransferResult(row[0], postings, row[2], True, "hold_post", row[3])


def void(uow: UnitOfWork, hold_id: int, *, amount_minor: int | None = None) -> Hold:
    """Release a pending hold (all of it, or ``amount_minor`` of it: a partial reversal)."""
    _lock_accounts_of(uow, hold_id)
    hold = get(uow, hold_id, lock=True)
    if hold.status != PENDING:
        raise HoldNotPending(f"hold {hold_id} is {hold.status}, not pending", hold_id=hold_id, status=hold.status)
    amount = hold.remaining_minor if amount_minor is None else require_minor(amount_minor)
    if amount <= 0 or amount > hold.remaining_minor:
        raise HoldExceeded(f"can release between 0.01 and all of the remaining hold {hold_id}", hold_id=hold_id,
                           remaining_minor=hold.remaining_minor)
    remaining = hold.remaining_minor - amount
    _add_held(uow, hold.account_id, -amount)
    _event(uow, hold_id, hold.account_id, "voided", -amount)
    _update(uow, hold_id, remaining, hold.posted_minor, VOIDED if remaining == 0 else PENDING)
    return replace(hold, remaining_minor=remaining, status=VOIDED if remaining == 0 else PENDING,
                   resolved_at=uow.now() if remaining == 0 else None)


def _due(uow: UnitOfWork):  # noqa: ANN202
    return and_(t.holds.c.status == PENDING, t.holds.c.expires_at.is_not(None), t.holds.c.expires_at <= uow.now())


def expire(uow: UnitOfWork, *, account_id: int | None = None, limit: int = MAX_EXPIRY_BATCH) -> int:
    """Mark pending holds whose expiry has passed on the sandbox clock as expired, the oldest first and at
    most ``limit`` of them (1..MAX_EXPIRY_BATCH); return how many."""
    now = uow.now()
    limit = max(1, min(int(limit), MAX_EXPIRY_BATCH))
    cond = _due(uow)
    if account_id is not None:
        cond = and_(cond, t.holds.c.account_id == account_id)
    found = uow.conn.execute(select(t.holds.c.id, t.holds.c.account_id).where(cond).order_by(t.holds.c.id)
                             .limit(limit)).all()
    if not found:
        return 0
    # The lock order of ledger.unit_of_work: the accounts first (ascending), then the holds, read again
    # under their locks: a concurrent sweep, post or void may have resolved one since (no double release).
    lock_rows(uow, {acct for _, acct in found})
    stmt = select(t.holds.c.id, t.holds.c.account_id, t.holds.c.remaining_minor).where(
        and_(t.holds.c.id.in_([hold_id for hold_id, _ in found]), t.holds.c.status == PENDING)).order_by(t.holds.c.id)
    if not uow.ledger.db.is_sqlite:
        stmt = stmt.with_for_update()
    rows = uow.conn.execute(stmt).all()
    for hold_id, acct, remaining in rows:
        _add_held(uow, acct, -remaining)
        _event(uow, hold_id, acct, "expired", -remaining)
        uow.conn.execute(update(t.holds).where(t.holds.c.id == hold_id).values(
            status=EXPIRED, remaining_minor=0, resolved_at=now))
    return len(rows)


def expired_among(uow: UnitOfWork, hold_ids: Sequence[int]) -> set[int]:
    """The holds among ``hold_ids`` whose status is expired."""
    found: set[int] = set()
    for chunk in id_chunks(hold_ids):
        found.update(uow.conn.execute(select(t.holds.c.id).where(t.holds.c.id.in_(chunk),
                                                                 t.holds.c.status == EXPIRED)).scalars())
    return found


def any_due(uow: UnitOfWork) -> bool:
    """Whether a pending hold's expiry has passed on the sandbox clock (``expire`` has more to do)."""
    return uow.conn.execute(select(t.holds.c.id).where(_due(uow)).limit(1)).first() is not None


def _credited_ids(to: Sequence[tuple[int, int]]) -> list[int]:
    """The account ids of well-formed credits in ``to`` (the transfer refuses the rest, and too many)."""
    if len(to) >= MAX_POSTINGS:
        return []
    return [c[0] for c in to if isinstance(c, (tuple, list)) and len(c) == 2 and type(c[0]) is int]


def _lock_accounts_of(uow: UnitOfWork, hold_id: int, others: Sequence[int] = ()) -> None:
    """Lock the account of hold ``hold_id`` and ``others`` (ascending, in one statement) before the hold
    itself. Which account a hold reserves never changes, so reading it without a lock is safe."""
    account_id = _account_of(uow, hold_id)
    lock_rows(uow, [*others, account_id] if account_id is not None else others)  # no hold: HoldNotFound just after


MAX_KNOWN_HOLDS = 100_000


def _account_of(uow: UnitOfWork, hold_id: int) -> int | None:
    """The account hold ``hold_id`` reserves on, or None if there is no such hold. Which account a hold
    reserves never changes, so the answer is remembered (for the Ledger, once committed)."""
    known = uow.ledger._hold_accounts
    account_id = known.get(hold_id)
    if account_id is None:
        row = uow.ledger._fast.one(uow.raw_cursor(), "hold_account", {"hid": hold_id})
        if row is None:
            return None
        account_id = row[0]
        uow.after_commit(lambda: _remember(known, hold_id, account_id))
    return account_id


def _remember(known: dict[int, int], hold_id: int, account_id: int) -> None:
    if len(known) >= MAX_KNOWN_HOLDS:   # a bound on memory, not a policy: forgetting costs one read
        known.clear()
    known[hold_id] = account_id


def _update(uow: UnitOfWork, hold_id: int, remaining_minor: int, posted_minor: int, status: str) -> None:
    """Write a hold's new state; it is resolved (now) once nothing remains."""
    if status == PENDING:  # only ever called on a pending hold: its status and resolved_at stay as they are
        uow.ledger._fast.later(uow.raw_cursor(), "hold_progress", {"hid": hold_id, "remaining": remaining_minor,
                                                                 "posted": posted_minor})
        return
    uow.ledger._fast.later(uow.raw_cursor(), "update_hold", {"hid": hold_id, "remaining": remaining_minor,
                                                           "posted": posted_minor, "status": status,
                                                           "resolved": to_micros(uow.now())})


def _event(uow: UnitOfWork, hold_id: int, account_id: int, kind: str, delta_minor: int) -> None:
    row = {"hid": hold_id, "aid": account_id, "kind": kind, "delta": delta_minor, "at": to_micros(uow.now())}
    held_back = uow.scratch.get(_EVENTS)
    if held_back is not None:
        # A tuple, replaced rather than appended to: a savepoint that rolls back restores uow.scratch.
        uow.scratch[_EVENTS] = (*held_back, row)
        return
    uow.ledger._fast.later(uow.raw_cursor(), "hold_event", row)


@contextmanager
def events_together(uow: UnitOfWork) -> Iterator[None]:
    """Write the hold events of the block's holds (placed, posted, voided, expired) in ONE multi-row
    INSERT when it ends, in the order they happened, instead of one statement each (an approved card
    purchase posts the exchange maker's hold and places its own: two events, one statement).

    Nothing in the block may read ``ledger_hold_events`` (``UnitOfWork.balance(as_of=)``) — its events
    are not written yet. If the block raises a refusal (a ``DomainError``: callers may go on in the same
    unit of work), the events of what it did are written before the error goes on; after any other
    error they are dropped, and the unit of work (or the savepoint around the block) must roll back, as
    after a database error. Nested, the inner block is part of the outer one."""
    if _EVENTS in uow.scratch:
        yield
        return
    uow.scratch[_EVENTS] = ()
    try:
        yield
    except DomainError:
        _write_events(uow, uow.scratch.pop(_EVENTS, ()))
        raise
    except BaseException:
        uow.scratch.pop(_EVENTS, None)
        raise
    _write_events(uow, uow.scratch.pop(_EVENTS, ()))


def _write_events(uow: UnitOfWork, rows: tuple[dict, ...]) -> None:
    fast, cursor = uow.ledger._fast, uow.raw_cursor()
    for start in range(0, len(rows), MAX_EVENTS_PER_INSERT):
        chunk = rows[start:start + MAX_EVENTS_PER_INSERT]
        if len(chunk) == 1:
            fast.later(cursor, "hold_event", chunk[0])
            continue
        values = ", ".join(f"(:hid{n}, :aid{n}, :kind{n}, :delta{n}, :at{n})" for n in range(len(chunk)))
        fast.later(cursor, f"INSERT INTO ledger_hold_events (hold_id, account_id, kind, delta_minor, created_at) "
                         f"VALUES {values}",
                 {f"{name}{n}": value for n, row in enumerate(chunk) for name, value in row.items()})


def _add_held(uow: UnitOfWork, account_id: int, delta: int) -> None:
    uow.ledger._fast.later(uow.raw_cursor(), "add_held", {"aid": account_id, "delta": delta})
    note_held(uow, account_id, delta)
