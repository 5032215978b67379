"""card: what an authorization row records — ``kind``: ``purchase`` (authorized, then cleared),
``force_post`` (a clearing that came without an authorization) or ``unlinked_refund`` (a merchant's
refund with no original purchase)

Rows written before this revision are all purchases.

Revision ID: card_0008
"""
import sqlalchemy as sa
from alembic import op

revision = "card_0008"
down_revision = "card_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("card_authorizations",
                  sa.Column("kind", sa.String(16), nullable=False, server_default="purchase"))


def downgrade() -> None:
    with op.batch_alter_table("card_authorizations") as batch:
        batch.drop_column("kind")
