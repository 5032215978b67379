"""card: how a decision app decided an authorization (``decision``) and the amount asked for (``requested_minor``)

Both are NULL on rows written before this revision and on authorizations no app was asked about and
approved in full.

Revision ID: card_0006
"""
import sqlalchemy as sa
from alembic import op

revision = "card_0006"
down_revision = "card_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("card_authorizations", sa.Column("decision", sa.String(32), nullable=True))
    op.add_column("card_authorizations", sa.Column("requested_minor", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("card_authorizations") as batch:
        batch.drop_column("requested_minor")
        batch.drop_column("decision")
