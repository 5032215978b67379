"""Accounts: who owns what asset, for what purpose, and whether it may go negative."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from sqlalchemy import insert, select

from . import tables as t
from .errors import NEGATIVE_NOT_ALLOWED, AccountExists, AccountNotFound, InvalidAccount
from .fastpath import MAX_LOCK_BATCH, account_rows, lock_statement

if TYPE_CHECKING:
    from .unit_of_work import UnitOfWork

# Only the world outside the sandbox may go negative: money enters the system by
# making an external account negative, so every asset still sums to zero.
NEGATIVE_ALLOWED_PURPOSES = frozenset({"external"})
_PURPOSE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_OWNER = re.compile(r"^[\w.:@/+-]{1,120}$")


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    code: str
    owner: str
    asset: str
    purpose: str
    allow_negative: bool
    balance_minor: int
    held_minor: int

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.held_minor


@dataclass(frozen=True, slots=True)
class Balance:
    """``ledger_minor`` counts posted entries; ``available_minor`` subtracts pending holds."""

    account_id: int
    asset: str
    ledger_minor: int
    held_minor: int

    @property
    def available_minor(self) -> int:
        return self.ledger_minor - self.held_minor


def account_code(purpose: str, owner: str, asset: str) -> str:
    """The natural key of an account: ``purpose:owner:asset``."""
    return f"{purpose}:{owner}:{asset}"


_COLUMNS = (t.accounts.c.id, t.accounts.c.code, t.accounts.c.owner, t.accounts.c.asset, t.accounts.c.purpose,
            t.accounts.c.allow_negative, t.accounts.c.balance_minor, t.accounts.c.held_minor)


def _row_to_account(row) -> Account:  # noqa: ANN001
    return Account(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7])


def open_account(uow: UnitOfWork, owner: str, asset: str, purpose: str, *, allow_negative: bool | None = None,
                 code: str | None = None) -> Account:
    """Open (or return the identical existing) account. Refuses a different account under the same code."""
    if not isinstance(owner, str) or not _OWNER.match(owner):
        raise InvalidAccount(f"owner {owner!r} must be 1-120 characters of letters, digits and . : @ / + - _")
    if not isinstance(purpose, str) or not _PURPOSE.match(purpose):
        raise InvalidAccount(f"purpose {purpose!r} must be a lower-case word such as customer, bank, fees, external")
    uow.ledger.assets.get(asset)
    if allow_negative is None:
        allow_negative = purpose in NEGATIVE_ALLOWED_PURPOSES
    if allow_negative and purpose not in NEGATIVE_ALLOWED_PURPOSES:
        raise InvalidAccount(f"only external accounts may go negative, not a {purpose} account",
                             code=NEGATIVE_NOT_ALLOWED)
    code = code or account_code(purpose, owner, asset)
    existing = find_by_code(uow, code)
    if existing is not None:
        if (existing.owner, existing.asset, existing.purpose, existing.allow_negative) != (
                owner, asset, purpose, allow_negative):
            raise AccountExists(f"account {code} already exists with different settings", account=code)
        return existing
    _ensure_asset_row(uow, asset)
    result = uow.conn.execute(insert(t.accounts).values(
        code=code, owner=owner, asset=asset, purpose=purpose, allow_negative=allow_negative,
        balance_minor=0, held_minor=0, created_at=uow.now()))
    account_id = result.inserted_primary_key[0]
    uow._locked_accounts.add(account_id)  # a row no other transaction can see until we commit: ours already
    uow._account_rows[account_id] = (asset, allow_negative, 0, 0, code)
    return Account(account_id, code, owner, asset, purpose, allow_negative, 0, 0)


def _ensure_asset_row(uow: UnitOfWork, asset: str) -> None:
    if asset in uow.ledger._asset_rows_seen:
        return
    spec = uow.ledger.assets.get(asset)
    row = uow.conn.execute(select(t.assets.c.decimals).where(t.assets.c.code == asset)).first()
    if row is None:
        uow.conn.execute(insert(t.assets).values(code=spec.code, decimals=spec.decimals, name=spec.name))
    elif row[0] != spec.decimals:
        raise InvalidAccount(f"asset {asset} is stored with {row[0]} decimals, the registry says {spec.decimals}")
    uow.after_commit(lambda: uow.ledger._asset_rows_seen.add(asset))


def _raw_account(row) -> Account:  # noqa: ANN001
    return Account(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7])


def find_by_code(uow: UnitOfWork, code: str) -> Account | None:
    fast = uow.ledger._fast
    row = fast.one(uow.raw_cursor(), "account_by_code", {"code": code})
    return None if row is None else _kept(uow, _raw_account(row))


def _kept(uow: UnitOfWork, account: Account) -> Account:
    """``account`` as read; in an exclusive unit of work (no other writer until it ends) its row is kept
    like a locked one (see ``lock_rows``): it changes only through this unit of work's statements."""
    if uow.exclusive and account.id not in uow._account_rows:
        uow._account_rows[account.id] = (account.asset, account.allow_negative, account.balance_minor,
                                         account.held_minor, account.code)
    return account


def kept_row(uow: UnitOfWork, account_id: int) -> tuple | None:
    """The row of ``account_id`` as this unit of work keeps it (an account it holds), or None."""
    return uow._account_rows.get(account_id)


def get_by_code(uow: UnitOfWork, code: str) -> Account:
    account = find_by_code(uow, code)
    if account is None:
        raise AccountNotFound(f"no account with code {code!r}", account=code)
    return account


def get(uow: UnitOfWork, account_id: int) -> Account:
    fast = uow.ledger._fast
    return from_row(uow, fast.one(uow.raw_cursor(), "account", {"a": account_id}), account_id)


def from_row(uow: UnitOfWork, row: tuple | None, account_id: int) -> Account:
    """The account of a row read by the ``account`` statement (None: there is no account ``account_id``)."""
    if row is None:
        raise AccountNotFound(f"no account with id {account_id}", account=account_id)
    return _kept(uow, _raw_account(row))


def by_owner(uow: UnitOfWork, owner: str) -> list[Account]:
    rows = uow.conn.execute(select(*_COLUMNS).where(t.accounts.c.owner == owner).order_by(t.accounts.c.id))
    return [_row_to_account(r) for r in rows]


def lock_rows(uow: UnitOfWork, account_ids: Iterable[int]) -> dict[int, tuple]:
    """Read the accounts a write touches, row-locked on PostgreSQL until the unit of work ends.

    The lock order of the whole codebase (see ``ledger.unit_of_work``): ONE statement, ascending id
    order (a set larger than ``MAX_LOCK_BATCH`` in ascending chunks). Rows this unit of work already
    holds never wait (they are ours); when it holds all of them they are not read again: their rows as
    this unit of work left them are kept (``note_balance``, ``note_held``: a held row changes only through
    this unit of work's own statements). Returns ``{id: (asset, allow_negative, balance_minor, held_minor, code)}``; an id with no
    account is missing from the result.
    """
    fast, cursor, held, kept = uow.ledger._fast, uow.raw_cursor(), uow._locked_accounts, uow._account_rows
    ids = sorted(set(account_ids))
    if ids and all(i in kept for i in ids):
        return {i: kept[i] for i in ids}
    lock = not held.issuperset(ids)
    if len(ids) == 1:
        rows = fast.lock_one(cursor, ids[0], lock=lock)
    elif len(ids) == 2 and lock:
        rows = fast.lock_two(cursor, ids[0], ids[1])
    else:
        rows = {}
        for start in range(0, len(ids), MAX_LOCK_BATCH):  # ascending chunks keep the ascending order
            rows.update(fast.lock_many(cursor, ids[start:start + MAX_LOCK_BATCH], lock=lock))
    if lock:
        held.update(rows)
    kept.update((i, row) for i, row in rows.items() if i in held)
    return rows


def lock_rows_later(uow: UnitOfWork, account_ids: Iterable[int]) -> Callable[[], dict[int, tuple]]:
    """``lock_rows``, its statement sent with the next one the unit of work sends (PostgreSQL: in its round
    trip, before it, so the lock order holds), and the rows given when the returned function is called —
    which must be before anything relies on the locks being held. At once where there is nothing to send
    or no round trip to share (SQLite, a set larger than one statement locks)."""
    ids = sorted(set(account_ids))
    held, kept = uow._locked_accounts, uow._account_rows
    if not ids or all(i in kept for i in ids) or held.issuperset(ids) or len(ids) > MAX_LOCK_BATCH \
            or not uow.raw_cursor().can_defer:
        rows = lock_rows(uow, ids)
        return lambda: rows
    ahead = uow.sql.read_ahead(*lock_statement(ids))
    done: list[dict[int, tuple]] = []

    def rows() -> dict[int, tuple]:
        if not done:
            found = account_rows(ahead.all())
            uow._locked_accounts.update(found)   # the unit of work's sets now (a savepoint may have replaced them)
            uow._account_rows.update(found)
            done.append(found)
        return done[0]
    return rows


def note_balance(uow: UnitOfWork, account_id: int, delta_minor: int) -> None:
    """Keep the unit of work's copy of a held account row current after its balance changed by ``delta_minor``."""
    row = uow._account_rows.get(account_id)
    if row is not None:
        uow._account_rows[account_id] = (row[0], row[1], row[2] + delta_minor, row[3], row[4])


def note_held(uow: UnitOfWork, account_id: int, delta_minor: int) -> None:
    """Keep the unit of work's copy of a held account row current after its held amount changed by ``delta_minor``."""
    row = uow._account_rows.get(account_id)
    if row is not None:
        uow._account_rows[account_id] = (row[0], row[1], row[2], row[3] + delta_minor, row[4])


def owner_of(uow: UnitOfWork, account_id: int) -> str | None:
    """The owner of account ``account_id``, or None if there is no such account."""
    row = uow.sql.one("SELECT owner FROM ledger_accounts WHERE id = :a", {"a": int(account_id)})
    return None if row is None else row[0]
