"""The webhooks' own tables (their MetaData; migration sandbox_webhooks_0001).

Every time here is WALL-CLOCK time (an aware UTC datetime stored as BIGINT microseconds): deliveries
are real HTTP requests to a real app, retried on a real schedule, and the Standard Webhooks timestamp a
receiver checks is the wall clock. The events they carry keep their sandbox time in the payload.
"""
from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

from ledger.types import Id, Timestamp

metadata = MetaData()

endpoints = Table(
    "sandbox_webhook_endpoints", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", String(2000), nullable=False),
    Column("events", Text, nullable=False),                  # JSON list of types, "prefix.*" or "*"
    Column("description", String(300), nullable=False),
    # The signing secret (whsec_...): kept in the database so that any dispatcher process can sign; the
    # API shows it only in the response that created the endpoint.
    Column("secret", String(100), nullable=False),
    Column("status", String(16), nullable=False),            # enabled, disabled, deleted
    Column("disabled_reason", String(300)),
    Column("created_at", Timestamp, nullable=False),
    # The last event id this endpoint has been given deliveries for (the fan-out cursor; NULL: none yet).
    Column("event_cursor", String(64)),
    # When the endpoint next has a delivery due (NULL: idle until a new event arrives).
    Column("wake_at", Timestamp),
    # The lease: which dispatcher delivers to this endpoint until when (one at a time, so in order).
    Column("lease_owner", String(64)),
    Column("lease_until", Timestamp),
)
Index("ix_sandbox_webhook_endpoints_status", endpoints.c.status, endpoints.c.id)

deliveries = Table(
    "sandbox_webhook_deliveries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("endpoint_id", Id, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(80), nullable=False),
    Column("payload", Text, nullable=False),                 # the JSON body, signed as is on every attempt
    Column("status", String(16), nullable=False),            # pending, succeeded, failed, cancelled
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Timestamp, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
    Column("last_status_code", Integer),
    Column("last_error", String(300)),
    Column("resend_of", Id),                                 # a manual resend: the delivery it repeats
)
Index("ix_sandbox_webhook_deliveries_queue", deliveries.c.endpoint_id, deliveries.c.status, deliveries.c.id)

attempts = Table(
    "sandbox_webhook_attempts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("delivery_id", Id, nullable=False),
    Column("endpoint_id", Id, nullable=False),
    Column("number", Integer, nullable=False),               # 1, 2, ... per delivery
    Column("started_at", Timestamp, nullable=False),
    Column("status_code", Integer),                          # NULL: no HTTP answer (refused, timed out)
    Column("latency_ms", Integer, nullable=False),
    Column("error", String(300)),
    Column("dispatcher", String(64), nullable=False),
)
Index("ix_sandbox_webhook_attempts_delivery", attempts.c.delivery_id, attempts.c.id)
Index("ix_sandbox_webhook_attempts_endpoint", attempts.c.endpoint_id, attempts.c.id)
