"""Where the webhooks read events from: the city's event log, in id order.

The webhooks need only two questions answered, both inside the caller's transaction:
``last_event_id(conn)`` (the newest event, or None) and ``events_after(conn, after, limit)`` (the
events after ``after``, oldest first). Interim source until the event log lands: the audit log, whose
entries are written in the same transaction as each change and appended one at a time (an advisory
lock on PostgreSQL), so reading in id order after a cursor never skips a committed entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from sandbox.tables import audit_log

PREFIX = "evt_"
WIDTH = 16  # zero-padded: the ids sort as text in the order they were written


@dataclass(frozen=True)
class Event:
    """One event: ``id`` (``evt_…``, ordered), ``type``, ``created`` (sandbox time), ``data`` (the
    object's snapshot), and the request that caused it, when there was one."""

    id: str
    type: str
    created: datetime
    data: dict
    request: dict = field(default_factory=dict)

    def payload(self) -> dict:
        """The JSON body a webhook delivers (and ``listen`` forwards)."""
        return {"id": self.id, "type": self.type, "created": self.created.isoformat(), "data": self.data,
                "request": self.request or {"id": None, "idempotency_key": None}}


def _seq(event_id: str | None) -> int:
    if not event_id:
        return 0
    if not event_id.startswith(PREFIX) or not event_id[len(PREFIX):].isdigit():
        raise ValueError(f"not an event id: {event_id!r}")
    return int(event_id[len(PREFIX):])


def event_id(seq: int) -> str:
    return f"{PREFIX}{seq:0{WIDTH}d}"


def last_event_id(conn) -> str | None:
    """The newest event's id, or None when there is none."""
    seq = conn.execute(select(func.max(audit_log.c.seq))).scalar()
    return None if seq is None else event_id(seq)


def events_after(conn, after: str | None, limit: int) -> list[Event]:
    """At most ``limit`` events after ``after`` (None: from the first), oldest first."""
    log = audit_log.c
    rows = conn.execute(select(log.seq, log.at, log.action, log.subject, log.details)
                        .where(log.seq > _seq(after)).order_by(log.seq).limit(limit))
    return [Event(event_id(seq), action, at, {"subject": subject, **json.loads(details)})
            for seq, at, action, subject, details in rows]
