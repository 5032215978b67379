"""The event log's tables (its own MetaData; migration sandbox_events_0001 on the ``sandbox_events`` branch)."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table, Text

from ledger.types import Id, Timestamp

metadata = MetaData()

# One row per event, in the order the transactions that wrote them committed (see sandbox/events/log.py).
events = Table(
    "sandbox_events", metadata,
    # 1, 2, 3, ...: on SQLite the rowid (one writer at a time); on PostgreSQL handed out by the head row
    # below inside the committing transaction, so ids are gap-free and in commit order.
    Column("id", Id, primary_key=True, autoincrement=False),
    Column("type", String(64), nullable=False),
    Column("at", Timestamp, nullable=False),                 # sandbox time of the change
    Column("data", Text, nullable=False),                    # JSON snapshot of the object, bounded
    Column("customer", String(120)),                         # whose event it is, for a customer key
    Column("merchant", String(64)),                          # the merchant of a purchase, for a merchant key
    Column("request_id", String(64)),                        # the HTTP request that caused it, if any
    Column("idempotency_key", String(255)),                  # and its Idempotency-Key
)
Index("ix_sandbox_events_type", events.c.type, events.c.id)
Index("ix_sandbox_events_customer", events.c.customer, events.c.id)
Index("ix_sandbox_events_merchant", events.c.merchant, events.c.id)

# One row (id=1) on every database: the last event id handed out. PostgreSQL's writers take it with an
# UPDATE in the same statement as their INSERT, which orders them by commit (SQLite does not use it).
event_head = Table(
    "sandbox_event_head", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("last_id", BigInteger, nullable=False),
)
