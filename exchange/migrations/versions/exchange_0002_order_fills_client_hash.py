"""exchange: an order's fills are found by order id (as taker and as maker); a client_order_id remembers
the order it was first used for

``Exchange.order`` lists the fills an order made while resting as well as those it took, so trades are
indexed by both order ids. ``client_request_hash`` lets a reused ``client_order_id`` be told apart: the same
order is a replay, a different one is refused (``idempotency_conflict``). Rows from before keep NULL and
replay as before.

Revision ID: exchange_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "exchange_0002"
down_revision = "exchange_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("exchange_orders", sa.Column("client_request_hash", sa.String(64)))
    op.create_index("ix_exchange_trades_taker", "exchange_trades", ["taker_order_id"])
    op.create_index("ix_exchange_trades_maker", "exchange_trades", ["maker_order_id"])


def downgrade() -> None:
    op.drop_index("ix_exchange_trades_maker", table_name="exchange_trades")
    op.drop_index("ix_exchange_trades_taker", table_name="exchange_trades")
    op.drop_column("exchange_orders", "client_request_hash")
