"""wallet: the contracts deployed once on a shared EVM node (KZTE, test USDT), found by every process

Revision ID: wallet_0003
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Timestamp

revision = "wallet_0003"
down_revision = "wallet_0002_chain"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_evm_contracts",
        sa.Column("chain_id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("deployed_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("wallet_evm_contracts")
