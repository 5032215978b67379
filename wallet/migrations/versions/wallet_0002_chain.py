"""wallet: the Bitcoin regtest chain in the database (chain tip, blocks, transactions, outputs)

Revision ID: wallet_0002_chain
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Timestamp

revision = "wallet_0002_chain"
down_revision = "wallet_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_btc_chain",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("seed", sa.String(64), nullable=False),
        sa.Column("tip_height", sa.BigInteger, nullable=False),
        sa.Column("tip_hash", sa.String(64), nullable=False),
        sa.Column("faucet_count", sa.BigInteger, nullable=False),
        sa.Column("tx_count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "wallet_btc_blocks",
        sa.Column("height", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("time", Timestamp, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
    )
    op.create_table(
        "wallet_btc_transactions",
        sa.Column("txid", sa.String(64), primary_key=True),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("block_height", sa.BigInteger),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("fee_sat", sa.BigInteger, nullable=False),
        sa.Column("coinbase", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_wallet_btc_transactions_block", "wallet_btc_transactions", ["block_height", "position"])
    op.create_table(
        "wallet_btc_outputs",
        sa.Column("txid", sa.String(64), nullable=False),
        sa.Column("vout", sa.Integer, nullable=False),
        sa.Column("amount_sat", sa.BigInteger, nullable=False),
        sa.Column("script", sa.String(200), nullable=False),
        sa.Column("address", sa.String(100)),
        sa.Column("spent_by", sa.String(64)),
        sa.PrimaryKeyConstraint("txid", "vout", name="pk_wallet_btc_outputs"),
    )
    op.create_index("ix_wallet_btc_outputs_address", "wallet_btc_outputs", ["address", "spent_by"])


def downgrade() -> None:
    op.drop_index("ix_wallet_btc_outputs_address", table_name="wallet_btc_outputs")
    op.drop_table("wallet_btc_outputs")
    op.drop_index("ix_wallet_btc_transactions_block", table_name="wallet_btc_transactions")
    op.drop_table("wallet_btc_transactions")
    op.drop_table("wallet_btc_blocks")
    op.drop_table("wallet_btc_chain")
