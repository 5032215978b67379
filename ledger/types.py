"""Column types shared by every package's tables, and the SQL helpers every package's queries of them use."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterator, Sequence

from sqlalchemy import BigInteger, Integer, type_coerce
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


# Integer division truncates towards zero on both databases; shifting by a whole number of buckets first
# floors the times before 1970 too (year 1 is -6.2e16 µs): 10^6 days, a whole number of every width that
# divides a day.
_BUCKET_SHIFT_MICROS = 86_400 * 10**6 * 10**6


def time_bucket(column, width_micros: int):  # noqa: ANN001, ANN201 - a SQL expression
    """SQL: the number of the ``width_micros`` slice of time since the epoch that the Timestamp ``column``
    falls in (floored, before 1970 too); ``bucket_start`` turns it back into the slice's first instant."""
    if width_micros <= 0 or _BUCKET_SHIFT_MICROS % width_micros:
        raise ValueError(f"a bucket of {width_micros} µs does not divide a day")
    return (type_coerce(column, BigInteger) + _BUCKET_SHIFT_MICROS) // width_micros


def bucket_start(bucket: int, width_micros: int) -> datetime:
    """The first instant of the bucket ``time_bucket`` numbered ``bucket``."""
    return from_micros(int(bucket) * width_micros - _BUCKET_SHIFT_MICROS)


IDS_PER_STATEMENT = 500   # SQLite binds at most 999 variables a statement


def id_chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    """``ids`` (deduplicated, ascending) in lists short enough for one ``IN (…)`` on every database."""
    unique = sorted(set(ids))
    for start in range(0, len(unique), IDS_PER_STATEMENT):
        yield unique[start:start + IDS_PER_STATEMENT]
