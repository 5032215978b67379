"""card: remember the merchant fee (MDR) taken at clearing, so a refund can return its share

The fee is read back from the authorization rather than recomputed from the merchant's rate,
which may have changed between clearing and the refund.

Revision ID: card_0002
"""
import sqlalchemy as sa
from alembic import op

revision = "card_0002"
down_revision = "card_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("card_authorizations",
                  sa.Column("merchant_fee_minor", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("card_authorizations", "merchant_fee_minor")
