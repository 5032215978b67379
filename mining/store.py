"""The SQL of the mining tables (the sandbox calls these instead of writing SQL against them). Every
function takes a SQLAlchemy connection in the caller's transaction."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update

from . import tables as t
from .farms import FarmSpec

MAX_ROWS = 1000


def insert_farm(conn, spec: FarmSpec, *, licensed: bool, licence_id: str | None, at: datetime) -> None:
    conn.execute(insert(t.farms).values(
        id=spec.farm_id, location=spec.location, power_source=spec.power_source, meter_working=spec.meter_working,
        hashrate_ths=spec.hashrate_ths, efficiency_mj_per_th=spec.efficiency_mj_per_th, max_load_w=spec.max_load_w,
        licensed=licensed, licence_id=licence_id, status="active", sell_bps=spec.sell_bps, registered_at=at,
        metered_until=at, period_days=0, period_wh=0, reward_intervals=0, reward_carry=0, drawn_wh=0))


def farm(conn, farm_id: str, *, for_update: bool = False) -> dict | None:
    query = select(t.farms).where(t.farms.c.id == farm_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def farms(conn, *, status: str | None = None) -> list[dict]:
    query = select(t.farms).order_by(t.farms.c.id).limit(MAX_ROWS)
    if status is not None:
        query = query.where(t.farms.c.status == status)
    return [dict(r) for r in conn.execute(query).mappings()]


def farm_count(conn) -> int:
    return int(conn.execute(select(func.count()).select_from(t.farms)).scalar_one())


def any_farm(conn) -> bool:
    return conn.execute(select(t.farms.c.id).limit(1)).first() is not None


def update_farm(conn, farm_id: str, **values) -> None:
    conn.execute(update(t.farms).where(t.farms.c.id == farm_id).values(**values))


def licensed_load_mw(conn) -> int:
    """The licensed, open farms' total draw in milliwatts."""
    total = conn.execute(select(func.coalesce(func.sum(t.farms.c.hashrate_ths * t.farms.c.efficiency_mj_per_th), 0))
                         .where(t.farms.c.licensed.is_(True), t.farms.c.status == "active")).scalar()
    return int(total or 0)


def add_reading(conn, farm_id: str, start: datetime, end: datetime, wh: int, assessed: bool) -> None:
    conn.execute(insert(t.readings).values(farm_id=farm_id, day_start=start, day_end=end, wh=wh, assessed=assessed))


def _newest(conn, table, farm_id: str, limit: int) -> list[dict]:
    """The farm's newest ``limit`` rows of ``table``, oldest of them first."""
    query = select(table).where(table.c.farm_id == farm_id).order_by(table.c.id.desc()).limit(limit)
    return [dict(r) for r in reversed(conn.execute(query).mappings().all())]


def readings(conn, farm_id: str, limit: int = MAX_ROWS) -> list[dict]:
    """The farm's newest ``limit`` meter readings, oldest of them first."""
    return _newest(conn, t.readings, farm_id, limit)


def add_levy(conn, farm_id: str, start: datetime, end: datetime, wh: int, rate: int, levy_minor: int,
             status: str, paid_at: datetime | None) -> int:
    return int(conn.execute(insert(t.levies).values(
        farm_id=farm_id, period_start=start, period_end=end, wh=wh, rate_tiyn_per_kwh=rate, levy_minor=levy_minor,
        status=status, paid_at=paid_at, suspended=False)).inserted_primary_key[0])


def levies(conn, farm_id: str | None = None, *, status: str | None = None) -> list[dict]:
    query = select(t.levies).order_by(t.levies.c.id).limit(MAX_ROWS)
    if farm_id is not None:
        query = query.where(t.levies.c.farm_id == farm_id)
    if status is not None:
        query = query.where(t.levies.c.status == status)
    return [dict(r) for r in conn.execute(query).mappings()]


def newest_levies(conn, farm_id: str, limit: int) -> list[dict]:
    """The farm's newest ``limit`` levies, oldest of them first."""
    return _newest(conn, t.levies, farm_id, limit)


def levy_totals(conn) -> dict[str, dict[str, int]]:
    """``{farm: {"paid": tiyn, "unpaid": tiyn, "wh": metered Wh}}`` over every levy (not a page of them)."""
    out: dict[str, dict[str, int]] = {}
    rows = conn.execute(select(t.levies.c.farm_id, t.levies.c.status, func.sum(t.levies.c.levy_minor),
                               func.sum(t.levies.c.wh)).group_by(t.levies.c.farm_id, t.levies.c.status))
    for farm_id, status, levy_minor, wh in rows:
        by = out.setdefault(farm_id, {"paid": 0, "unpaid": 0, "wh": 0})
        by[status] = by.get(status, 0) + int(levy_minor or 0)
        by["wh"] += int(wh or 0)
    return out


def update_levy(conn, levy_id: int, **values) -> None:
    conn.execute(update(t.levies).where(t.levies.c.id == levy_id).values(**values))


def add_reward(conn, farm_id: str, txid: str, amount_sat: int, intervals: int, at: datetime) -> None:
    conn.execute(insert(t.rewards).values(farm_id=farm_id, txid=txid, amount_sat=amount_sat, intervals=intervals,
                                          status="immature", value_minor=0, mined_at=at))


def reward_by_txid(conn, txid: str) -> dict | None:
    row = conn.execute(select(t.rewards).where(t.rewards.c.txid == txid)).mappings().first()
    return None if row is None else dict(row)


def update_reward(conn, txid: str, **values) -> None:
    conn.execute(update(t.rewards).where(t.rewards.c.txid == txid).values(**values))


def reward_totals(conn) -> dict[str, dict[str, int]]:
    """``{farm: {status: sat}}`` over every reward."""
    out: dict[str, dict[str, int]] = {}
    for farm_id, status, total in conn.execute(
            select(t.rewards.c.farm_id, t.rewards.c.status, func.sum(t.rewards.c.amount_sat))
            .group_by(t.rewards.c.farm_id, t.rewards.c.status)):
        out.setdefault(farm_id, {})[status] = int(total or 0)
    return out


def credited_value(conn, farm_id: str) -> int:
    return int(conn.execute(select(func.coalesce(func.sum(t.rewards.c.value_minor), 0))
                            .where(t.rewards.c.farm_id == farm_id, t.rewards.c.status != "immature")).scalar() or 0)


def add_sale(conn, farm_id: str, order_id: int, qty_sat: int, proceeds_minor: int, source: str, at: datetime) -> None:
    conn.execute(insert(t.sales).values(farm_id=farm_id, order_id=order_id, qty_sat=qty_sat,
                                        proceeds_minor=proceeds_minor, source=source, at=at))


def sale_totals(conn) -> dict[str, tuple[int, int]]:
    """``{farm: (sat sold, tiyn of proceeds)}``."""
    return {farm_id: (int(q or 0), int(p or 0)) for farm_id, q, p in conn.execute(
        select(t.sales.c.farm_id, func.sum(t.sales.c.qty_sat), func.sum(t.sales.c.proceeds_minor))
        .group_by(t.sales.c.farm_id))}


def location(conn, name: str) -> dict | None:
    row = conn.execute(select(t.locations).where(t.locations.c.location == name)).mappings().first()
    return None if row is None else dict(row)


def add_location(conn, name: str, baseline_w: int, read_from: datetime) -> None:
    conn.execute(insert(t.locations).values(location=name, baseline_w=baseline_w, read_until=read_from))


def locations(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(select(t.locations).order_by(t.locations.c.location)
                                          .limit(MAX_ROWS)).mappings()]


def set_read_until(conn, name: str, at: datetime) -> None:
    conn.execute(update(t.locations).where(t.locations.c.location == name).values(read_until=at))


def add_grid_reading(conn, loc: str, day: str, reading_wh: int, baseline_wh: int, declared_wh: int) -> None:
    conn.execute(insert(t.grid_readings).values(location=loc, day=day, reading_wh=reading_wh, baseline_wh=baseline_wh,
                                                declared_wh=declared_wh, examined=False))


def grid_readings(conn, *, unexamined: bool = False, loc: str | None = None) -> list[dict]:
    query = select(t.grid_readings).order_by(t.grid_readings.c.id).limit(MAX_ROWS)
    if unexamined:
        query = query.where(t.grid_readings.c.examined.is_(False))
    if loc is not None:
        query = query.where(t.grid_readings.c.location == loc)
    return [dict(r) for r in conn.execute(query).mappings()]


def mark_examined(conn, ids: list[int]) -> None:
    if ids:
        conn.execute(update(t.grid_readings).where(t.grid_readings.c.id.in_(ids)).values(examined=True))


def open_case(conn, loc: str) -> dict | None:
    row = conn.execute(select(t.cases).where(t.cases.c.location == loc, t.cases.c.status == "open")).mappings().first()
    return None if row is None else dict(row)


def add_case(conn, loc: str, unexplained_wh: int, days: int, at: datetime) -> int:
    return int(conn.execute(insert(t.cases).values(
        location=loc, status="open", unexplained_wh=unexplained_wh, days=days, opened_at=at, farms=[],
        evaded_levy_minor=0, seized_sat=0)).inserted_primary_key[0])


def update_case(conn, case_id: int, **values) -> None:
    conn.execute(update(t.cases).where(t.cases.c.id == case_id).values(**values))


def cases(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(select(t.cases).order_by(t.cases.c.id).limit(MAX_ROWS)).mappings()]


def add_flag(conn, rule: str, reason: str, at: datetime, *, farm_id: str | None = None, loc: str | None = None) -> None:
    conn.execute(insert(t.flags).values(farm_id=farm_id, location=loc, rule=rule, reason=reason[:400], at=at))


def flags(conn, farm_id: str | None = None) -> list[dict]:
    query = select(t.flags).order_by(t.flags.c.id).limit(MAX_ROWS)
    if farm_id is not None:
        query = query.where(t.flags.c.farm_id == farm_id)
    return [dict(r) for r in conn.execute(query).mappings()]
