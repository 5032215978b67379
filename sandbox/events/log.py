"""The event log: every state change writes an event row in the same transaction as the change.

Writing (a transactional outbox, cheap on the write path):

* a service calls ``emit(uow, type, data, customer=…, merchant=…)`` next to its audit entry; the event is
  buffered on the unit of work (nothing is sent yet), and forgotten with the savepoint or the transaction
  that rolls back;
* the caller that knows who asked (the web layer) calls ``attribute(uow, request_id=…,
  idempotency_key=…)``: the cause travels with the unit of work, never through a global;
* at COMMIT the buffer is written with ONE multi-row INSERT (queued by ``UnitOfWork.before_commit`` with
  ``write_at_commit``: on PostgreSQL it goes in the COMMIT's pipelined round trip), so
  an event exists exactly when its change does, and a unit of work that changed nothing (a replayed
  idempotent request, a no-op verb) writes none.

Ordering — ids are 1, 2, 3, … in COMMIT order, so a reader paging with ``after=<id>`` never misses a row
that commits later with a smaller id:

* SQLite: every write transaction holds the database's single write lock from ``BEGIN IMMEDIATE`` to
  COMMIT, so the rowid handed out at flush time is already in commit order;
* PostgreSQL: a sequence would not do (an id drawn by a transaction that commits after a later one
  would appear behind a reader's cursor). The INSERT takes its ids from the one head row
  (``sandbox_event_head``) with an ``UPDATE … RETURNING`` in the same statement: the row lock is held
  until COMMIT, so the transaction that draws ids N+1…N+k is visible before the next one can draw
  N+k+1. It is the last lock a unit of work takes (after the audit chain's), held only for the
  flush and the commit, so it adds no deadlock cycle; a rolled-back transaction returns its ids, so the
  log has no gaps either.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import select

from ledger.errors import DomainError
from ledger.types import to_micros

from .tables import events as events_table

# The event types, in the style of Stripe's and Marqeta's (docs/events.md says when each is written).
EVENT_TYPES = (
    "customer.created", "customer.kyc_changed",
    "card.created", "card.updated",
    "authorization.created", "authorization.captured", "authorization.reversed", "authorization.refunded",
    "authorization.expired", "authorization.incremented", "authorization.increment_declined",
    "authorization.advice_booked", "authorization.force_posted",
    "deposit.pending", "deposit.confirmed", "withdrawal.created", "withdrawal.confirmed",
    "order.created", "order.filled", "order.cancelled", "trade.created",
    "kzte.minted", "kzte.redeemed", "kzte.address_frozen", "kzte.address_unfrozen",
    "licence.suspended", "licence.reinstated", "licence.renewed",
    "aml.flag_raised",
    "clock.advanced",
    "mining.reward", "mining.levy_charged", "mining.farm_closed",
    "incident.started", "incident.resolved",
)
_TYPES = frozenset(EVENT_TYPES)

ID_PREFIX = "evt_"
ID_DIGITS = 16               # evt_0000000000000001: ids sort as strings too
MAX_PAGE = 100               # events per page of the API, the stream's reads, a scenario's expectation
MAX_DATA_CHARS = 8_000       # a snapshot longer than this keeps only its scalar fields (``truncated``)
MAX_EVENTS_PER_UNIT = 5_000  # a unit of work that would write more is a bug, refused before COMMIT
ROWS_PER_INSERT = 150        # one INSERT per unit of work in practice; bounded by SQLite's 999 variables
_ID_RE = re.compile(r"^evt_([0-9]{1,18})$")
_OUTBOX_ATTR = "_cryptocity_event_outbox"


class EventLogError(DomainError, ValueError):
    code = "event_log_error"


class InvalidEventId(DomainError, ValueError):
    code = "invalid_event_id"


class UnknownEventType(DomainError, ValueError):
    code = "unknown_event_type"


def format_id(seq: int) -> str:
    """The public id of event number ``seq`` (``evt_`` and 16 digits)."""
    return f"{ID_PREFIX}{seq:0{ID_DIGITS}d}"


def parse_id(text: str | None) -> int:
    """The number of an ``evt_…`` id (``None`` or "" is 0, before the first event); ``InvalidEventId``
    for anything else."""
    if text is None or text == "":
        return 0
    found = _ID_RE.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise InvalidEventId(f"an event id looks like {format_id(42)}, got {str(text)[:40]!r}")
    return int(found.group(1))


def check_types(types: Iterable[str]) -> list[str]:
    """``types`` if every one is a known event type; ``UnknownEventType`` naming the first that is not."""
    out = list(types)
    for name in out:
        if name not in _TYPES:
            raise UnknownEventType(f"{str(name)[:64]!r} is not an event type; known: {', '.join(EVENT_TYPES)}",
                                   type=str(name)[:64])
    return out


@dataclass(frozen=True)
class Event:
    """One event as readers see it."""
    seq: int
    type: str
    at: datetime
    data: dict
    request_id: str | None = None
    idempotency_key: str | None = None

    @property
    def id(self) -> str:
        return format_id(self.seq)

    def to_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "created_at": self.at.isoformat(), "data": self.data,
                "request": {"id": self.request_id, "idempotency_key": self.idempotency_key}}


# ---------------------------------------------------------------------------------------------------- writing
class _Outbox:
    """The events a unit of work has emitted, and the request that caused them."""

    __slots__ = ("rows", "request_id", "idempotency_key")

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.request_id: str | None = None
        self.idempotency_key: str | None = None


def _outbox(uow) -> _Outbox:
    box = getattr(uow, _OUTBOX_ATTR, None)
    if box is None:
        box = _Outbox()
        setattr(uow, _OUTBOX_ATTR, box)
        uow.before_commit(lambda: _flush(uow, box))
    return box


def attribute(uow, *, request_id: str | None = None, idempotency_key: str | None = None) -> None:
    """Record on ``uow`` the request that causes its changes: every event it writes carries them."""
    box = _outbox(uow)
    box.request_id = None if request_id is None else str(request_id)[:64]
    box.idempotency_key = None if idempotency_key is None else str(idempotency_key)[:255]


def emit(uow, type: str, data: dict, *, customer: str | None = None, merchant: str | None = None) -> None:
    """Buffer event ``type`` with the snapshot ``data`` on ``uow``; it is written just before COMMIT, in the
    same transaction (and dropped if the savepoint or transaction around this call rolls back).
    ``customer``/``merchant``: whose event it is, for the API's role scoping."""
    if type not in _TYPES:
        raise UnknownEventType(f"{type!r} is not an event type")
    box = _outbox(uow)
    if len(box.rows) >= MAX_EVENTS_PER_UNIT:
        raise EventLogError(f"one transaction may write at most {MAX_EVENTS_PER_UNIT} events")
    mark = len(box.rows)
    box.rows.append((type, to_micros(uow.now()), bounded_json(data),
                     None if customer is None else str(customer)[:120],
                     None if merchant is None else str(merchant)[:64]))
    uow.after_rollback(lambda: _truncate(box.rows, mark))


def _truncate(rows: list, mark: int) -> None:
    del rows[mark:]


def pending(uow) -> list[str]:
    """The types this unit of work has emitted and not yet written (for tests and benchmarks)."""
    box = getattr(uow, _OUTBOX_ATTR, None)
    return [row[0] for row in box.rows] if box is not None else []


def bounded_json(data: dict) -> str:
    """``data`` as compact JSON of at most ``MAX_DATA_CHARS``: a longer snapshot keeps only its scalar fields
    and says ``"truncated": true`` (the full object is one API call away)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) <= MAX_DATA_CHARS:
        return text
    scalars = {k: v for k, v in data.items() if isinstance(v, (str, int, float, bool)) or v is None}
    scalars = {k: (v[:200] if isinstance(v, str) else v) for k, v in list(scalars.items())[:40]}
    scalars["truncated"] = True
    return json.dumps(scalars, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_COLS = "type, at, data, customer, merchant, request_id, idempotency_key"


def _flush(uow, box: _Outbox) -> None:
    """Write the buffered events in one INSERT (more only past ``ROWS_PER_INSERT``), ids in commit order."""
    rows, box.rows = box.rows, []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[start:start + ROWS_PER_INSERT]
        params: dict = {"r": box.request_id, "k": box.idempotency_key, "n": len(chunk)}
        for i, (type_, at, data, customer, merchant) in enumerate(chunk):
            params.update({f"t{i}": type_, f"a{i}": at, f"d{i}": data, f"c{i}": customer, f"m{i}": merchant})
        if uow.ledger.db.is_sqlite:
            values = ", ".join(f"(:t{i}, :a{i}, :d{i}, :c{i}, :m{i}, :r, :k)" for i in range(len(chunk)))
            sql = f"INSERT INTO sandbox_events ({_COLS}) VALUES {values}"
        else:
            # The head's row lock, taken here and held to the COMMIT, puts ids in commit order. A missing
            # head row gives a NULL id, which the primary key refuses: the commit fails, nothing is lost.
            values = ", ".join(f"({i + 1}, CAST(:t{i} AS VARCHAR), CAST(:a{i} AS BIGINT), CAST(:d{i} AS TEXT), "
                               f"CAST(:c{i} AS VARCHAR), CAST(:m{i} AS VARCHAR))" for i in range(len(chunk)))
            sql = ("WITH head AS (UPDATE sandbox_event_head SET last_id = last_id + CAST(:n AS BIGINT) "
                   "WHERE id = 1 RETURNING last_id) "
                   f"INSERT INTO sandbox_events (id, {_COLS}) "
                   "SELECT (SELECT last_id FROM head) - CAST(:n AS BIGINT) + v.ord, v.type, v.at, v.data, "
                   "v.customer, v.merchant, CAST(:r AS VARCHAR), CAST(:k AS VARCHAR) "
                   f"FROM (VALUES {values}) AS v(ord, type, at, data, customer, merchant)")
        # Nothing in this unit of work reads the events back: on PostgreSQL they go out with the COMMIT,
        # in its one pipelined round trip (UnitOfWork.write_at_commit).
        uow.write_at_commit(sql, params)


# ---------------------------------------------------------------------------------------------------- reading
# What a customer or a merchant does not see of an event it may read. AML flags stay with the issuer and
# the regulator (no tipping-off: ``aml.flag_raised`` is written with no customer or merchant, so only an
# operator or regulator reads it); a merchant sees what its POS sees of a purchase, not how the customer
# paid for it. What the card programme's decision app said (its metadata) stays with the programme.
HIDDEN_FROM = {"customer": frozenset({"flags", "decision_metadata"}),
               "merchant": frozenset({"flags", "sold", "shortfall_minor", "conversion_fee_minor", "customer",
                                      "bought_back", "conversion_fee_charged_minor", "conversion_fee_returned_minor", "decision", "decision_detail",
                                      "decision_metadata"})}


def read(conn, *, after: int = 0, limit: int = MAX_PAGE, types: Iterable[str] | None = None,
         customer: str | None = None, merchant: str | None = None) -> list[Event]:
    """Events with a number above ``after``, oldest first, at most ``limit`` (≤ ``MAX_PAGE``); only those of
    ``types``, of ``customer`` or at ``merchant`` when given — and then without the fields ``HIDDEN_FROM``
    that reader. Every event a reader may see has been committed in id order (see the module docstring),
    so paging by the last id seen never skips one."""
    e = events_table.c
    limit = max(1, min(int(limit), MAX_PAGE))
    query = select(e.id, e.type, e.at, e.data, e.request_id, e.idempotency_key).where(e.id > after)
    if types:
        query = query.where(e.type.in_(list(types)))
    if customer is not None:
        query = query.where(e.customer == customer)
    if merchant is not None:
        query = query.where(e.merchant == merchant)
    rows = conn.execute(query.order_by(e.id).limit(limit)).all()
    hidden = HIDDEN_FROM["merchant"] if merchant is not None else HIDDEN_FROM["customer"] if customer is not None \
        else frozenset()
    return [Event(int(r[0]), r[1], r[2], _without(json.loads(r[3]), hidden), r[4], r[5]) for r in rows]


def _without(data: dict, hidden: frozenset) -> dict:
    return {k: v for k, v in data.items() if k not in hidden} if hidden else data


def last_seq(conn) -> int:
    """The number of the newest event (0 when the log is empty)."""
    from sqlalchemy import func
    return int(conn.execute(select(func.coalesce(func.max(events_table.c.id), 0))).scalar_one())
