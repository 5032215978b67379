"""The ledger's tables (SQLAlchemy Core). The migration in migrations/versions creates them."""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, CheckConstraint, Column, ForeignKey, Index, MetaData,
                        SmallInteger, String, Table, Text)

from .types import Id, Timestamp

metadata = MetaData()

assets = Table(
    "ledger_assets", metadata,
    Column("code", String(16), primary_key=True),
    Column("decimals", SmallInteger, nullable=False),
    Column("name", String(64), nullable=False, default=""),
)

accounts = Table(
    "ledger_accounts", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("code", String(200), nullable=False, unique=True),
    Column("owner", String(120), nullable=False),
    Column("asset", String(16), ForeignKey("ledger_assets.code"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("allow_negative", Boolean, nullable=False, default=False),
    Column("balance_minor", BigInteger, nullable=False, default=0),
    Column("held_minor", BigInteger, nullable=False, default=0),
    Column("created_at", Timestamp, nullable=False),
    # The database itself refuses an overdraft, whatever the interleaving of writers.
    CheckConstraint("allow_negative OR balance_minor - held_minor >= 0", name="ck_ledger_accounts_no_overdraft"),
    CheckConstraint("held_minor >= 0", name="ck_ledger_accounts_held_nonneg"),
)
Index("ix_ledger_accounts_owner", accounts.c.owner)

transfers = Table(
    "ledger_transfers", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("idempotency_key", String(255), unique=True),
    Column("request_hash", String(64)),
    Column("kind", String(40), nullable=False, default="transfer"),
    Column("memo", String(500), nullable=False, default=""),
    Column("hold_id", BigInteger),
    Column("created_at", Timestamp, nullable=False),
)

entries = Table(
    "ledger_entries", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transfer_id", BigInteger, ForeignKey("ledger_transfers.id"), nullable=False),
    Column("account_id", BigInteger, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)
Index("ix_ledger_entries_account", entries.c.account_id, entries.c.id)
Index("ix_ledger_entries_transfer", entries.c.transfer_id)

holds = Table(
    "ledger_holds", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("asset", String(16), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("remaining_minor", BigInteger, nullable=False),
    Column("posted_minor", BigInteger, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(255), unique=True),
    Column("request_hash", String(64)),
    Column("memo", String(500), nullable=False, default=""),
    Column("created_at", Timestamp, nullable=False),
    Column("expires_at", Timestamp),
    Column("resolved_at", Timestamp),
    CheckConstraint("remaining_minor >= 0", name="ck_ledger_holds_remaining_nonneg"),
)
Index("ix_ledger_holds_pending", holds.c.status, holds.c.expires_at)
Index("ix_ledger_holds_account", holds.c.account_id, holds.c.status)

hold_events = Table(
    # Every change of a hold's remaining amount, so "held as of t" is exact after later posts and voids.
    "ledger_hold_events", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("hold_id", BigInteger, ForeignKey("ledger_holds.id"), nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("delta_minor", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)
Index("ix_ledger_hold_events_account", hold_events.c.account_id, hold_events.c.created_at)

idempotency = Table(
    "ledger_idempotency", metadata,
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text),
    Column("created_at", Timestamp, nullable=False),
)
