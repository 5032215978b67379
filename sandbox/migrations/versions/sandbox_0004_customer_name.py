"""sandbox: a customer's full name (sandbox_customers.full_name)

NULL for a customer onboarded without one (an actor id is enough to open an account); the population
generator and the dashboard use it to show people by name.

Revision ID: sandbox_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "sandbox_0004"
down_revision = "sandbox_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sandbox_customers", sa.Column("full_name", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandbox_customers") as batch:
        batch.drop_column("full_name")
