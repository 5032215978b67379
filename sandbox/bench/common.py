"""Helpers shared by the benchmarks: a throw-away database and the raw INSERT+COMMIT baseline."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert

from ledger import Database

_meta = MetaData()
_raw = Table("bench_raw", _meta, Column("id", Integer, primary_key=True, autoincrement=True),
             Column("value_minor", BigInteger, nullable=False), Column("note", String(40), nullable=False))


def bench_database(url: str | None) -> Database:
    """The database to measure: ``url``, or a fresh SQLite file in a temporary folder."""
    if url is None:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='cryptocity-bench-')) / 'bench.db'}"
    return Database(url)


RAW_ROUNDS = 3


class RawInserts:
    """Single-row INSERT + COMMIT with plain SQLAlchemy Core on ``db``'s engine and settings: the
    denominator of the benchmarks' ratios. ``round(n)`` measures one run of ``n``; ``close()`` drops
    the scratch table."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.stmt = insert(_raw)
        _raw.drop(db.engine, checkfirst=True)
        _raw.create(db.engine)
        with db.engine.begin() as conn:  # warm the pool and the statement cache
            conn.execute(self.stmt, {"value_minor": 0, "note": "warm-up"})

    def round(self, count: int) -> float:
        """Inserts per second over ``count`` single-row transactions."""
        started = time.perf_counter()
        for i in range(count):
            with self.db.engine.begin() as conn:
                conn.execute(self.stmt, {"value_minor": i, "note": "raw"})
        return count / (time.perf_counter() - started)

    def close(self) -> None:
        _raw.drop(self.db.engine)


def raw_insert_rate(db: Database, count: int, rounds: int = RAW_ROUNDS) -> float:
    """The best of ``rounds`` runs of ``count`` raw inserts per second: a short run swings ±30% with what
    else the machine and disk are doing, and the best round is the honest denominator — it can only
    make a ratio against it smaller."""
    raw = RawInserts(db)
    try:
        return max(raw.round(count) for _ in range(max(1, rounds)))
    finally:
        raw.close()


def percentile(samples_ms: list[float], pct: float) -> float:
    ordered = sorted(samples_ms)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
