"""exchange: an order's limit price and a trade's price say their unit — ``price_minor``

Both were already integers in quote minor units per whole base unit; only the name changes.

Revision ID: exchange_0003
"""
from alembic import op

revision = "exchange_0003"
down_revision = "exchange_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # RENAME COLUMN: PostgreSQL, and SQLite since 3.25, rename in place (no table copy)
    op.execute("ALTER TABLE exchange_orders RENAME COLUMN price TO price_minor")
    op.execute("ALTER TABLE exchange_trades RENAME COLUMN price TO price_minor")


def downgrade() -> None:
    op.execute("ALTER TABLE exchange_trades RENAME COLUMN price_minor TO price")
    op.execute("ALTER TABLE exchange_orders RENAME COLUMN price_minor TO price")
