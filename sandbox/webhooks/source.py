"""Where the webhooks read events from: the city's event log (``sandbox.events``), in id order.

The log hands out ids in COMMIT order (see ``sandbox/events/log.py``), so a cursor that pages with
``after=<last id seen>`` never skips an event that commits later: the fan-out cursor of an endpoint is
the id of the last event it looked at.
"""
from __future__ import annotations

from sandbox import events as event_log
from sandbox.events import Event  # noqa: F401 - re-exported: what events_after returns

PAGE = event_log.MAX_PAGE
EVENT_TYPES = event_log.EVENT_TYPES


def last_event_id(conn) -> str | None:
    """The newest event's id, or None when the log is empty."""
    seq = event_log.last_seq(conn)
    return event_log.format_id(seq) if seq else None


def events_after(conn, after: str | None, limit: int) -> list[Event]:
    """At most ``limit`` (≤ the log's page) events after ``after`` (None: from the first), oldest first."""
    return event_log.read(conn, after=event_log.parse_id(after), limit=limit)


def payload(event: Event) -> dict:
    """The JSON body a webhook delivers and ``listen`` forwards: the event as the events API shows it."""
    return event.to_dict()
