"""sandbox: hash-chained audit log

Revision ID: sandbox_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "sandbox_0001"
down_revision = None
branch_labels = ("sandbox",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "sandbox_audit_log",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "sandbox_audit_head",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sandbox_audit_head")
    op.drop_table("sandbox_audit_log")
