"""The database adapter: engines for SQLite (embedded default) and PostgreSQL, migrations, retries.

SQLite: WAL mode and ``BEGIN IMMEDIATE`` for every transaction. pysqlite delays
``BEGIN`` until the first write, so two readers that both decide to write later
deadlock into "database is locked"; taking the write lock up front makes SQLite's
single writer serialize whole units of work instead.

PostgreSQL: READ COMMITTED with row locks (``SELECT … FOR UPDATE`` in id order)
and a bounded retry on serialization failures, deadlocks and unique-key races.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import sqlite3
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from .checkpoint import CHECKPOINTER, SAFETY_NET_BYTES

# Packages that ship migrations, in dependency order.
KNOWN_PACKAGES = ("ledger", "wallet", "stablecoin", "exchange", "card", "mining", "sandbox")
# serialization_failure, deadlock_detected, unique_violation (a concurrent twin claimed the same key
# first: the next attempt reads its result), lock_not_available (NOWAIT / lock_timeout).
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "23505", "55P03"})
_SQLITE_BUSY = ("database is locked", "database is busy")
READ_ONLY = "cryptocity_read_only"
# execution option: no BEGIN/COMMIT at all (``Ledger.unit_of_work(autocommit=True)``)
AUTOCOMMIT = "cryptocity_autocommit"
STATEMENT_COUNT = "cryptocity_statements"   # Connection.info key: statements sent through SQLAlchemy
# PostgreSQL units of work send their own BEGIN, in one pipelined round trip with their first statement
# (psycopg's own BEGIN waits for its answer first): the DBAPI connection's info holds it until then.
PENDING_BEGIN = "cryptocity_pending_begin"
PG_BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
# A read-only unit of work that must see one state of the database in all its statements (a report)
PG_SNAPSHOT_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
# Connection.info key: the unit of work's cursor while it holds back writes (``UnitOfWork.defer``); a statement
# sent through SQLAlchemy sends them first.
DEFERRED = "cryptocity_deferred"
# The round-trip meter of the running request (``count_round_trips``): None when nobody is counting.
_ROUND_TRIPS: ContextVar[list[int] | None] = ContextVar("cryptocity_round_trips", default=None)


SQLITE_BUSY_TIMEOUT_S = 30
# A new SQLite file gets 1 KiB pages, not the default 4 KiB. A commit writes every page it dirtied to the WAL
# (and checksums it), and a card purchase dirties ~50 pages across a dozen tables and their indexes for
# well under 1 KiB of new rows each; measured on `bench card` (alternating runs, 2 cores): ~700 → ~1 150
# authorizations/s, raw INSERT+COMMIT unchanged; 512 bytes gained nothing more. An existing file keeps the
# page size it was created with (it cannot change while in WAL mode).
SQLITE_PAGE_SIZE = 1024
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
URL_FORMS = ("sqlite:///PATH, a file path ending in .db, .sqlite or .sqlite3, "
             "or postgresql://USER@HOST/DBNAME")


class DatabaseUrlError(ValueError):
    """A database URL this project cannot use; the message says which forms it accepts."""


def normalize_url(url: str) -> str:
    """The SQLAlchemy URL for ``url``: ``sqlite:///PATH``, a bare file path ending in .db, .sqlite or
    .sqlite3 (SQLite), or ``postgresql://`` / ``postgres://`` / ``postgresql+psycopg://`` (psycopg 3).
    Anything else raises ``DatabaseUrlError`` — a typo must not quietly become a new SQLite file."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    url = url.strip()
    if "://" not in url:
        if not url.lower().endswith(SQLITE_SUFFIXES):
            raise DatabaseUrlError(f"{url!r} is neither a database URL nor a SQLite file name; use {URL_FORMS}")
        return f"sqlite:///{url}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        raise DatabaseUrlError(f"cannot read the database URL ({error}); use {URL_FORMS}") from None
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseUrlError("SQLite needs a file (in-memory SQLite cannot be shared by connections): "
                                   "sqlite:///PATH")
        return url
    if parsed.drivername != "postgresql+psycopg":
        raise DatabaseUrlError(f"unsupported database {parsed.drivername!r}: cryptocity runs on SQLite and on "
                               f"PostgreSQL through psycopg 3; use {URL_FORMS}")
    return url


def sqlite_path(url: str) -> str:
    """The file named by a (normalized) SQLite URL."""
    return url.split(":///", 1)[-1].split("?", 1)[0]


class Database:
    """One database: an engine plus the project's conventions for it."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = normalize_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            path = self.sqlite_path
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url, echo=echo, pool_size=pool_size, max_overflow=20)
            _install_sqlite_conventions(self.engine, path)
            # This process's writers queue here, before BEGIN IMMEDIATE (``write_turn``): SQLite's busy
            # handler would make them poll its lock with growing sleeps instead (a p99 of 350 ms under
            # 8 concurrent HTTP clients); a lock hands the turn on at once. Re-entrant, as before: a
            # thread that opens a second write unit of work meets SQLite's own lock, not this one.
            self._writer = threading.RLock()
            self._checkpoint_token = CHECKPOINTER.register(path)
            weakref.finalize(self, CHECKPOINTER.unregister, self._checkpoint_token)
        else:
            self.engine = create_engine(self.url, echo=echo, pool_size=pool_size, max_overflow=20)
            _install_postgresql_conventions(self.engine)
        _count_statements(self.engine)

    def write_turn(self) -> None:
        """Wait for this process's turn to write (SQLite; nothing on PostgreSQL, whose writers lock rows).
        Call ``end_write_turn`` once the transaction is over. Waits as long as SQLite's busy timeout, then
        raises SQLite's own (retryable) "database is locked"."""
        if self.is_sqlite and not self._writer.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked (waited for this process's writer)")

    def end_write_turn(self) -> None:
        if self.is_sqlite:
            self._writer.release()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_path(self) -> str:
        """The file of a SQLite database (as written in its URL)."""
        return sqlite_path(self.url)

    def migrate(self, packages: tuple[str, ...] | list[str] = KNOWN_PACKAGES) -> None:
        """Bring the schema of ``packages`` (those that have migrations) up to date."""
        from alembic import command

        cfg = _alembic_config(packages)
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")

    def migrate_locked(self, lock_name: str = "ledger:migrate",
                       packages: tuple[str, ...] | list[str] = KNOWN_PACKAGES) -> None:
        """``migrate`` under a cross-process lock (a PostgreSQL session advisory lock): processes starting
        together on a fresh database would otherwise race to create the same tables. SQLite's own write
        lock already serialises them."""
        if self.is_sqlite:
            self.migrate(packages)
            return
        key = lock_key(lock_name)
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(%(k)s)", {"k": key})
            try:
                self.migrate(packages)
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%(k)s)", {"k": key})
                conn.commit()

    def schema_state(self, packages: tuple[str, ...] | list[str] = KNOWN_PACKAGES) -> str:
        """``"empty"`` (no migration has run), ``"current"`` (every package at this version's head) or
        ``"outdated"`` (migrated by another version). Reads only: nothing is created or migrated."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        from alembic.util import CommandError

        script = ScriptDirectory.from_config(_alembic_config(packages))
        with self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(**{READ_ONLY: True})
            recorded = MigrationContext.configure(conn).get_current_heads()
        if not recorded:
            return "empty"
        try:  # the version table keeps leaves only: a head another one depends on counts as applied
            applied = {rev.revision for rev in script.iterate_revisions(recorded, "base")}
        except CommandError:  # a revision this version does not know: a newer version migrated it
            return "outdated"
        return "current" if set(script.get_heads()) <= applied else "outdated"

    def dispose(self) -> None:
        self.engine.dispose()
        if self.is_sqlite:
            CHECKPOINTER.unregister(self._checkpoint_token)
            CHECKPOINTER.flush(self.sqlite_path)

    def advisory_lock(self, conn: Connection, name: str) -> None:
        """Serialize writers on ``name`` until the transaction ends.

        PostgreSQL: ``pg_advisory_xact_lock``. SQLite needs nothing: ``BEGIN IMMEDIATE``
        already makes every unit of work the only writer.
        """
        if self.dialect == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": lock_key(name)})


def lock_key(name: str) -> int:
    """A lock name as PostgreSQL's 64-bit advisory lock key."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


def is_retryable(error: BaseException) -> bool:
    """True for a transient conflict that a fresh attempt of the whole unit of work can resolve.

    Recognised wherever it comes from: SQLAlchemy's ``DBAPIError`` wrappers (their ``.orig``), the
    DBAPI's own exceptions that ``ledger.fastpath`` SQL on the raw cursor raises (psycopg's
    ``SerializationFailure`` 40001, ``DeadlockDetected`` 40P01, ``UniqueViolation`` 23505 — a
    concurrent twin took the same key —, ``LockNotAvailable`` 55P03), and SQLite's "database is locked"
    / "database is busy". The exception's ``__cause__`` and ``__context__`` are walked too, so a
    conflict that a domain error (or a failed clean-up on the aborted transaction) was raised from
    is still seen: on PostgreSQL that transaction is dead whatever came after, and only a new
    attempt can succeed.
    """
    return any(_transient(e) for e in _chain(error))


def from_database(error: BaseException) -> bool:
    """True if ``error`` is, or was raised from (``__cause__``/``__context__``), an error of the database:
    after one, the transaction is aborted on PostgreSQL and must only be rolled back."""
    return any(isinstance(e, DBAPIError) or _is_driver_error(e) for e in _chain(error))


def _chain(error: BaseException):
    """``error``, its causes and contexts and the driver errors SQLAlchemy wrapped, each once."""
    pending: list[BaseException | None] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__, getattr(current, "orig", None)]


def _is_driver_error(error: BaseException) -> bool:
    if isinstance(error, sqlite3.Error):
        return True
    psycopg = sys.modules.get("psycopg")  # not imported: no psycopg error can exist (and SQLite users skip it)
    return psycopg is not None and isinstance(error, psycopg.Error)


def _transient(error: BaseException) -> bool:
    sqlstate = getattr(error, "sqlstate", None) or getattr(getattr(error, "diag", None), "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    return isinstance(error, sqlite3.OperationalError) and any(text in str(error) for text in _SQLITE_BUSY)


def backoff(attempt: int) -> None:
    """Sleep before retry ``attempt`` (0, 1, …): exponential, capped at 0.2 s, with full jitter so that
    threads that collided do not retry in lockstep and collide again."""
    time.sleep(random.uniform(0.5, 1.5) * min(0.2, 0.002 * (2**attempt)))


def _alembic_config(packages: tuple[str, ...] | list[str]):
    from alembic.config import Config

    locations = [str(p) for p in (_versions_dir(name) for name in packages) if p is not None]
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(locations))
    return cfg


def _versions_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "migrations" / "versions"
    return path if path.is_dir() else None


@contextmanager
def count_round_trips() -> Iterator[list[int]]:
    """Count the round trips to the database that this thread (this context) makes inside the block, on
    any connection of any ``Database``: every statement that waits for its answer (SQLAlchemy's, and the
    raw ones of ``UnitOfWork.raw_cursor``; an ``executemany`` counts once), each transaction's BEGIN
    (PostgreSQL: psycopg sends it before the transaction's first statement) and its COMMIT or ROLLBACK;
    statements sent together in a ``pipelined`` block count as the one round trip they make. Yields
    ``[count, …]``, whose first item grows as statements go out. Nested in another count, the block's
    round trips count in both."""
    outer = _ROUND_TRIPS.get()
    meter = [0, outer[1] if outer is not None else 0]   # round trips; depth of pipelined blocks
    token = _ROUND_TRIPS.set(meter)
    try:
        yield meter
    finally:
        _ROUND_TRIPS.reset(token)
        if outer is not None:
            outer[0] += meter[0]


def start_round_trip_meter() -> tuple[list[int], object]:
    """``count_round_trips`` for hooks that cannot wrap a block (a web request's before/teardown):
    returns (meter, token); give the token to ``stop_round_trip_meter``."""
    meter = [0, 0]
    return meter, _ROUND_TRIPS.set(meter)


def stop_round_trip_meter(token: object) -> None:
    _ROUND_TRIPS.reset(token)  # type: ignore[arg-type]


def round_trip() -> None:
    """One more round trip for the meter of this context, if one is counting (and not in a pipeline)."""
    meter = _ROUND_TRIPS.get()
    if meter is not None and not meter[1]:
        meter[0] += 1


def statement_round_trip(dbapi_connection) -> None:  # noqa: ANN001
    """A statement goes out on ``dbapi_connection``: one round trip, two if psycopg sends the
    transaction's BEGIN before it."""
    meter = _ROUND_TRIPS.get()
    if meter is None or meter[1]:
        return
    meter[0] += 1
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is not None and not dbapi_connection.autocommit and pgconn.transaction_status == _PG_IDLE:
        meter[0] += 1


@contextmanager
def pipelined(dbapi_connection) -> Iterator[None]:  # noqa: ANN001
    """psycopg's pipeline mode on ``dbapi_connection`` (PostgreSQL): the statements executed in the block
    (and a BEGIN psycopg adds) are sent together with one Sync when it ends — ONE round trip, if nothing
    inside fetches a result before the end (fetch after the block). Errors surface at the end."""
    meter = _ROUND_TRIPS.get()
    if meter is not None:
        meter[1] += 1
    try:
        with dbapi_connection.pipeline():
            yield
    finally:
        if meter is not None:
            meter[1] -= 1
            round_trip()


def can_pipeline(dbapi_connection) -> bool:  # noqa: ANN001
    """Whether ``pipelined`` can be used on this DBAPI connection (psycopg 3 on libpq 14 or later)."""
    if getattr(dbapi_connection, "pgconn", None) is None:
        return False
    global _PIPELINE_SUPPORTED
    if _PIPELINE_SUPPORTED is None:
        import psycopg
        _PIPELINE_SUPPORTED = bool(psycopg.Pipeline.is_supported())
    return _PIPELINE_SUPPORTED


_PIPELINE_SUPPORTED: bool | None = None
_PG_IDLE = 0   # libpq's PQTRANS_IDLE: no transaction open


def _in_transaction(dbapi_connection) -> bool:  # noqa: ANN001
    pgconn = getattr(dbapi_connection, "pgconn", None)
    if pgconn is not None:
        return pgconn.transaction_status != _PG_IDLE
    return bool(getattr(dbapi_connection, "in_transaction", True))


PG_PREPARE_THRESHOLD = 1   # prepare a statement on its second execution (psycopg's default: the sixth)
PG_PREPARED_MAX = 512      # per connection; psycopg's default of 100 is fewer than the city's hot statements


def _install_postgresql_conventions(engine: Engine) -> None:
    """Server-side prepared statements for the project's fixed set of statements: psycopg's default LRU of
    100 is smaller than the statements one city sends, so the hot ones were evicted and parsed again
    (every second exchange order insert in ``bench http``); a bigger cache, and preparing early, parse
    each statement once per connection."""
    @event.listens_for(engine, "connect")
    def _prepare(dbapi_connection, _record) -> None:  # noqa: ANN001
        dbapi_connection.prepare_threshold = PG_PREPARE_THRESHOLD
        dbapi_connection.prepared_max = PG_PREPARED_MAX


def _count_statements(engine: Engine) -> None:
    """Count the statements SQLAlchemy sends on each connection (``UnitOfWork.statements`` adds the raw ones),
    and every round trip for ``count_round_trips``."""
    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, _statement, _parameters, _context, _executemany):  # noqa: ANN001
        conn.info[STATEMENT_COUNT] = conn.info.get(STATEMENT_COUNT, 0) + 1
        held = conn.info.get(DEFERRED)
        if held is not None:   # writes the unit of work held back go first (with its BEGIN, if pending)
            held.flush()
        begin = conn.info.pop(PENDING_BEGIN, None)
        if begin is not None:   # a unit of work's first statement goes through Core: its BEGIN first
            cursor.connection.execute(begin)
            round_trip()
        statement_round_trip(cursor.connection)

    sqlite = engine.dialect.name == "sqlite"

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001
        # SQLite: the BEGIN below (ours). PostgreSQL: counted with the first statement, when psycopg sends it.
        if sqlite and not conn.get_execution_options().get(AUTOCOMMIT):
            round_trip()

    def _end(conn) -> None:  # noqa: ANN001
        # Fired before the driver's commit/rollback, which sends nothing when no transaction is open
        # (an autocommit read; a COMMIT already sent in a pipeline, see UnitOfWork.commit).
        if _in_transaction(conn.connection.dbapi_connection):
            round_trip()
    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)


def _install_sqlite_conventions(engine: Engine, path: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        # first: switching a fresh file to WAL takes a lock
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")  # a no-op unless the file is new and empty
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: durable across application crashes; the last commits may be lost on power loss.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Checkpoints run on a background thread (ledger.checkpoint); this is only the safety net.
        page_bytes = cursor.execute("PRAGMA page_size").fetchone()[0]
        cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_BYTES // page_bytes}")
        cursor.close()

    @event.listens_for(engine, "commit")
    def _on_commit(_conn):  # noqa: ANN001
        CHECKPOINTER.committed(path)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        options = conn.get_execution_options()
        if options.get(AUTOCOMMIT):
            return
        mode = "DEFERRED" if options.get(READ_ONLY) else "IMMEDIATE"
        # On the DBAPI connection: exec_driver_sql costs ~80 µs of SQLAlchemy per unit of work.
        conn.connection.dbapi_connection.execute(f"BEGIN {mode}")
