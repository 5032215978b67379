"""wallet: addresses, deposits, scan cursors, withdrawals, whitelist, blocklist

Revision ID: wallet_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "wallet_0001"
down_revision = None
branch_labels = ("wallet",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "wallet_addresses",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("derivation_index", sa.Integer, nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.UniqueConstraint("chain", "address", name="uq_wallet_addresses_address"),
        sa.UniqueConstraint("chain", "role", "derivation_index", name="uq_wallet_addresses_path"),
        sa.UniqueConstraint("chain", "role", "owner", name="uq_wallet_addresses_owner"),
    )
    op.create_table(
        "wallet_deposits",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("txid", sa.String(80), nullable=False),
        sa.Column("output_index", sa.Integer, nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("amount_raw", sa.String(80), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("block_height", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("transfer_id", sa.BigInteger),
        sa.Column("seen_at", Timestamp, nullable=False),
        sa.Column("credited_at", Timestamp),
        sa.UniqueConstraint("chain", "txid", "output_index", name="uq_wallet_deposits_output"),
    )
    op.create_index("ix_wallet_deposits_status", "wallet_deposits", ["status", "chain"])
    op.create_table(
        "wallet_scan_cursors",
        sa.Column("scanner", sa.String(40), primary_key=True),
        sa.Column("next_height", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "wallet_withdrawals",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("chain", sa.String(16), nullable=False),
        sa.Column("address", sa.String(100), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("fee_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("txid", sa.String(80)),
        sa.Column("hold_id", sa.BigInteger),
        sa.Column("travel_rule", sa.Text),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_wallet_withdrawals_status", "wallet_withdrawals", ["status", "id"])
    op.create_table(
        "wallet_whitelist",
        sa.Column("owner", sa.String(120), primary_key=True),
        sa.Column("chain", sa.String(16), primary_key=True),
        sa.Column("address", sa.String(100), primary_key=True),
    )
    op.create_table(
        "wallet_blocklist",
        sa.Column("chain", sa.String(16), primary_key=True),
        sa.Column("address", sa.String(100), primary_key=True),
        sa.Column("reason", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for name in ("wallet_blocklist", "wallet_whitelist", "wallet_withdrawals", "wallet_scan_cursors",
                 "wallet_deposits", "wallet_addresses"):
        op.drop_table(name)
