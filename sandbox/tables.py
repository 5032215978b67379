"""The sandbox's own tables (its MetaData; migration sandbox_0001)."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text

from ledger.types import Id, Timestamp

metadata = MetaData()

audit_log = Table(
    "sandbox_audit_log", metadata,
    Column("seq", Id, primary_key=True, autoincrement=False),   # 1, 2, 3, ... with no gaps
    Column("at", Timestamp, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("action", String(80), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("details", Text, nullable=False),                    # canonical JSON
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id=1): the chain head, so deleting the newest entries is detected too.
audit_head = Table(
    "sandbox_audit_head", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
