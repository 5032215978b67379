"""The stablecoin's own table: one row per mint or redemption, tying the ledger transfer to the chain tx."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table

from ledger.types import Id, Timestamp

metadata = MetaData()

operations = Table(
    "stablecoin_operations", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),            # mint | redeem
    Column("owner", String(120), nullable=False),
    Column("address", String(42), nullable=False),          # where the tokens were minted to / burnt from
    Column("amount_minor", BigInteger, nullable=False),
    Column("transfer_id", BigInteger, nullable=False),      # the ledger transfer recorded with it
    Column("tx_hash", String(66), nullable=False),           # the chain tx that minted or burnt
    Column("key", String(255), nullable=True, unique=True),
    Column("created_at", Timestamp, nullable=False),
)
Index("ix_stablecoin_operations_owner", operations.c.owner)
