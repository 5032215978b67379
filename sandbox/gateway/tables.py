"""The decision gateway's table (its MetaData; migration sandbox_gateway_0001).

A decision URL set at runtime lives here, not in a process's memory: any process may serve any
purchase, and each must ask the same app with the same secret.
"""
from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table

from ledger.types import Timestamp

metadata = MetaData()

decision_endpoints = Table(
    "sandbox_decision_endpoints", metadata,
    # "programme" (the card programme's app) or "card:<id>" (one card's own app, overriding it)
    Column("scope", String(40), primary_key=True),
    Column("url", String(2000), nullable=False),
    # The signing secret (whsec_...): shown only in the answer that set the URL.
    Column("secret", String(100), nullable=False),
    Column("deadline_ms", Integer),        # NULL: the programme's decision_deadline_ms
    Column("stand_in", String(32)),        # NULL: the programme's stand_in
    Column("created_at", Timestamp, nullable=False),   # sandbox time
)
