"""mining: farms, meter readings, levies, rewards, sales, grid readings, cases, flags

Revision ID: mining_0001
"""
import sqlalchemy as sa
from alembic import op

from ledger.types import Timestamp

revision = "mining_0001"
down_revision = None
branch_labels = ("mining",)
depends_on = "ledger_0001"

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table('mining_cases',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('unexplained_wh', sa.BigInteger(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('opened_at', Timestamp, nullable=False),
    sa.Column('closed_at', Timestamp, nullable=True),
    sa.Column('farms', sa.JSON(), nullable=False),
    sa.Column('evaded_levy_minor', sa.BigInteger(), nullable=False),
    sa.Column('seized_sat', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_mining_cases_location'), 'mining_cases', ['location'], unique=False)
    op.create_table('mining_farms',
    sa.Column('id', sa.String(length=120), nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('power_source', sa.String(length=16), nullable=False),
    sa.Column('meter_working', sa.Boolean(), nullable=False),
    sa.Column('hashrate_ths', sa.BigInteger(), nullable=False),
    sa.Column('efficiency_mj_per_th', sa.BigInteger(), nullable=False),
    sa.Column('max_load_w', sa.BigInteger(), nullable=False),
    sa.Column('licensed', sa.Boolean(), nullable=False),
    sa.Column('licence_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sell_bps', sa.Integer(), nullable=False),
    sa.Column('registered_at', Timestamp, nullable=False),
    sa.Column('metered_until', Timestamp, nullable=False),
    sa.Column('period_days', sa.Integer(), nullable=False),
    sa.Column('period_wh', sa.BigInteger(), nullable=False),
    sa.Column('reward_intervals', sa.BigInteger(), nullable=False),
    sa.Column('reward_carry', sa.BigInteger(), nullable=False),
    sa.Column('drawn_wh', sa.BigInteger(), nullable=False),
    sa.Column('closed_at', Timestamp, nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_mining_farms_location'), 'mining_farms', ['location'], unique=False)
    op.create_table('mining_flags',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('farm_id', sa.String(length=120), nullable=True),
    sa.Column('location', sa.String(length=64), nullable=True),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=400), nullable=False),
    sa.Column('at', Timestamp, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('mining_grid_readings',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('reading_wh', sa.BigInteger(), nullable=False),
    sa.Column('baseline_wh', sa.BigInteger(), nullable=False),
    sa.Column('declared_wh', sa.BigInteger(), nullable=False),
    sa.Column('examined', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('location', 'day', name='uq_mining_grid_readings_day')
    )
    op.create_index(op.f('ix_mining_grid_readings_location'), 'mining_grid_readings', ['location'], unique=False)
    op.create_table('mining_levies',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('farm_id', sa.String(length=120), nullable=False),
    sa.Column('period_start', Timestamp, nullable=False),
    sa.Column('period_end', Timestamp, nullable=False),
    sa.Column('wh', sa.BigInteger(), nullable=False),
    sa.Column('rate_tiyn_per_kwh', sa.Integer(), nullable=False),
    sa.Column('levy_minor', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('paid_at', Timestamp, nullable=True),
    sa.Column('suspended', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_mining_levies_farm_id'), 'mining_levies', ['farm_id'], unique=False)
    op.create_table('mining_locations',
    sa.Column('location', sa.String(length=64), nullable=False),
    sa.Column('baseline_w', sa.BigInteger(), nullable=False),
    sa.Column('read_until', Timestamp, nullable=False),
    sa.PrimaryKeyConstraint('location')
    )
    op.create_table('mining_meter_readings',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('farm_id', sa.String(length=120), nullable=False),
    sa.Column('day_start', Timestamp, nullable=False),
    sa.Column('day_end', Timestamp, nullable=False),
    sa.Column('wh', sa.BigInteger(), nullable=False),
    sa.Column('assessed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_mining_meter_readings_farm_id'), 'mining_meter_readings', ['farm_id'], unique=False)
    op.create_table('mining_rewards',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('farm_id', sa.String(length=120), nullable=False),
    sa.Column('txid', sa.String(length=64), nullable=False),
    sa.Column('amount_sat', sa.BigInteger(), nullable=False),
    sa.Column('intervals', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('value_minor', sa.BigInteger(), nullable=False),
    sa.Column('mined_at', Timestamp, nullable=False),
    sa.Column('credited_at', Timestamp, nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('txid')
    )
    op.create_index(op.f('ix_mining_rewards_farm_id'), 'mining_rewards', ['farm_id'], unique=False)
    op.create_table('mining_sales',
    sa.Column('id', Id, autoincrement=True, nullable=False),
    sa.Column('farm_id', sa.String(length=120), nullable=False),
    sa.Column('order_id', sa.BigInteger(), nullable=False),
    sa.Column('qty_sat', sa.BigInteger(), nullable=False),
    sa.Column('proceeds_minor', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('at', Timestamp, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_mining_sales_farm_id'), 'mining_sales', ['farm_id'], unique=False)


def downgrade() -> None:
    for table in ("mining_flags", "mining_cases", "mining_grid_readings", "mining_locations", "mining_sales",
                  "mining_rewards", "mining_levies", "mining_meter_readings", "mining_farms"):
        op.drop_table(table)
