"""card: remember each decline's reason template, so reports count declines of one rule together

A decline's ``reason`` is the sentence a person reads ("would exceed the daily limit of
500 000.00 KZT (490 000.00 KZT already spent today)"); ``reason_template`` is the same sentence
with its per-purchase values as placeholders ("would exceed the daily limit of {limit}
({spent} already spent today)"). Rows written before this revision have none: readers fall back
to the reason.

Revision ID: card_0003
"""
import sqlalchemy as sa
from alembic import op

revision = "card_0003"
down_revision = "card_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("card_authorizations", sa.Column("reason_template", sa.String(300), nullable=True))


def downgrade() -> None:
    op.drop_column("card_authorizations", "reason_template")
