"""sandbox: the city's shared state (clock, set-up marker, licences, customer profiles)

So several processes over one database behave as one city: the sandbox clock, licence states
and customer profiles live in tables instead of each process's memory.

Revision ID: sandbox_0002
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Timestamp

revision = "sandbox_0002"
down_revision = "sandbox_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sandbox_audit_log_action", "sandbox_audit_log", ["action", "seq"])
    op.create_table(
        "sandbox_city",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("now", Timestamp, nullable=False),
        sa.Column("licences_version", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "sandbox_licences",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("participant", sa.String(120), nullable=False),
        sa.Column("regulator", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(40), nullable=False),
        sa.Column("valid_from", Timestamp, nullable=False),
        sa.Column("valid_until", Timestamp, nullable=False),
        sa.Column("renewable", sa.Boolean, nullable=False),
        sa.Column("suspended_at", Timestamp),
        sa.Column("suspension_reason", sa.String(300)),
    )
    op.create_table(
        "sandbox_customers",
        sa.Column("actor", sa.String(120), primary_key=True),
        sa.Column("kyc_tier", sa.String(16), nullable=False),
        sa.Column("resident", sa.Boolean, nullable=False),
        sa.Column("residency_basis", sa.String(300), nullable=False),
        sa.Column("aifc_investor", sa.Boolean, nullable=False),
        sa.Column("days_in_kazakhstan", sa.Integer),
        sa.Column("arrived_on", sa.Date),
        sa.Column("card_id", sa.BigInteger, nullable=False),
        sa.Column("bank_ledger_account_id", sa.BigInteger, nullable=False),
        sa.Column("iban", sa.String(34), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sandbox_customers")
    op.drop_table("sandbox_licences")
    op.drop_table("sandbox_city")
    op.drop_index("ix_sandbox_audit_log_action", table_name="sandbox_audit_log")
