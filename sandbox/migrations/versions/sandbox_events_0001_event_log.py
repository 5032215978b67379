"""sandbox events: the event log (a transactional outbox) and its id head

Its own branch (``sandbox_events``), so it can land beside the sandbox branch's own revisions.

Revision ID: sandbox_events_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "sandbox_events_0001"
down_revision = None
branch_labels = ("sandbox_events",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "sandbox_events",
        sa.Column("id", Id, primary_key=True, autoincrement=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("customer", sa.String(120)),
        sa.Column("merchant", sa.String(64)),
        sa.Column("request_id", sa.String(64)),
        sa.Column("idempotency_key", sa.String(255)),
    )
    op.create_index("ix_sandbox_events_type", "sandbox_events", ["type", "id"])
    op.create_index("ix_sandbox_events_customer", "sandbox_events", ["customer", "id"])
    op.create_index("ix_sandbox_events_merchant", "sandbox_events", ["merchant", "id"])
    head = op.create_table(
        "sandbox_event_head",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0}])


def downgrade() -> None:
    op.drop_table("sandbox_event_head")
    op.drop_index("ix_sandbox_events_merchant", "sandbox_events")
    op.drop_index("ix_sandbox_events_customer", "sandbox_events")
    op.drop_index("ix_sandbox_events_type", "sandbox_events")
    op.drop_table("sandbox_events")
