"""card: card verification — the programme's secret (random card numbers, CVVs derived again for an
operator's reveal) and the failed card-not-present verifications that freeze a card

Cards issued before this revision keep their sequential numbers and their CVVs; the secret is created
(from the city's seed) when the next card is issued.

Revision ID: card_0005
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Timestamp

revision = "card_0005"
down_revision = "card_0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "card_secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )
    op.create_table(
        "card_verification_failures",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("card_id", sa.BigInteger, nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("froze_card", sa.Boolean, nullable=False),
    )
    op.create_index("ix_card_verification_failures_card_time", "card_verification_failures", ["card_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_card_verification_failures_card_time", table_name="card_verification_failures")
    op.drop_table("card_verification_failures")
    op.drop_table("card_secrets")
