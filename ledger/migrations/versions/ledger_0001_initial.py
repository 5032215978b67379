"""ledger: assets, accounts, transfers, entries, holds, idempotency

Revision ID: ledger_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "ledger_0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_assets",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("decimals", sa.SmallInteger, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(200), nullable=False, unique=True),
        sa.Column("owner", sa.String(120), nullable=False),
        sa.Column("asset", sa.String(16), sa.ForeignKey("ledger_assets.code"), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("allow_negative", sa.Boolean, nullable=False),
        sa.Column("balance_minor", sa.BigInteger, nullable=False),
        sa.Column("held_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.CheckConstraint("allow_negative OR balance_minor - held_minor >= 0",
                           name="ck_ledger_accounts_no_overdraft"),
        sa.CheckConstraint("held_minor >= 0", name="ck_ledger_accounts_held_nonneg"),
    )
    op.create_index("ix_ledger_accounts_owner", "ledger_accounts", ["owner"])
    op.create_table(
        "ledger_transfers",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(255), unique=True),
        sa.Column("request_hash", sa.String(64)),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("memo", sa.String(500), nullable=False),
        sa.Column("hold_id", sa.BigInteger),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("transfer_id", sa.BigInteger, sa.ForeignKey("ledger_transfers.id"), nullable=False),
        sa.Column("account_id", sa.BigInteger, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_ledger_entries_account", "ledger_entries", ["account_id", "id"])
    op.create_index("ix_ledger_entries_transfer", "ledger_entries", ["transfer_id"])
    op.create_table(
        "ledger_holds",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.BigInteger, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        sa.Column("asset", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("remaining_minor", sa.BigInteger, nullable=False),
        sa.Column("posted_minor", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(255), unique=True),
        sa.Column("request_hash", sa.String(64)),
        sa.Column("memo", sa.String(500), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp),
        sa.Column("resolved_at", Timestamp),
        sa.CheckConstraint("remaining_minor >= 0", name="ck_ledger_holds_remaining_nonneg"),
    )
    op.create_index("ix_ledger_holds_pending", "ledger_holds", ["status", "expires_at"])
    op.create_index("ix_ledger_holds_account", "ledger_holds", ["account_id", "status"])
    op.create_table(
        "ledger_hold_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("hold_id", sa.BigInteger, sa.ForeignKey("ledger_holds.id"), nullable=False),
        sa.Column("account_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("delta_minor", sa.BigInteger, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index("ix_ledger_hold_events_account", "ledger_hold_events", ["account_id", "created_at"])
    op.create_table(
        "ledger_idempotency",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", sa.Text),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    for name in ("ledger_idempotency", "ledger_hold_events", "ledger_holds", "ledger_entries", "ledger_transfers",
                 "ledger_accounts", "ledger_assets"):
        op.drop_table(name)
