"""exchange: books (sequence numbers), orders, trades

Revision ID: exchange_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "exchange_0001"
down_revision = None
branch_labels = ("exchange",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "exchange_books",
        sa.Column("symbol", sa.String(32), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("next_priority", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "exchange_orders",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("tif", sa.String(3), nullable=False),
        sa.Column("post_only", sa.Boolean, nullable=False),
        sa.Column("price", sa.BigInteger),
        sa.Column("qty_minor", sa.BigInteger, nullable=False),
        sa.Column("remaining_minor", sa.BigInteger, nullable=False),
        sa.Column("filled_minor", sa.BigInteger, nullable=False),
        sa.Column("quote_filled_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("priority", sa.BigInteger, nullable=False),
        sa.Column("hold_id", sa.BigInteger),
        sa.Column("hold_left_minor", sa.BigInteger, nullable=False),
        sa.Column("client_order_id", sa.String(64)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_exchange_orders_open", "exchange_orders", ["symbol", "status"])
    op.create_index("ix_exchange_orders_owner", "exchange_orders", ["owner", "id"])
    op.create_index("ux_exchange_orders_client", "exchange_orders", ["owner", "client_order_id"], unique=True)
    op.create_table(
        "exchange_trades",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("qty_minor", sa.BigInteger, nullable=False),
        sa.Column("notional_minor", sa.BigInteger, nullable=False),
        sa.Column("taker_side", sa.String(4), nullable=False),
        sa.Column("maker_order_id", sa.BigInteger, nullable=False),
        sa.Column("taker_order_id", sa.BigInteger, nullable=False),
        sa.Column("buyer", sa.String(120), nullable=False),
        sa.Column("seller", sa.String(120), nullable=False),
        sa.Column("buyer_fee_minor", sa.BigInteger, nullable=False),
        sa.Column("seller_fee_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_exchange_trades_symbol", "exchange_trades", ["symbol", "id"])
    op.create_index("ix_exchange_trades_time", "exchange_trades", ["symbol", "created_at"])


def downgrade() -> None:
    op.drop_table("exchange_trades")
    op.drop_table("exchange_orders")
    op.drop_table("exchange_books")
