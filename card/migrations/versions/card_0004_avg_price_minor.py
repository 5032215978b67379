"""card: a funding leg's average price says its unit — ``avg_price_minor``, KZT minor units per whole unit

Rows written before this revision hold ``avg_price`` as decimal text in KZT per whole unit
("52947000.00"); the tenge (and KZTE) has 2 decimals, so the new value is that times 100, to the
nearest tiyn — the precision the text was written with.

Revision ID: card_0004
"""
import sqlalchemy as sa
from alembic import op

revision = "card_0004"
down_revision = "card_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("card_funding_legs", sa.Column("avg_price_minor", sa.BigInteger, nullable=True))
    op.execute("UPDATE card_funding_legs SET avg_price_minor = CAST(ROUND(CAST(avg_price AS NUMERIC) * 100) AS BIGINT)")
    with op.batch_alter_table("card_funding_legs") as batch:
        batch.alter_column("avg_price_minor", existing_type=sa.BigInteger, nullable=False)
        batch.drop_column("avg_price")


def downgrade() -> None:
    op.add_column("card_funding_legs", sa.Column("avg_price", sa.String(40), nullable=True))
    op.execute("UPDATE card_funding_legs SET avg_price = CAST(CAST(avg_price_minor AS NUMERIC) / 100 AS VARCHAR(40))")
    with op.batch_alter_table("card_funding_legs") as batch:
        batch.alter_column("avg_price", existing_type=sa.String(40), nullable=False)
        batch.drop_column("avg_price_minor")
