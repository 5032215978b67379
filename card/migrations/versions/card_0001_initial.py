"""card: bank accounts, cards, merchants, authorizations, funding legs, events

Revision ID: card_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Timestamp

revision = "card_0001"
down_revision = None
branch_labels = ("card",)
depends_on = "ledger_0001"

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_bank_accounts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.String(120), nullable=False, unique=True),
        sa.Column("iban", sa.String(34), nullable=False, unique=True),
        sa.Column("ledger_account_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "card_cards",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("pan", sa.String(19), nullable=False, unique=True),
        sa.Column("expiry_month", sa.SmallInteger, nullable=False),
        sa.Column("expiry_year", sa.SmallInteger, nullable=False),
        sa.Column("cvv_salt", sa.String(64), nullable=False),
        sa.Column("cvv_hash", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cardholder_id", sa.String(120), nullable=False),
        sa.Column("bank_account_id", sa.BigInteger, nullable=False),
        sa.Column("wallet_owner", sa.String(120), nullable=False),
        sa.Column("funding", sa.JSON, nullable=False),
        sa.Column("controls", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_card_cards_cardholder_id", "card_cards", ["cardholder_id"])
    op.create_table(
        "card_card_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("card_id", sa.BigInteger, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
    )
    op.create_index("ix_card_card_events_card_id", "card_card_events", ["card_id"])
    op.create_table(
        "card_merchants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("mcc", sa.String(4), nullable=False),
        sa.Column("in_zone", sa.Boolean, nullable=False),
        sa.Column("settlement_account_id", sa.BigInteger, nullable=False),
        sa.Column("mdr_bps", sa.Integer, nullable=False),
    )
    op.create_table(
        "card_authorizations",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("card_id", sa.BigInteger, nullable=True),
        sa.Column("cardholder_id", sa.String(120), nullable=True),
        sa.Column("merchant_id", sa.String(64), nullable=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("response_code", sa.String(2), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("auth_code", sa.String(6), nullable=True),
        sa.Column("hold_id", sa.BigInteger, nullable=True),
        sa.Column("shortfall_minor", sa.BigInteger, nullable=False),
        sa.Column("conversion_fee_minor", sa.BigInteger, nullable=False),
        sa.Column("captured_minor", sa.BigInteger, nullable=False),
        sa.Column("reversed_minor", sa.BigInteger, nullable=False),
        sa.Column("refunded_minor", sa.BigInteger, nullable=False),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_card_authorizations_card_id", "card_authorizations", ["card_id"])
    op.create_index("ix_card_authorizations_cardholder_id", "card_authorizations", ["cardholder_id"])
    op.create_index("ix_card_authorizations_created_at", "card_authorizations", ["created_at"])
    op.create_index("ix_card_authorizations_card_time", "card_authorizations", ["card_id", "created_at"])
    op.create_table(
        "card_funding_legs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("authorization_id", sa.BigInteger, nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("sold_qty_minor", sa.BigInteger, nullable=False),
        sa.Column("proceeds_minor", sa.BigInteger, nullable=False),
        sa.Column("avg_price", sa.String(40), nullable=False),
        sa.Column("fee_minor", sa.BigInteger, nullable=False),
        sa.Column("slippage_bps", sa.Integer, nullable=False),
    )
    op.create_index("ix_card_funding_legs_authorization_id", "card_funding_legs", ["authorization_id"])
    op.create_table(
        "card_auth_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("authorization_id", sa.BigInteger, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("key", sa.String(255), nullable=True, unique=True),
        sa.Column("note", sa.String(300), nullable=False),
    )
    op.create_index("ix_card_auth_events_authorization_id", "card_auth_events", ["authorization_id"])
    op.create_table(
        "card_usage",
        sa.Column("card_id", sa.BigInteger, primary_key=True),
        sa.Column("period", sa.String(12), primary_key=True),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for name in ("card_usage", "card_auth_events", "card_funding_legs", "card_authorizations", "card_merchants",
                 "card_card_events", "card_cards", "card_bank_accounts"):
        op.drop_table(name)
