"""sandbox webhooks: endpoints, deliveries and their attempts

Revision ID: sandbox_webhooks_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Id, Timestamp

revision = "sandbox_webhooks_0001"
down_revision = None
branch_labels = ("sandbox_webhooks",)
depends_on = "ledger_0001"


def upgrade() -> None:
    op.create_table(
        "sandbox_webhook_endpoints",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", sa.Text, nullable=False),
        sa.Column("description", sa.String(300), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("disabled_reason", sa.String(300)),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("event_cursor", sa.String(64)),
        sa.Column("wake_at", Timestamp),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", Timestamp),
    )
    op.create_index("ix_sandbox_webhook_endpoints_status", "sandbox_webhook_endpoints", ["status", "id"])
    op.create_table(
        "sandbox_webhook_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", Id, nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(80), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("finished_at", Timestamp),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(300)),
        sa.Column("resend_of", Id),
    )
    op.create_index("ix_sandbox_webhook_deliveries_queue", "sandbox_webhook_deliveries",
                    ["endpoint_id", "status", "id"])
    op.create_table(
        "sandbox_webhook_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", Id, nullable=False),
        sa.Column("endpoint_id", Id, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("started_at", Timestamp, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.String(300)),
        sa.Column("dispatcher", sa.String(64), nullable=False),
    )
    op.create_index("ix_sandbox_webhook_attempts_delivery", "sandbox_webhook_attempts", ["delivery_id", "id"])
    op.create_index("ix_sandbox_webhook_attempts_endpoint", "sandbox_webhook_attempts", ["endpoint_id", "id"])


def downgrade() -> None:
    op.drop_table("sandbox_webhook_attempts")
    op.drop_table("sandbox_webhook_deliveries")
    op.drop_table("sandbox_webhook_endpoints")
