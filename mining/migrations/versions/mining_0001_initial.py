"""mining: farms, meter readings, levies, rewards, sales, grid readings, cases, flags

Revision ID: mining_0001
"""
from alembic import op

revision = "mining_0001"
down_revision = None
branch_labels = ("mining",)
depends_on = "ledger_0001"


def upgrade() -> None:
    # The tables as mining/tables.py declares them (this is the first revision: they are the same).
    from mining.tables import metadata
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    from mining.tables import metadata
    metadata.drop_all(op.get_bind())
