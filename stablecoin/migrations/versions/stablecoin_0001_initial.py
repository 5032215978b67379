"""stablecoin: mint and redemption records

Revision ID: stablecoin_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "stablecoin_0001"
down_revision = None
branch_labels = ("stablecoin",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "stablecoin_operations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("transfer_id", sa.BigInteger, nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("key", sa.String(255), nullable=True, unique=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_stablecoin_operations_owner", "stablecoin_operations", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_stablecoin_operations_owner", "stablecoin_operations")
    op.drop_table("stablecoin_operations")
