"""sandbox: the time zone the card's spend counters are kept in (sandbox.timezone)

NULL on a city set up before the setting existed: its counters were kept in UTC days and months.

Revision ID: sandbox_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "sandbox_0003"
down_revision = "sandbox_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sandbox_city", sa.Column("timezone", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_city") as batch:
        batch.drop_column("timezone")
