"""The ``Ledger`` service: units of work, retried transactions, invariant checks."""
from __future__ import annotations

from typing import Any, Callable

from .assets import DEFAULT_REGISTRY, AssetRegistry
from .clock import Clock, ManualClock
from .db import Database, backoff, is_retryable
from .transfers import compiled_statements
from .unit_of_work import UnitOfWork
from .verify import Check, VerifyReport, verify

MAX_RETRIES = 8


class Ledger:
    """Double-entry ledger over one database. Thread-safe: each unit of work has its own connection."""

    def __init__(self, db: Database | str, clock: Clock | None = None, assets: AssetRegistry = DEFAULT_REGISTRY):
        self.db = db if isinstance(db, Database) else Database(db)
        self.clock = clock or ManualClock()
        self.assets = assets
        self._checks: dict[str, Check] = {}
        self._asset_rows_seen: set[str] = set()
        self._hold_accounts: dict[int, int] = {}   # hold id -> the account it reserves on (never changes)
        compiled_statements(self)

    @classmethod
    def open(cls, url: str, clock: Clock | None = None, packages: tuple[str, ...] = ("ledger",)) -> "Ledger":
        """Connect to ``url`` and migrate ``packages``' schemas: the one-liner for scripts and tests."""
        db = Database(url)
        db.migrate(packages)
        return cls(db, clock)

    def unit_of_work(self, *, read_only: bool = False, autocommit: bool = False,
                     snapshot: bool = False) -> UnitOfWork:
        """A new unit of work; use as a context manager and call ``commit()`` to keep its writes.
        ``autocommit`` (reads only): no transaction at all, each statement on its own — for one or two
        independent lookups (an API key), which then cost no BEGIN and no ROLLBACK round trip.
        ``snapshot`` (reads only): every statement sees the same state of the database (PostgreSQL's
        REPEATABLE READ; a SQLite read transaction always does), for a report whose figures must agree."""
        return UnitOfWork(self, read_only=read_only or autocommit or snapshot, autocommit=autocommit,
                          snapshot=snapshot)

    def transaction(self, fn: Callable[[UnitOfWork], Any], *, retries: int = MAX_RETRIES) -> Any:
        """Run ``fn(uow)`` and commit; retry the whole unit on serialization failures and deadlocks.

        Domain refusals (``LedgerError``) are not retried: they roll back and propagate.
        """
        attempt = 0
        while True:
            try:
                with self.unit_of_work() as uow:
                    result = fn(uow)
                    uow.commit()
                    return result
            except Exception as error:  # noqa: BLE001 - filtered just below
                if attempt >= retries or not is_retryable(error):
                    raise
                backoff(attempt)
                attempt += 1

    def add_check(self, name: str, check: Check) -> None:
        """Add an invariant that ``verify()`` proves too; ``check(conn)`` returns a problem in words or None."""
        self._checks[name] = check

    def verify(self) -> VerifyReport:
        """Prove the ledger's invariants; raise ``InvariantViolation`` naming the first one broken."""
        with self.unit_of_work(read_only=True) as uow:
            return verify(uow.conn, self.assets, self._checks)
