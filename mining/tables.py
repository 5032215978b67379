"""The mining package's tables (its own MetaData; migration mining_0001 creates them). Money stays in the
ledger; these say what it was for: farms, meter readings, levies, rewards, sales, the grid operator's
readings and the regulator's cases."""
from __future__ import annotations

import sqlalchemy as sa

from ledger.types import Timestamp

metadata = sa.MetaData()
Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")

farms = sa.Table(
    "mining_farms", metadata,
    sa.Column("id", sa.String(120), primary_key=True),
    sa.Column("location", sa.String(64), nullable=False, index=True),
    sa.Column("power_source", sa.String(16), nullable=False),
    sa.Column("meter_working", sa.Boolean, nullable=False),
    sa.Column("hashrate_ths", sa.BigInteger, nullable=False),
    sa.Column("efficiency_mj_per_th", sa.BigInteger, nullable=False),
    sa.Column("max_load_w", sa.BigInteger, nullable=False),
    sa.Column("licensed", sa.Boolean, nullable=False),
    sa.Column("licence_id", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),          # active, closed
    sa.Column("sell_bps", sa.Integer, nullable=False),
    sa.Column("registered_at", Timestamp, nullable=False),
    sa.Column("metered_until", Timestamp, nullable=False),        # end of the last meter day read
    sa.Column("period_days", sa.Integer, nullable=False),          # meter days in the open levy period
    sa.Column("period_wh", sa.BigInteger, nullable=False),         # their watt-hours
    sa.Column("reward_intervals", sa.BigInteger, nullable=False),  # block intervals already paid
    sa.Column("reward_carry", sa.BigInteger, nullable=False),      # the remainder of the share (rewards.py)
    sa.Column("drawn_wh", sa.BigInteger, nullable=False),          # everything drawn, metered or not
    sa.Column("closed_at", Timestamp),
)

readings = sa.Table(
    "mining_meter_readings", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("farm_id", sa.String(120), nullable=False, index=True),
    sa.Column("day_start", Timestamp, nullable=False),
    sa.Column("day_end", Timestamp, nullable=False),
    sa.Column("wh", sa.BigInteger, nullable=False),
    sa.Column("assessed", sa.Boolean, nullable=False),             # True: no working meter, maximum load
)

levies = sa.Table(
    "mining_levies", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("farm_id", sa.String(120), nullable=False, index=True),
    sa.Column("period_start", Timestamp, nullable=False),
    sa.Column("period_end", Timestamp, nullable=False),
    sa.Column("wh", sa.BigInteger, nullable=False),
    sa.Column("rate_tiyn_per_kwh", sa.Integer, nullable=False),
    sa.Column("levy_minor", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),            # paid, unpaid
    sa.Column("paid_at", Timestamp),
    sa.Column("suspended", sa.Boolean, nullable=False),            # the grace ran out: licence suspended
)

rewards = sa.Table(
    "mining_rewards", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("farm_id", sa.String(120), nullable=False, index=True),
    sa.Column("txid", sa.String(64), nullable=False, unique=True),
    sa.Column("amount_sat", sa.BigInteger, nullable=False),
    sa.Column("intervals", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),            # immature, credited, seized
    sa.Column("value_minor", sa.BigInteger, nullable=False),        # tiyn at the model price when credited
    sa.Column("mined_at", Timestamp, nullable=False),
    sa.Column("credited_at", Timestamp),
)

sales = sa.Table(
    "mining_sales", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("farm_id", sa.String(120), nullable=False, index=True),
    sa.Column("order_id", sa.BigInteger, nullable=False),
    sa.Column("qty_sat", sa.BigInteger, nullable=False),
    sa.Column("proceeds_minor", sa.BigInteger, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),            # rule, order
    sa.Column("at", Timestamp, nullable=False),
)

locations = sa.Table(
    "mining_locations", metadata,
    sa.Column("location", sa.String(64), primary_key=True),
    sa.Column("baseline_w", sa.BigInteger, nullable=False),
    sa.Column("read_until", Timestamp, nullable=False),            # the grid operator's last day read
)

grid_readings = sa.Table(
    "mining_grid_readings", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("location", sa.String(64), nullable=False, index=True),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("reading_wh", sa.BigInteger, nullable=False),
    sa.Column("baseline_wh", sa.BigInteger, nullable=False),
    sa.Column("declared_wh", sa.BigInteger, nullable=False),
    sa.Column("examined", sa.Boolean, nullable=False),
    sa.UniqueConstraint("location", "day", name="uq_mining_grid_readings_day"),
)

cases = sa.Table(
    "mining_cases", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("location", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),            # open, closed
    sa.Column("unexplained_wh", sa.BigInteger, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("opened_at", Timestamp, nullable=False),
    sa.Column("closed_at", Timestamp),
    sa.Column("farms", sa.JSON, nullable=False),
    sa.Column("evaded_levy_minor", sa.BigInteger, nullable=False),
    sa.Column("seized_sat", sa.BigInteger, nullable=False),
)

flags = sa.Table(
    "mining_flags", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("farm_id", sa.String(120)),
    sa.Column("location", sa.String(64)),
    sa.Column("rule", sa.String(40), nullable=False),
    sa.Column("reason", sa.String(400), nullable=False),
    sa.Column("at", Timestamp, nullable=False),
)
