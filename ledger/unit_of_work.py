"""The unit of work: one database transaction that every package writes through.

``with ledger.unit_of_work() as uow: …; uow.commit()`` — leaving the block
without ``commit()`` (or through an exception) rolls everything back, so a
refusal half-way through a card authorization leaves no trace.

Lock order (PostgreSQL; SQLite's single writer never waits in a cycle). Two
units of work can only deadlock if they take the same locks in opposite
orders, so every unit of work takes them in this one order:

1. advisory locks that serialise a whole area (``uow.advisory_lock``: the
   card holder, an instrument's book, the KZTE issuer), before any row lock
   of that area; the audit chain's lock is taken last, by the entry that
   records a change, and nothing is locked after it;
2. domain rows that say which accounts an operation touches (a card
   authorization: ``SELECT … FOR UPDATE`` before its clearing moves money);
3. account rows: every ledger operation (transfer, hold place/post/void,
   expiry) locks ALL the accounts it touches in ONE statement, in ascending
   id order, skipping those this unit of work already holds (taken once).
   A caller that knows the accounts of a multi-step operation takes them all
   up front with ``uow.lock_accounts(ids)`` (a card authorization takes the
   bank account before its crypto sale; a capture needs nothing more: its
   hold post locks the held bank account, the merchant's settlement and the
   acquirer's fee account together);
4. hold rows, after the account they belong to: a hold is read without a lock
   to learn its account, the account is locked, then the hold is locked and
   its state checked again.

A lock set that is only discovered late (the exchange's counterparties during
an authorization's crypto sale; the card's hold expiry, which marks the
authorizations after their holds are released) may still meet another unit of work in a
cycle; PostgreSQL then aborts one of them with ``DeadlockDetected`` and
``Ledger.transaction`` (``ledger.db.is_retryable``) runs it again: a caller
never sees it. After any database error the transaction is dead: nothing may
run SQL on it again (clean-ups of a domain refusal run only for refusals), and
rollback hooks run after the rollback and must not touch the database.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import and_, func, select

from . import accounts as _accounts
from . import holds as _holds
from . import ids as _ids
from . import idempotency as _idem
from . import tables as t
from . import transfers as _transfers
from .accounts import Account, Balance
from .db import (AUTOCOMMIT, DEFERRED, PENDING_BEGIN, PG_BEGIN, PG_SNAPSHOT_BEGIN, READ_ONLY, STATEMENT_COUNT,
                 can_pipeline, lock_key, pipelined, statement_round_trip)
from .fastpath import BoundSql

if TYPE_CHECKING:
    from .core import Ledger

MAX_PAGE = 1000
_PG_IDLE = 0   # libpq's PQTRANS_IDLE: no transaction open
ADVISORY_LOCK = "SELECT pg_advisory_xact_lock(%(k)s)"


class CountingCursor:
    """A DBAPI cursor that counts the statements sent through it (see ``UnitOfWork.statements``).

    On PostgreSQL it also holds back the writes ``defer`` is given (``UnitOfWork.defer``): they go out
    with the next statement that needs an answer, in one pipelined round trip, in order."""

    __slots__ = ("_cursor", "count", "dbapi_connection", "_info", "_deferred", "_deferring", "_side", "can_defer",
                 "flushes")

    def __init__(self, cursor, info: dict | None = None) -> None:  # noqa: ANN001
        self._cursor, self.count, self.dbapi_connection = cursor, 0, cursor.connection
        self._info = info   # the connection's info: a PENDING_BEGIN to send with the first statement
        self._deferred: list[tuple[str, Any, bool]] = []   # (sql, params or rows, executemany)
        self._deferring = False
        self._side = None   # the cursor the held-back writes are sent on (their results are not read)
        self.can_defer = info is not None and can_pipeline(self.dbapi_connection)
        self.flushes = 0   # how many times held-back writes went out

    def defer(self, sql: str, params, *, many: bool = False) -> None:  # noqa: ANN001
        """Send ``sql`` (a write whose result nobody reads) with the next statement that waits for an answer,
        or with the COMMIT. SQLite (no pipeline): now. Counted, and seen by ``execute``'s wrappers, now."""
        self._deferring = self.can_defer
        try:
            if many:
                self.executemany(sql, params)
            else:
                self.execute(sql, params)
        finally:
            self._deferring = False

    def read_ahead(self, sql: str, params) -> ReadAhead:  # noqa: ANN001
        """Start a read whose rows are fetched later (``ReadAhead.one``/``all``): on PostgreSQL it is held back
        like a deferred write and goes out with the next statement (or when its rows are asked for), so two
        independent reads cost one round trip; on SQLite it runs now."""
        ahead = ReadAhead(self)
        self._deferring = ahead
        try:
            self.execute(sql, params)
        finally:
            self._deferring = False
        return ahead

    @property
    def deferred(self) -> int:
        """How many writes are held back."""
        return len(self._deferred)

    def drop_deferred(self, keep: int = 0) -> None:
        """Forget the held-back writes after the first ``keep`` (a rollback undoes them anyway)."""
        del self._deferred[keep:]
        if not self._deferred and self._info is not None:
            self._info.pop(DEFERRED, None)

    def _hold_back(self, sql, params, many: bool) -> None:  # noqa: ANN001
        self._deferred.append((sql, params, many))
        self._info[DEFERRED] = self

    def flush_inside(self) -> None:
        """Inside a ``pipelined`` block: the unit of work's BEGIN, then the held-back writes."""
        begin = self._info.pop(PENDING_BEGIN, None) if self._info else None
        if begin is not None:
            self.dbapi_connection.execute(begin)
        if self._deferred:
            self.flushes += 1
            pending, self._deferred = self._deferred, []
            self._info.pop(DEFERRED, None)
            if self._side is None:
                self._side = self.dbapi_connection.cursor()
            for sql, params, many in pending:
                if isinstance(many, ReadAhead):   # a read whose rows are fetched after the round trip
                    many.cursor = self.dbapi_connection.cursor()
                    many.cursor.execute(sql, params)
                elif many:
                    self._side.executemany(sql, params)
                else:
                    self._side.execute(sql, params)

    def _pending(self) -> bool:
        return bool(self._deferred) or bool(self._info and PENDING_BEGIN in self._info)

    def flush(self) -> None:
        """Send what is held back (and a pending BEGIN) now, in one round trip."""
        if self._pending():
            with pipelined(self.dbapi_connection):
                self.flush_inside()

    def execute(self, sql, params=None):  # noqa: ANN001
        self.count += 1
        ahead = self._deferring
        if ahead:
            if self.can_defer:
                self._hold_back(sql, params, ahead if isinstance(ahead, ReadAhead) else False)
                return None
            # SQLite: a read ahead runs now, on a cursor of its own (a deferred write is never asked for here)
            statement_round_trip(self.dbapi_connection)
            ahead.cursor = self.dbapi_connection.cursor()
            return ahead.cursor.execute(sql, params)
        if self._pending():
            # PostgreSQL: the unit of work's BEGIN, the held-back writes and this statement in one round trip
            with pipelined(self.dbapi_connection):
                self.flush_inside()
                result = self._cursor.execute(sql, params) if params is not None else self._cursor.execute(sql)
            return result
        statement_round_trip(self.dbapi_connection)
        return self._cursor.execute(sql, params) if params is not None else self._cursor.execute(sql)

    def executemany(self, sql, rows):  # noqa: ANN001
        self.count += 1
        if self._deferring:
            self._hold_back(sql, rows, True)
            return None
        if self._pending():
            with pipelined(self.dbapi_connection):
                self.flush_inside()
                result = self._cursor.executemany(sql, rows)
            return result
        statement_round_trip(self.dbapi_connection)
        return self._cursor.executemany(sql, rows)

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)


class ReadAhead:
    """The rows of a read started with ``CountingCursor.read_ahead`` (``BoundSql.read_ahead``), fetched
    once and kept: ``one()`` and ``all()`` give the same answer however often they are asked."""

    __slots__ = ("_owner", "cursor", "_rows")

    def __init__(self, owner: CountingCursor) -> None:
        self._owner, self.cursor, self._rows = owner, None, None

    def _fetched(self) -> list[tuple]:
        if self._rows is None:
            if self.cursor is None:   # still held back: send it (with whatever else is) now
                self._owner.flush()
            assert self.cursor is not None, "a read ahead that a rolled-back savepoint dropped was asked for"
            self._rows = self.cursor.fetchall()
        return self._rows

    def one(self) -> tuple | None:
        """The first row, or None."""
        rows = self._fetched()
        return rows[0] if rows else None

    def all(self) -> list[tuple]:
        return self._fetched()


class UnitOfWork:
    """One database transaction (see the module docstring).

    ``exclusive``: no other unit of work can write until this one ends (a SQLite unit of work that writes:
    ``BEGIN IMMEDIATE``), so what it has read changes only through its own statements. ``memo``: what a
    package remembers within this unit of work only (for instance a book it verified under its lock); a
    savepoint that rolls back restores it, and it ends with the unit of work."""

    def __init__(self, ledger: Ledger, *, read_only: bool = False, autocommit: bool = False,
                 snapshot: bool = False) -> None:
        self.ledger = ledger
        self._writes = not (read_only or autocommit)
        if self._writes:
            ledger.db.write_turn()   # SQLite: queue behind this process's other writers (ledger/db.py)
        try:
            self._open(ledger, read_only, autocommit, snapshot)
        except BaseException:
            self._end_turn()
            raise

    def _open(self, ledger: Ledger, read_only: bool, autocommit: bool, snapshot: bool = False) -> None:
        self._conn = ledger.db.engine.connect()
        if autocommit:
            # No BEGIN, no ROLLBACK: every statement reads on its own (PostgreSQL's driver in autocommit;
            # SQLite's already is, and ledger/db.py skips its BEGIN). Reads only.
            options = {READ_ONLY: True, AUTOCOMMIT: True}
            if not ledger.db.is_sqlite:   # SQLAlchemy's SQLite reset would turn pysqlite's own BEGINs back on
                options["isolation_level"] = "AUTOCOMMIT"
            self._conn = self._conn.execution_options(**options)
        elif not ledger.db.is_sqlite and can_pipeline(self._conn.connection.dbapi_connection):
            # PostgreSQL: psycopg in autocommit, and this unit of work sends its own BEGIN with its first
            # statement (one round trip, not two: see CountingCursor and ledger/db.py); COMMIT and ROLLBACK
            # go out as before (psycopg sends them whenever a transaction is open).
            options = {"isolation_level": "AUTOCOMMIT"}
            if read_only:
                options[READ_ONLY] = True
            self._conn = self._conn.execution_options(**options)
            self._conn.info[PENDING_BEGIN] = PG_SNAPSHOT_BEGIN if snapshot else PG_BEGIN
        elif read_only:
            options = {READ_ONLY: True}
            if snapshot and not ledger.db.is_sqlite:
                options["isolation_level"] = "REPEATABLE READ"
            self._conn = self._conn.execution_options(**options)
        try:
            self._tx = self._conn.begin()
        except BaseException:
            self._conn.info.pop(PENDING_BEGIN, None)
            self._conn.close()
            raise
        self._core_base = self._conn.info.get(STATEMENT_COUNT, 0)
        self._committed = False
        self._before_commit: list[Callable[[], None]] = []
        self._after_commit: list[Callable[[], None]] = []
        self._after_rollback: list[Callable[[], None]] = []
        self._now: datetime | None = None
        self._cursor = None
        self._bound = None
        self._savepoints = 0
        self._locked_accounts: set[int] = set()   # account rows this transaction holds (lock order, rule 3)
        # The rows of those accounts as this transaction left them (ledger.accounts.lock_rows): a row it
        # holds changes only through its own statements, which keep this copy current, so it is not re-read.
        self._account_rows: dict[int, tuple] = {}
        # SQLite's BEGIN IMMEDIATE: no other unit of work writes until this one ends (see ``exclusive``).
        self.exclusive = ledger.db.is_sqlite and self._writes
        self.memo: dict[Any, Any] = {}
        self._at_commit: list[tuple[str, dict]] = []   # statements sent with the COMMIT (``write_at_commit``)
        # Per-transaction state of the packages that write through this unit of work (e.g. the audit
        # chain's head after an entry queued with ``write_at_commit``).
        self.scratch: dict[str, object] = {}

    # -- transaction control ---------------------------------------------------------------
    @property
    def conn(self):
        """The SQLAlchemy Core connection: packages use it for their own tables."""
        return self._conn

    def raw_cursor(self):
        """A DBAPI cursor on this unit of work's own connection (same transaction), for the hot paths
        in ``ledger.fastpath`` style only: parametrised SQL, results fetched before the next statement."""
        if self._cursor is None:
            self._cursor = CountingCursor(self._conn.connection.dbapi_connection.cursor(), self._conn.info)
        return self._cursor

    @property
    def statements(self) -> int:
        """Statements this unit of work has sent so far (raw and through Core): what benchmarks print
        as the cost of one operation."""
        raw = self._cursor.count if self._cursor is not None else 0
        return raw + self._conn.info.get(STATEMENT_COUNT, 0) - self._core_base

    @contextmanager
    def savepoint(self, name: str = "sp") -> Iterator[None]:
        """Run the block so that an exception undoes only what it wrote: ``ROLLBACK TO SAVEPOINT``, the
        rollback hooks registered inside it run (newest first) and its commit hooks are dropped; the
        unit of work stays usable (a card decline is recorded after its approval attempt is undone)."""
        self._savepoints += 1
        label = f"{name}_{self._savepoints}"
        commits, rollbacks = len(self._after_commit), len(self._after_rollback)
        locked, rows, memo = set(self._locked_accounts), dict(self._account_rows), dict(self.memo)
        queued, scratch = len(self._at_commit), dict(self.scratch)
        cursor = self.raw_cursor()
        held, flushes = cursor.deferred, cursor.flushes
        cursor.defer(f"SAVEPOINT {label}", None)   # PostgreSQL: sent with the block's first read
        try:
            yield
        except BaseException:
            if cursor.can_defer and cursor.flushes == flushes:
                cursor.drop_deferred(held)   # the SAVEPOINT never went out: nothing of the block did
            else:
                cursor.drop_deferred()   # writes held back since: the rollback undoes them
                cursor.execute(f"ROLLBACK TO SAVEPOINT {label}")
            # PostgreSQL releases the row locks taken since the savepoint: they must be taken again.
            self._locked_accounts, self._account_rows, self.memo = locked, rows, memo
            del self._at_commit[queued:]
            self.scratch = scratch
            undo = self._after_rollback[rollbacks:]
            del self._after_commit[commits:]
            del self._after_rollback[rollbacks:]
            for hook in reversed(undo):
                hook()
            raise

    @property
    def sql(self):
        """Parametrised SQL (``:name`` style) on this unit of work's connection, bypassing Core's per-call
        cost: for hot paths (see ``ledger.fastpath``); timestamps as ``ledger.types.to_micros``."""
        if self._bound is None:
            self._bound = BoundSql(self.ledger._fast, self.raw_cursor())
        return self._bound

    @property
    def queued_at_commit(self) -> int:
        """How many writes ``write_at_commit`` holds for the COMMIT."""
        return len(self._at_commit)

    def write_at_commit(self, sql: str, params: dict) -> None:
        """Queue a write (``:name`` parameters, as ``uow.sql``) that returns nothing and that nothing in
        this unit of work reads back: it is sent by ``commit()``, in order, before the COMMIT — on
        PostgreSQL together with the COMMIT in ONE round trip (psycopg's pipeline mode). A failure then
        fails the commit: nothing of the unit of work is kept. A savepoint rolled back drops what was
        queued inside it."""
        self._at_commit.append((sql, params))

    def defer(self, sql: str, params: dict | list[dict], *, many: bool = False) -> None:
        """Run a write (``:name`` parameters, as ``uow.sql``; ``many``: a list of parameter sets) whose result
        nobody reads: on PostgreSQL it is held back and sent with the next statement that waits for an
        answer (or with the COMMIT), in one pipelined round trip, in order; on SQLite it runs now. A
        database error in it surfaces at that later statement, and the unit of work is lost as after any
        database error. A savepoint rolled back drops what it held back."""
        sql = self.ledger._fast.convert(sql)
        self.raw_cursor().defer(sql, list(params) if many else params, many=many)

    def _send_at_commit(self) -> None:
        pending, self._at_commit = self._at_commit, []
        cursor, fast = self.raw_cursor(), self.ledger._fast
        dbapi = cursor.dbapi_connection
        if can_pipeline(dbapi) and (dbapi.pgconn.transaction_status != _PG_IDLE or cursor.deferred):
            with pipelined(dbapi):
                cursor.flush_inside()
                for sql, params in pending:
                    cursor.execute(fast.convert(sql), params)
                cursor.execute("COMMIT")   # the driver then has no transaction left to commit
            return
        for sql, params in pending:
            cursor.execute(fast.convert(sql), params)

    def commit(self) -> None:
        for hook in self._before_commit:   # last writes of the transaction (the event log's one INSERT)
            hook()
        if self._at_commit or (self._cursor is not None and self._cursor.deferred):
            self._send_at_commit()
        self._tx.commit()
        self._committed = True
        for hook in self._after_commit:
            hook()

    def rollback(self) -> None:
        """Roll back (if still open), then run the rollback hooks — each one, even if another fails."""
        if self._cursor is not None:
            self._cursor.drop_deferred()   # never sent: nothing to undo
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self._locked_accounts.clear()
            self._account_rows.clear()
            self.memo.clear()
            hooks, self._after_rollback = self._after_rollback, []
            failures = []
            for hook in hooks:
                try:
                    hook()
                except Exception as error:  # noqa: BLE001 - re-raised below, after every hook ran
                    failures.append(error)
            if failures:
                raise failures[0]

    def before_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` inside the transaction just before it commits (it may write; if it fails, nothing
        commits). Registered once per unit of work by whoever buffers writes on it (``sandbox.events``)."""
        self._before_commit.append(hook)

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once this unit of work commits (e.g. publish a cache update)."""
        self._after_commit.append(hook)

    def after_rollback(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` if this unit of work rolls back (e.g. drop a cache, compensate a chain call).

        It runs after the rollback, and must not use this unit of work's connection: after a database
        error there is no transaction left to run SQL in."""
        self._after_rollback.append(hook)

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if not self._committed:
                self.rollback()
        finally:
            try:
                self._conn.info.pop(PENDING_BEGIN, None)   # never left for the pooled connection's next user
                self._conn.info.pop(DEFERRED, None)
                self._conn.close()
            finally:
                self._end_turn()

    def _end_turn(self) -> None:
        if self._writes:
            self._writes = False
            self.ledger.db.end_write_turn()

    def now(self) -> datetime:
        """Sandbox time, read once per unit of work so every row it writes carries the same instant."""
        if self._now is None:
            self._now = self.ledger.clock.now()
        return self._now

    def start_at(self, when: datetime) -> None:
        """Fix this unit of work's instant before it writes anything (the city reads its clock row from the
        database at the start of each unit of work, so every process stamps the same time)."""
        assert when.tzinfo is not None, "sandbox time is timezone-aware UTC"
        assert self._now is None or self._now == when, "the instant is fixed once, before the first write"
        self._now = when

    def move_time_to(self, when: datetime) -> None:
        """Make ``when`` this unit of work's instant from now on: for the clock's own advance, whose
        writes must carry the new time even if the unit of work already read the old one. Time only
        moves forward."""
        assert when.tzinfo is not None, "sandbox time is timezone-aware UTC"
        if self._now is not None and when < self._now:
            raise ValueError(f"time only moves forward: {when.isoformat()} is before {self._now.isoformat()}")
        self._now = when

    def advisory_lock(self, name: str) -> None:
        """``Database.advisory_lock`` in this transaction; on PostgreSQL held back (``defer``) and sent with
        the next statement, which runs once the lock is taken."""
        if self._writes and not self.ledger.db.is_sqlite and self.raw_cursor().can_defer:
            self.raw_cursor().defer(ADVISORY_LOCK, {"k": lock_key(name)})
        else:
            self.ledger.db.advisory_lock(self._conn, name)

    # -- accounts --------------------------------------------------------------------------
    def lock_accounts(self, account_ids: Iterable[int]) -> dict[int, Balance]:
        """Row-lock (PostgreSQL) the accounts a multi-step operation will touch, all at once in ascending
        id order, before its first step: the steps then take no account lock of their own (rule 3 of the
        module docstring). Accounts this unit of work already holds are not locked again. Returns their
        balances now; an id with no account is left out."""
        rows = _accounts.lock_rows(self, account_ids)
        return {i: Balance(i, r[0], r[2], r[3]) for i, r in rows.items()}

    def lock_accounts_later(self, account_ids: Iterable[int]) -> Callable[[], dict[int, Balance]]:
        """``lock_accounts``, its statement sent with the next one (PostgreSQL: in its round trip, before it),
        the balances given when the returned function is called (``accounts.lock_rows_later``)."""
        rows = _accounts.lock_rows_later(self, account_ids)
        return lambda: {i: Balance(i, r[0], r[2], r[3]) for i, r in rows().items()}

    def open_account(self, owner: str, asset: str, purpose: str, *, allow_negative: bool | None = None,
                     code: str | None = None) -> Account:
        return _accounts.open_account(self, owner, asset, purpose, allow_negative=allow_negative, code=code)

    def account(self, account_id: int) -> Account:
        return _accounts.get(self, account_id)

    def account_by_code(self, code: str) -> Account:
        return _accounts.get_by_code(self, code)

    def find_account(self, code: str) -> Account | None:
        return _accounts.find_by_code(self, code)

    def accounts_of(self, owner: str) -> list[Account]:
        return _accounts.by_owner(self, owner)

    # -- money movement --------------------------------------------------------------------
    def transfer(self, postings: Sequence[_transfers.Posting], *, key: str | None = None, memo: str = "",
                 kind: str = "transfer") -> _transfers.TransferResult:
        return _transfers.transfer(self, postings, key=key, memo=memo, kind=kind)

    def hold(self, account_id: int, amount_minor: int, *, expires_at: datetime | None = None,
             key: str | None = None, memo: str = "") -> _holds.Hold:
        return _holds.place(self, account_id, amount_minor, expires_at=expires_at, key=key, memo=memo)

    def reserve_ids(self, counts: dict[str, int] | None = None, *, transfers: int = 0,
                    holds: int = 0) -> Callable[[], dict[str, list[int]]] | None:
        """Reserve ids (PostgreSQL) for rows of a package's own tables (``counts``: ``{sequence: n}``) and for
        the key-less transfers and holds this unit of work is about to make, in one statement sent with the
        next one: each such row is then written without a round trip of its own (``ledger.ids``). None
        on SQLite, where nothing is reserved."""
        return _ids.reserve(self, counts or {}, transfers=transfers, holds=holds)

    def hold_events_together(self):
        """The hold events written in the block go out as one statement when it ends (``ledger.holds.events_together``)."""
        return _holds.events_together(self)

    def get_hold(self, hold_id: int) -> _holds.Hold:
        return _holds.get(self, hold_id)

    def post_hold(self, hold_id: int, to: Sequence[tuple[int, int]], *, amount_minor: int | None = None,
                  key: str | None = None, memo: str = "", final: bool = True,
                  also: Sequence[_transfers.Posting] = ()) -> _transfers.TransferResult:
        return _holds.post(self, hold_id, to, amount_minor=amount_minor, key=key, memo=memo, final=final, also=also)

    def void_hold(self, hold_id: int, *, amount_minor: int | None = None) -> _holds.Hold:
        return _holds.void(self, hold_id, amount_minor=amount_minor)

    def expire_holds(self, *, limit: int = _holds.MAX_EXPIRY_BATCH) -> int:
        """Expire the pending holds past their date on the sandbox clock, oldest first, at most ``limit``;
        how many."""
        return _holds.expire(self, limit=limit)

    def holds_due(self) -> bool:
        """Whether any pending hold is past its date on the sandbox clock (not expired yet)."""
        return _holds.any_due(self)

    def expired_among(self, hold_ids: Sequence[int]) -> set[int]:
        """Which of ``hold_ids`` have expired (by a sweep, or when a debit or a new hold on their account
        found them past their date)."""
        return _holds.expired_among(self, hold_ids)

    def idempotent(self, scope: str, key: str, request: Any, compute: Callable[[], Any]) -> Any:
        return _idem.run_once(self, scope, key, request, compute)

    # -- queries ---------------------------------------------------------------------------
    def balance_later(self, account_id: int) -> Callable[[], Balance]:
        """``balance(account_id)``, read with the next statement this unit of work sends (PostgreSQL: in its
        round trip) and given when the returned function is called; at once if this unit of work holds the
        row, or where there are no round trips to share (SQLite). ``AccountNotFound`` for an id with no
        account."""
        if _accounts.kept_row(self, account_id) is not None or not self.raw_cursor().can_defer:
            balance = self.balance(account_id)
            return lambda: balance
        ahead = self.sql.read_ahead("account", {"a": account_id})

        def balance() -> Balance:
            acct = _accounts.from_row(self, ahead.one(), account_id)
            return Balance(acct.id, acct.asset, acct.balance_minor, acct.held_minor)
        return balance

    def balance(self, account_id: int, *, as_of: datetime | None = None) -> Balance:
        """Ledger, held and available balance now, or as of a past sandbox time."""
        if as_of is None:
            kept = _accounts.kept_row(self, account_id)   # a row only this unit of work can change
            if kept is not None:
                return Balance(account_id, kept[0], kept[2], kept[3])
        acct = self.account(account_id)
        if as_of is None:
            return Balance(acct.id, acct.asset, acct.balance_minor, acct.held_minor)
        e, h = t.entries, t.holds
        ledger_minor = self._conn.execute(select(func.coalesce(func.sum(e.c.amount_minor), 0)).where(
            and_(e.c.account_id == account_id, e.c.created_at <= as_of))).scalar_one()
        # Held at as_of: the hold events up to then, for holds not yet expired by the clock at as_of.
        ev = t.hold_events
        live = select(h.c.id).where(and_(h.c.account_id == account_id, h.c.created_at <= as_of,
                                         (h.c.expires_at.is_(None)) | (h.c.expires_at > as_of)))
        held = self._conn.execute(select(func.coalesce(func.sum(ev.c.delta_minor), 0)).where(and_(
            ev.c.account_id == account_id, ev.c.created_at <= as_of, ev.c.hold_id.in_(live)))).scalar_one()
        return Balance(acct.id, acct.asset, int(ledger_minor), int(held))

    def history(self, account_id: int, *, since: datetime | None = None, until: datetime | None = None,
                after_id: int | None = None, limit: int = 100) -> list[dict]:
        """Entries of an account, oldest first, paginated by ``after_id`` (at most 1000 per page)."""
        limit = max(1, min(int(limit), MAX_PAGE))
        e, tr = t.entries, t.transfers
        cond = [e.c.account_id == account_id]
        if since is not None:
            cond.append(e.c.created_at >= since)
        if until is not None:
            cond.append(e.c.created_at <= until)
        if after_id is not None:
            cond.append(e.c.id > after_id)
        rows = self._conn.execute(
            select(e.c.id, e.c.transfer_id, e.c.amount_minor, e.c.created_at, tr.c.kind, tr.c.memo)
            .select_from(e.join(tr, tr.c.id == e.c.transfer_id)).where(and_(*cond)).order_by(e.c.id).limit(limit))
        return [{"entry_id": r[0], "transfer_id": r[1], "amount_minor": r[2], "at": r[3], "kind": r[4],
                 "memo": r[5]} for r in rows]
