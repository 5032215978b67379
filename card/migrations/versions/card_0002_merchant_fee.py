"""card: remember the merchant fee (MDR) taken at clearing, so a refund can return its share;
drop an index that another covers

The fee is read back from the authorization rather than recomputed from the merchant's rate,
which may have changed between clearing and the refund. ``ix_card_authorizations_card_id`` is a
prefix of ``ix_card_authorizations_card_time``: it only cost every authorization a page write.

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
    op.drop_index("ix_card_authorizations_card_id", table_name="card_authorizations")


def downgrade() -> None:
    op.create_index("ix_card_authorizations_card_id", "card_authorizations", ["card_id"])
    op.drop_column("card_authorizations", "merchant_fee_minor")
