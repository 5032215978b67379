"""sandbox incidents: what a workshop host set off (price crash, licence suspended, KZTE address frozen, AML
alert wave, decision gateway down, chain halt), and whether it is over

Its own branch (``sandbox_incidents``), so it can land beside the sandbox branch's own revisions.

Revision ID: sandbox_incidents_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "sandbox_incidents_0001"
down_revision = None
branch_labels = ("sandbox_incidents",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "sandbox_incidents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("started_by", sa.String(64), nullable=False),
        sa.Column("resolved_at", Timestamp),
        sa.Column("outcome", sa.Text, nullable=False),
    )
    op.create_index("ix_sandbox_incidents_kind_open", "sandbox_incidents", ["kind", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_incidents_kind_open", "sandbox_incidents")
    op.drop_table("sandbox_incidents")
