"""Column types shared by every package's tables."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, Integer
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICRO = timedelta(microseconds=1)

# SQLite only auto-increments "INTEGER PRIMARY KEY"; PostgreSQL gets a real BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


def to_micros(when: datetime) -> int:
    assert when.tzinfo is not None, "timestamps must be timezone-aware"
    return (when - EPOCH) // _MICRO


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class Timestamp(TypeDecorator):
    """An aware UTC datetime stored as BIGINT microseconds since the epoch.

    Integers compare and sort the same on SQLite and PostgreSQL, which makes
    "as of" queries and expiry sweeps identical on both.
    """

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else to_micros(value)

    def process_result_value(self, value, dialect):
        return None if value is None else from_micros(value)
