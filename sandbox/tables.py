"""The sandbox's own tables (its MetaData; migrations sandbox_0001 to sandbox_0004)."""
from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, Integer, MetaData, String, Table, Text

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

# Index for the facade's replays by action (clock advances, onboardings, tax events); migration sandbox_0002.
Index("ix_sandbox_audit_log_action", audit_log.c.action, audit_log.c.seq)

# One row (id=1) per database: the city itself. Its presence is the "set up once" marker; ``now`` is the
# sandbox clock every process reads; ``licences_version`` grows with every licence change so a process
# knows when its cached licence states are stale. Migration sandbox_0002.
city_state = Table(
    "sandbox_city", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("created_at", Timestamp, nullable=False),          # sandbox time when the city was set up
    Column("now", Timestamp, nullable=False),                 # sandbox time now; never moves backwards
    Column("licences_version", BigInteger, nullable=False),
    # The zone whose calendar the card's spend counters were counted in (NULL: UTC, before the
    # setting existed). Migration sandbox_0003.
    Column("timezone", String(64)),
)

# Licence states: seeded from the configuration once, then changed by suspensions, reinstatements, renewals.
licences = Table(
    "sandbox_licences", metadata,
    Column("id", String(64), primary_key=True),
    Column("participant", String(120), nullable=False),
    Column("regulator", String(64), nullable=False),
    Column("scope", String(40), nullable=False),
    Column("valid_from", Timestamp, nullable=False),
    Column("valid_until", Timestamp, nullable=False),
    Column("renewable", Boolean, nullable=False),
    Column("suspended_at", Timestamp),
    Column("suspension_reason", String(300)),
)

# Customer profiles (the audit log keeps the onboarding entry too): what the rules and the tax
# statement need, readable by any process.
customers = Table(
    "sandbox_customers", metadata,
    Column("actor", String(120), primary_key=True),
    Column("kyc_tier", String(16), nullable=False),
    Column("resident", Boolean, nullable=False),
    Column("residency_basis", String(300), nullable=False),   # which rule made them resident or not
    Column("aifc_investor", Boolean, nullable=False),
    Column("days_in_kazakhstan", Integer),                    # presence days declared at onboarding, if any
    Column("arrived_on", Date),                               # first of those days (onboarding date - days)
    Column("card_id", BigInteger, nullable=False),
    Column("bank_ledger_account_id", BigInteger, nullable=False),
    Column("iban", String(34), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("full_name", String(200)),                         # as given at onboarding, if any; sandbox_0004
)
