"""The grid operator: a substation at every location where a farm is hooked up, read once a day (UTC
days), its reading the location's ordinary load plus every farm's draw — licensed or not — plus seeded
noise (``mining/detection.py``)."""
from __future__ import annotations

from datetime import datetime, timedelta

from mining import energy_wh, store
from mining.detection import noise_wh, substation_reading_wh

from ..context import CityContext

DAY = timedelta(days=1)


def watch_location(city: CityContext, uow, location: str, now: datetime) -> None:
    """Start reading ``location``'s substation (from the start of today, UTC) if nobody does yet."""
    if store.location(uow.conn, location) is None:
        m = city.cfg.mining
        baseline_kw = m.grid_baseline_kw.get(location, m.default_baseline_kw)
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        store.add_location(uow.conn, location, baseline_kw * 1000, day_start)


def _overlap_s(farm: dict, start: datetime, end: datetime) -> int:
    """Seconds of [start, end) the farm was hooked up (from registration until it was closed)."""
    lo = max(start, farm["registered_at"])
    hi = min(end, farm["closed_at"]) if farm["closed_at"] is not None else end
    return max(0, int((hi - lo).total_seconds()))


def read_substations(city: CityContext, uow, now: datetime) -> int:
    """Write the substation readings of every whole UTC day before ``now``; returns how many."""
    m = city.cfg.mining
    farms = store.farms(uow.conn)
    written = 0
    for loc in store.locations(uow.conn):
        here = [f for f in farms if f["location"] == loc["location"]]
        start = loc["read_until"]
        while start + DAY <= now:
            end = start + DAY
            drawn = declared = 0
            for farm in here:
                wh = energy_wh(farm["hashrate_ths"] * farm["efficiency_mj_per_th"], _overlap_s(farm, start, end))
                drawn += wh
                declared += wh if farm["licensed"] else 0
            baseline = loc["baseline_w"] * 24
            day = start.date().isoformat()
            noise = noise_wh(city.seed, loc["location"], day, baseline, m.grid_noise_bps)
            store.add_grid_reading(uow.conn, loc["location"], day, substation_reading_wh(baseline, drawn, noise),
                                   baseline, declared)
            written += 1
            start = end
        if start != loc["read_until"]:
            store.set_read_until(uow.conn, loc["location"], start)
    return written
