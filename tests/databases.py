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
