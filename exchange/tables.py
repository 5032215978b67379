"""The exchange's tables (SQLAlchemy Core). Schema changes go through exchange/migrations."""
from __future__ import annotations

import sqlalchemy as sa

from ledger.types import Id, Timestamp

metadata = sa.MetaData()

# One row per instrument: ``seq`` grows with every write to its book; an in-memory book built at an
# older seq is stale and is rebuilt before use.
books = sa.Table(
    "exchange_books", metadata,
    sa.Column("symbol", sa.String(32), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("next_priority", sa.BigInteger, nullable=False),
)

orders = sa.Table(
    "exchange_orders", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("owner", sa.String(120), nullable=False),
    sa.Column("side", sa.String(4), nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("tif", sa.String(3), nullable=False),
    sa.Column("post_only", sa.Boolean, nullable=False),
    sa.Column("price_minor", sa.BigInteger),        # quote minor per whole base unit; NULL for market
    sa.Column("qty_minor", sa.BigInteger, nullable=False),
    sa.Column("remaining_minor", sa.BigInteger, nullable=False),
    sa.Column("filled_minor", sa.BigInteger, nullable=False),
    sa.Column("quote_filled_minor", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),   # open, filled, cancelled, expired
    sa.Column("reason", sa.String(40)),
    sa.Column("priority", sa.BigInteger, nullable=False),  # time priority among resting orders
    sa.Column("hold_id", sa.BigInteger),
    sa.Column("hold_left_minor", sa.BigInteger, nullable=False),
    sa.Column("client_order_id", sa.String(64)),
    sa.Column("client_request_hash", sa.String(64)),   # sha256 of the order as asked with client_order_id
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)
sa.Index("ix_exchange_orders_open", orders.c.symbol, orders.c.status)
sa.Index("ix_exchange_orders_owner", orders.c.owner, orders.c.id)
sa.Index("ux_exchange_orders_client", orders.c.owner, orders.c.client_order_id, unique=True)

trades = sa.Table(
    "exchange_trades", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(32), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("price_minor", sa.BigInteger, nullable=False),   # quote minor per whole base unit
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
sa.Index("ix_exchange_trades_symbol", trades.c.symbol, trades.c.id)
sa.Index("ix_exchange_trades_time", trades.c.symbol, trades.c.created_at)
sa.Index("ix_exchange_trades_taker", trades.c.taker_order_id)
sa.Index("ix_exchange_trades_maker", trades.c.maker_order_id)
