"""sandbox web: hashed API keys per role

Revision ID: sandbox_web_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "sandbox_web_0001"
down_revision = None
branch_labels = ("sandbox_web",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "sandbox_api_keys",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(120)),
        sa.Column("label", sa.String(120), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp),
    )
    op.create_index("ix_sandbox_api_keys_role", "sandbox_api_keys", ["role"])


def downgrade() -> None:
    op.drop_table("sandbox_api_keys")
