"""The card figures a regulator's report counts, added up by the database: totals, declines by response
code and reason template, AML flags by rule, and activity in 15-minute buckets the layer above turns into
local days and hours.

Each query reads every authorization however many there are (the report counted only the first 100 000
when it added them up in Python) and returns a bounded answer."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Text, case, cast, func, literal_column, select, text

from ledger.types import bucket_start, id_chunks, time_bucket

from . import response_codes as rc
from . import tables as t

# Every UTC offset in use today is a whole number of quarter hours, so all of a bucket falls in one local
# hour and one local day (only the local mean times of before ~1920 are not).
BUCKET_MICROS = 15 * 60 * 1_000_000
BUCKETS_PER_DAY_MAX = 100     # a 25-hour day (a DST change back)
MAX_DECLINE_GROUPS = 1_000
MAX_FLAGGED_ROWS = 1_000

_a = t.authorizations.c
_APPROVED = _a.response_code.in_(sorted(rc.APPROVALS))


@dataclass(frozen=True)
class Totals:
    """Every authorization, and what the approved ones moved (tiyn)."""
    authorizations: int
    approved: int
    declined: int
    approved_minor: int
    captured_minor: int
    refunded_minor: int
    reversed_minor: int
    crypto_funded_minor: int
    conversion_fees_minor: int


@dataclass(frozen=True)
class DeclineGroup:
    """Declines with one response code and one reason template (a row written before the templates: its
    reason), with the oldest one's reason as the example."""
    response_code: str
    reason: str
    count: int
    amount_minor: int
    example: str


@dataclass(frozen=True)
class Flagged:
    """An authorization on which the sandbox's rules raised flags, as (rule, reason) pairs."""
    cardholder_id: str | None
    merchant_id: str | None
    response_code: str
    flags: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Bucket:
    """The authorizations of one 15-minute span starting at ``start`` (UTC)."""
    start: datetime
    approved: int
    approved_minor: int
    declined: int


def _total(expression):  # noqa: ANN001, ANN202
    return func.coalesce(func.sum(expression), 0)


def totals(uow) -> Totals:
    """Counts and sums over every authorization."""
    def approved_sum(column):  # noqa: ANN001, ANN202
        return _total(case((_APPROVED, column), else_=0))
    row = uow.conn.execute(select(
        func.count(), _total(case((_APPROVED, 1), else_=0)), approved_sum(_a.amount_minor),
        approved_sum(_a.captured_minor), approved_sum(_a.refunded_minor), approved_sum(_a.reversed_minor),
        approved_sum(_a.shortfall_minor), approved_sum(_a.conversion_fee_minor))).one()
    count, approved, *sums = (int(v) for v in row)
    return Totals(count, approved, count - approved, *sums)


def decline_groups(uow, *, limit: int = MAX_DECLINE_GROUPS) -> list[DeclineGroup]:
    """Declines grouped by (response code, reason template), sorted by both; at most ``limit`` groups."""
    reason = func.coalesce(_a.reason_template, _a.reason)
    groups = uow.conn.execute(
        select(_a.response_code, reason, func.count(), _total(_a.amount_minor), func.min(_a.id))
        .where(~_APPROVED).group_by(_a.response_code, reason).order_by(_a.response_code, reason)
        .limit(max(1, min(int(limit), MAX_DECLINE_GROUPS)))).all()
    firsts = [g[4] for g in groups]
    examples: dict[int, str] = {}
    for chunk in id_chunks(firsts):
        examples.update(uow.conn.execute(select(_a.id, _a.reason).where(_a.id.in_(chunk))).all())
    out = [DeclineGroup(code, template, int(count), int(amount), examples[first])
           for code, template, count, amount, first in groups]
    # Sorted as Python sorts strings: the same order on both databases, whatever PostgreSQL's collation.
    return sorted(out, key=lambda g: (g.response_code, g.reason))


_FLAG_RULES = {
    "sqlite": "SELECT json_extract(f.value, '$[0]') AS rule, COUNT(*) FROM card_authorizations AS a, "
              "json_each(a.flags) AS f GROUP BY rule",
    "postgresql": "SELECT f ->> 0 AS rule, COUNT(*) FROM card_authorizations AS a "
                  "CROSS JOIN LATERAL json_array_elements(a.flags) AS f GROUP BY rule",
}


def flags_by_rule(uow) -> dict[str, int]:
    """How many flags each rule raised, over every authorization, by rule name."""
    rows = uow.conn.execute(text(_FLAG_RULES[uow.conn.dialect.name])).all()
    return {str(rule): int(count) for rule, count in sorted(rows, key=lambda r: str(r[0]))}


def flagged(uow, *, limit: int = MAX_FLAGGED_ROWS) -> list[Flagged]:
    """The oldest ``limit`` authorizations that carry flags, oldest first."""
    has_flags = cast(_a.flags, Text) != "[]"   # flags are written as json.dumps writes them
    rows = uow.conn.execute(select(_a.cardholder_id, _a.merchant_id, _a.response_code, _a.flags)
                            .where(has_flags).order_by(_a.id)
                            .limit(max(1, min(int(limit), MAX_FLAGGED_ROWS)))).all()
    return [Flagged(holder, merchant, code, tuple(tuple(f) for f in (flags or ())))
            for holder, merchant, code, flags in rows]


def latest_at(uow) -> datetime | None:
    """When the newest authorization was made (None: none yet)."""
    return uow.conn.execute(select(func.max(_a.created_at))).scalar()


def buckets(uow, *, limit: int, since: datetime | None = None) -> list[Bucket]:
    """The newest ``limit`` 15-minute buckets that hold authorizations (made at or after ``since``, when
    given: a chart of the last hours reads only those), oldest first."""
    query = select(time_bucket(_a.created_at, BUCKET_MICROS).label("bucket"), _total(case((_APPROVED, 1), else_=0)),
                   _total(case((_APPROVED, _a.amount_minor), else_=0)), _total(case((_APPROVED, 0), else_=1)))
    if since is not None:
        query = query.where(_a.created_at >= since)
    rows = uow.conn.execute(
        query
        .group_by(literal_column("bucket")).order_by(literal_column("bucket").desc())
        .limit(max(1, int(limit)))).all()
    return [Bucket(bucket_start(b, BUCKET_MICROS), int(ok), int(ok_minor), int(no))
            for b, ok, ok_minor, no in reversed(rows)]
