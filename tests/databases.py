"""Database helpers shared by the test packages."""
from __future__ import annotations

import sqlite3


def copy_sqlite(source, target) -> None:
    """A consistent copy of a SQLite database, WAL included (a plain file copy misses what is still
    in ``-wal`` when some connection, e.g. a background checkpointer, has not let go yet)."""
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(target))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def cells_holding(engine, secret: str) -> list[str]:
    """Every cell of every table that holds ``secret``: the value itself, quoted in JSON text, or anything
    under a ``"cvv"`` key (what a test of "never stored" scans for)."""
    import json

    from sqlalchemy import inspect, text
    found = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for cell in row:
                    value = cell if isinstance(cell, str) else (
                        json.dumps(cell) if isinstance(cell, (dict, list)) else None)
                    if value is not None and (value == secret or f'"{secret}"' in value or '"cvv"' in value):
                        found.append(f"{table}: {value[:80]}")
    return found
