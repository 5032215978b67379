"""sandbox decision gateway: decision URLs set at runtime, per programme and per card

Revision ID: sandbox_gateway_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Timestamp

revision = "sandbox_gateway_0001"
down_revision = None
branch_labels = ("sandbox_gateway",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "sandbox_decision_endpoints",
        sa.Column("scope", sa.String(40), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("deadline_ms", sa.Integer),
        sa.Column("stand_in", sa.String(32)),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sandbox_decision_endpoints")
