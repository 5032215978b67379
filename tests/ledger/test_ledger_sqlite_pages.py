"""A new SQLite file gets 1 KiB pages (a purchase writes small rows into a dozen tables, and every page it
touches is copied to the WAL at commit); a file made before keeps its own, and the WAL's safety-net
checkpoint stays at the same 32 MiB in either."""
from __future__ import annotations

import sqlite3

from ledger import Database, Ledger, ManualClock, move


def _pragmas(db: Database) -> tuple[int, int]:
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        return raw.execute("PRAGMA page_size").fetchone()[0], raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0]


def test_a_new_file_has_1_kib_pages_and_money_moves_as_before(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    db.migrate()
    assert _pragmas(db) == (1024, 32 * 1024)
    ledger = Ledger(db, ManualClock())
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external").id
        shop = uow.open_account("merchant:shop", "KZT", "merchant").id
        uow.transfer(move(world, shop, 1_000_00))
        uow.commit()
    with ledger.unit_of_work(read_only=True) as uow:
        assert uow.balance(shop).ledger_minor == 1_000_00
    ledger.verify()
    db.dispose()


def test_a_file_made_with_4_kib_pages_keeps_them(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:   # as an earlier version made it: the default page size, then WAL
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE made_before (id INTEGER PRIMARY KEY)")
    db = Database(f"sqlite:///{path}")
    db.migrate()
    assert _pragmas(db) == (4096, 8 * 1024)
    db.dispose()
