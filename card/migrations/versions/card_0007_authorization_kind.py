"""card: an authorization's kind — purchase, atm_withdrawal, p2p, force_post or unlinked_refund

Rows written before this revision were all purchases.

Revision ID: card_0007
"""
import sqlalchemy as sa
from alembic import op

revision = "card_0007"
down_revision = "card_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("card_authorizations", sa.Column("kind", sa.String(16), nullable=False,
                                                   server_default="purchase"))


def downgrade() -> None:
    with op.batch_alter_table("card_authorizations") as batch:
        batch.drop_column("kind")
