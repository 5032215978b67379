"""The city's event log (a transactional outbox): what happened, in order, for readers that are not on the
request path — the events API and its stream, scenario expectations, later webhooks.

``emit`` buffers an event on the unit of work; it is written in the same transaction, just before COMMIT.
``read`` pages through the log by id. See ``log.py`` for how ids come out in commit order.
"""
from .log import (
    EVENT_TYPES,
    MAX_PAGE,
    Event,
    EventLogError,
    InvalidEventId,
    UnknownEventType,
    attribute,
    check_types,
    emit,
    format_id,
    last_seq,
    parse_id,
    pending,
    read,
)

__all__ = ["EVENT_TYPES", "MAX_PAGE", "Event", "EventLogError", "InvalidEventId", "UnknownEventType", "attribute",
           "check_types", "emit", "format_id", "last_seq", "parse_id", "pending", "read"]
