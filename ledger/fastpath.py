"""The money hot paths as parametrised SQL on the unit of work's own DBAPI cursor.

Measured on SQLite (2 cores): SQLAlchemy Core spends ~100 µs of Python per
statement, more than the commit itself; a guarded transfer needs five statements
and a card authorization about sixty, so Core made a transfer cost 4.7x a raw
INSERT+COMMIT and an authorization ~70x. The same SQL sent on the same DBAPI
connection (so inside the same transaction) costs ~10-15 µs. Only the hot paths
(transfers, holds, account reads, order settlement, card authorization) are
written this way; everything else uses Core.

Statements are written once with ``:name`` parameters and converted (and cached)
to psycopg's ``%(name)s`` style on PostgreSQL. A statement ending in
``FOR UPDATE`` keeps it on PostgreSQL and drops it on SQLite, where the
transaction already holds the database's single write lock (BEGIN IMMEDIATE).
Timestamps are passed and read as BIGINT microseconds (``types.to_micros``).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from .ids import with_id

_PARAM = re.compile(r"(?<!:):(\w+)")
_FOR_UPDATE = " FOR UPDATE"
MAX_LOCK_BATCH = 64  # accounts per locking statement (a transfer has at most 64 postings)

ACCOUNT_COLS = "id, code, owner, asset, purpose, allow_negative, balance_minor, held_minor"
HOLD_COLS = ("id, account_id, asset, amount_minor, remaining_minor, posted_minor, status, created_at, expires_at, "
             "resolved_at, memo")

_INSERT_HOLD = ("INSERT INTO ledger_holds (account_id, asset, amount_minor, remaining_minor, posted_minor, status, "
                "idempotency_key, request_hash, memo, created_at, expires_at) VALUES (:aid, :asset, :amount, "
                ":amount, 0, 'pending', :key, :hash, :memo, :at, :expires)")
_ADD_HELD = "UPDATE ledger_accounts SET held_minor = held_minor + :amount WHERE id = :aid"

_SQL = {
    "lock1": "SELECT id, asset, allow_negative, balance_minor, held_minor, code FROM ledger_accounts "
             "WHERE id = :a FOR UPDATE",
    "lock2": "SELECT id, asset, allow_negative, balance_minor, held_minor, code FROM ledger_accounts "
             "WHERE id IN (:a, :b) ORDER BY id FOR UPDATE",
    # The same rows re-read by the unit of work that already holds their locks.
    "read1": "SELECT id, asset, allow_negative, balance_minor, held_minor, code FROM ledger_accounts WHERE id = :a",
    "account": f"SELECT {ACCOUNT_COLS} FROM ledger_accounts WHERE id = :a",
    "account_by_code": f"SELECT {ACCOUNT_COLS} FROM ledger_accounts WHERE code = :code",
    "insert_transfer": "INSERT INTO ledger_transfers (idempotency_key, request_hash, kind, memo, hold_id, created_at) "
                       "VALUES (:key, :hash, :kind, :memo, :hold_id, :at) "
                       "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    "insert_transfer_with_id": "INSERT INTO ledger_transfers (id, idempotency_key, request_hash, kind, memo, hold_id, "
                               "created_at) VALUES (:id, :key, :hash, :kind, :memo, :hold_id, :at)",
    "insert_entry": "INSERT INTO ledger_entries (transfer_id, account_id, asset, amount_minor, created_at) "
                    "VALUES (:tid, :aid, :asset, :amount, :at)",
    "delete_transfer": "DELETE FROM ledger_transfers WHERE id = :tid",
    "apply_delta": "UPDATE ledger_accounts SET balance_minor = balance_minor + :delta WHERE id = :aid",
    "add_held": "UPDATE ledger_accounts SET held_minor = held_minor + :delta WHERE id = :aid",
    # A hold post: the debit and the release of the held amount in one statement per account.
    "apply_delta_held": "UPDATE ledger_accounts SET balance_minor = balance_minor + :delta, "
                        "held_minor = held_minor + :held WHERE id = :aid",
    "insert_hold": f"{_INSERT_HOLD} RETURNING id",
    # PostgreSQL: the hold and what it adds to its account's held amount in one statement (its id
    # returned, or given: reserved ahead, ledger.ids).
    "place_hold": f"WITH hold AS ({_INSERT_HOLD} RETURNING id), held AS ({_ADD_HELD}) SELECT id FROM hold",
    "place_hold_with_id": f"WITH hold AS ({with_id(_INSERT_HOLD + ' RETURNING id')}) {_ADD_HELD}",
    "hold_event": "INSERT INTO ledger_hold_events (hold_id, account_id, kind, delta_minor, created_at) "
                  "VALUES (:hid, :aid, :kind, :delta, :at)",
    "hold": f"SELECT {HOLD_COLS} FROM ledger_holds WHERE id = :hid",
    "hold_account": "SELECT account_id FROM ledger_holds WHERE id = :hid",
    "hold_locked": f"SELECT {HOLD_COLS} FROM ledger_holds WHERE id = :hid FOR UPDATE",
    "update_hold": "UPDATE ledger_holds SET remaining_minor = :remaining, posted_minor = :posted, status = :status, "
                   "resolved_at = :resolved WHERE id = :hid",
    # A hold that stays pending: leaving status alone spares SQLite rewriting both indexes that hold it.
    "hold_progress": "UPDATE ledger_holds SET remaining_minor = :remaining, posted_minor = :posted WHERE id = :hid",
    # A post that leaves the hold pending, its read and its update in one statement: no row unless the
    # hold is pending, unexpired and keeps something (holds.post then reads it to say why); the undo puts
    # it back when the post's transfer refuses.
    "post_progress": "UPDATE ledger_holds SET remaining_minor = remaining_minor - :amount, "
                     "posted_minor = posted_minor + :amount WHERE id = :hid AND status = 'pending' "
                     "AND remaining_minor > :amount AND (expires_at IS NULL OR expires_at > :now) "
                     "RETURNING account_id, memo",
    "post_progress_undo": "UPDATE ledger_holds SET remaining_minor = remaining_minor + :amount, "
                          "posted_minor = posted_minor - :amount WHERE id = :hid",
}


_POSTING_SQL: dict[tuple[int, bool], str] = {}


def _posting_sql(n: int, held: bool) -> str:
    """The PostgreSQL statement of ``FastSql.post_entries`` for ``n`` postings (built once per shape)."""
    done = _POSTING_SQL.get((n, held))
    if done is None:
        entries = ", ".join(f"(:tid, :a{i}, :s{i}, :m{i}, :at)" for i in range(n))
        deltas = ", ".join(f"(CAST(:a{i} AS BIGINT), CAST(:m{i} AS BIGINT), CAST(:h{i} AS BIGINT))"
                           for i in range(n))
        held_sql = ", held_minor = a.held_minor + v.h" if held else ""
        done = _POSTING_SQL[(n, held)] = (
            "WITH entries AS (INSERT INTO ledger_entries (transfer_id, account_id, asset, amount_minor, created_at) "
            f"VALUES {entries}) UPDATE ledger_accounts AS a SET balance_minor = a.balance_minor + v.d{held_sql} "
            f"FROM (VALUES {deltas}) AS v (id, d, h) WHERE a.id = v.id")
    return done


def lock_statement(ids: Iterable[int], *, lock: bool = True) -> tuple[str, dict]:
    """The statement (``:name`` style) and parameters that read, and with ``lock`` row-lock in ascending id
    order, up to ``MAX_LOCK_BATCH`` accounts; its rows go through ``account_rows``."""
    ids = sorted(set(ids))
    assert 0 < len(ids) <= MAX_LOCK_BATCH, f"one statement locks at most {MAX_LOCK_BATCH} accounts"
    names = ", ".join(f":i{n}" for n in range(len(ids)))
    sql = (f"SELECT id, asset, allow_negative, balance_minor, held_minor, code FROM ledger_accounts "
           f"WHERE id IN ({names}) ORDER BY id" + (_FOR_UPDATE if lock else ""))
    return sql, {f"i{n}": v for n, v in enumerate(ids)}


def account_rows(rows: Iterable[tuple]) -> dict[int, tuple]:
    """``{id: (asset, allow_negative, balance_minor, held_minor, code)}`` of ``lock_statement``'s rows."""
    return {r[0]: (r[1], bool(r[2]), r[3], r[4], r[5]) for r in rows}


class FastSql:
    """Parametrised SQL for one dialect, run on a unit of work's DBAPI cursor."""

    def __init__(self, dialect: str) -> None:
        self.is_pg = dialect != "sqlite"
        self._converted: dict[str, str] = {}

    def convert(self, sql: str) -> str:
        """``sql`` (or the name of a ledger statement) in this dialect's parameter style (cached)."""
        done = self._converted.get(sql)
        if done is None:
            text = _SQL.get(sql, sql)
            if text.endswith(_FOR_UPDATE) and not self.is_pg:
                text = text[: -len(_FOR_UPDATE)]
            if self.is_pg:
                text = _PARAM.sub(r"%(\1)s", text.replace("%", "%%"))
            done = self._converted[sql] = text
        return done

    def cursor(self, uow):  # noqa: ANN001
        return uow.raw_cursor()

    # -- generic ---------------------------------------------------------------------------------
    def run(self, cursor, sql: str, params: dict | None = None):  # noqa: ANN001
        cursor.execute(self.convert(sql), params or {})
        return cursor

    def one(self, cursor, sql: str, params: dict | None = None) -> tuple | None:  # noqa: ANN001
        cursor.execute(self.convert(sql), params or {})
        return cursor.fetchone()

    def all(self, cursor, sql: str, params: dict | None = None) -> list[tuple]:  # noqa: ANN001
        cursor.execute(self.convert(sql), params or {})
        return cursor.fetchall()

    def many(self, cursor, sql: str, rows: Iterable[dict]) -> None:  # noqa: ANN001
        cursor.executemany(self.convert(sql), list(rows))

    def later(self, cursor, sql: str, params: dict) -> None:  # noqa: ANN001
        """A write whose result nobody reads, sent with the next statement (``UnitOfWork.defer``)."""
        cursor.defer(self.convert(sql), params)

    def many_later(self, cursor, sql: str, rows: Iterable[dict]) -> None:  # noqa: ANN001
        cursor.defer(self.convert(sql), list(rows), many=True)

    def insert_id(self, cursor, sql: str, params: dict) -> Any:  # noqa: ANN001
        """Run an INSERT … RETURNING id and give the id (None if ON CONFLICT skipped the row)."""
        cursor.execute(self.convert(sql), params)
        row = cursor.fetchone()
        return None if row is None else row[0]

    # -- ledger statements -----------------------------------------------------------------------
    def lock_one(self, cursor, a: int, *, lock: bool = True) -> dict[int, tuple]:  # noqa: ANN001
        row = self.one(cursor, "lock1" if lock else "read1", {"a": a})
        return {} if row is None else {row[0]: (row[1], bool(row[2]), row[3], row[4], row[5])}

    def lock_two(self, cursor, a: int, b: int) -> dict[int, tuple]:  # noqa: ANN001
        return {r[0]: (r[1], bool(r[2]), r[3], r[4], r[5]) for r in self.all(cursor, "lock2", {"a": a, "b": b})}

    def lock_many(self, cursor, ids: list[int], *, lock: bool = True) -> dict[int, tuple]:  # noqa: ANN001
        """Read (with ``lock``, row-lock on PostgreSQL, in ascending id order) up to ``MAX_LOCK_BATCH`` accounts."""
        sql, params = lock_statement(ids, lock=lock)
        return account_rows(self.all(cursor, sql, params))

    def insert_transfer(self, cursor, params: dict) -> int | None:  # noqa: ANN001
        """The new transfer's id, or None when the idempotency key is already taken."""
        return self.insert_id(cursor, "insert_transfer", params)

    def post_entries(self, cursor, transfer_id: int, at: int,  # noqa: ANN001
                     lines: list[tuple[int, str, int, int]]) -> None:
        """Write a transfer's entries and apply them to the balances, sent with the next statement:
        ``lines`` are ``(account_id, asset, amount_minor, held_delta_minor)``.

        PostgreSQL: ONE statement (the entries' INSERT in a CTE beside one UPDATE … FROM VALUES), where
        a row per entry and per account would be 2N statements, each costing the driver and the server
        its own round of parsing, binding and executing. SQLite, which has no data-modifying CTE and no
        round trips to save: the two ``executemany`` it always had."""
        n = len(lines)
        assert 0 < n <= MAX_LOCK_BATCH, "a transfer has 1 to 64 postings"
        held = any(line[3] for line in lines)
        if not self.is_pg:
            self.many_later(cursor, "insert_entry", [{"tid": transfer_id, "aid": a, "asset": s, "amount": m,
                                                       "at": at} for a, s, m, _ in lines])
            if held:
                self.many_later(cursor, "apply_delta_held", [{"aid": a, "delta": m, "held": h}
                                                             for a, _, m, h in lines])
            else:
                self.many_later(cursor, "apply_delta", [{"aid": a, "delta": m} for a, _, m, _ in lines])
            return
        params: dict[str, Any] = {"tid": transfer_id, "at": at}
        for i, (a, s, m, h) in enumerate(lines):
            params[f"a{i}"], params[f"s{i}"], params[f"m{i}"], params[f"h{i}"] = a, s, m, h
        self.later(cursor, _posting_sql(n, held), params)

    def delete_transfer(self, cursor, transfer_id: int) -> None:  # noqa: ANN001
        self.run(cursor, "delete_transfer", {"tid": transfer_id})


class BoundSql:
    """``FastSql`` bound to one unit of work's cursor: what other packages use (``uow.sql``)."""

    __slots__ = ("_fast", "_cursor")

    def __init__(self, fast: FastSql, cursor) -> None:  # noqa: ANN001
        self._fast, self._cursor = fast, cursor

    def run(self, sql: str, params: dict | None = None) -> int:
        """Execute; the number of rows changed."""
        return self._fast.run(self._cursor, sql, params).rowcount

    def one(self, sql: str, params: dict | None = None) -> tuple | None:
        return self._fast.one(self._cursor, sql, params)

    def all(self, sql: str, params: dict | None = None) -> list[tuple]:
        return self._fast.all(self._cursor, sql, params)

    def many(self, sql: str, rows: Iterable[dict]) -> None:
        self._fast.many(self._cursor, sql, rows)

    def insert_id(self, sql: str, params: dict) -> Any:
        return self._fast.insert_id(self._cursor, sql, params)

    def read_ahead(self, sql: str, params: dict | None = None):  # noqa: ANN201
        """A read whose rows are asked for later (``.one()``, ``.all()``): on PostgreSQL it goes out with the
        next statement, so independent reads share a round trip (``CountingCursor.read_ahead``)."""
        return self._cursor.read_ahead(self._fast.convert(sql), params or {})
