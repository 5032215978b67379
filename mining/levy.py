"""The levy on mining electricity, in tiyn.

Kazakhstan (from 1 January 2024): 2 KZT/kWh for power from the unified grid, 1 KZT/kWh for a farm's own
or renewable power not connected to it; without a working meter consumption is assessed at maximum load.
Rates are tiyn per kWh (200 and 100). A period's levy is ``Wh × rate / 1000`` on the period's whole
consumption, rounded half up to the tiyn — once per period, so nothing is lost day by day.
"""
from __future__ import annotations

from .farms import GRID, OWN_OFFGRID

WH_PER_KWH = 1000


def levy_minor(wh: int, rate_tiyn_per_kwh: int) -> int:
    """The levy in tiyn on ``wh`` watt-hours at ``rate_tiyn_per_kwh``, rounded half up to the tiyn."""
    if wh < 0 or rate_tiyn_per_kwh < 0:
        raise ValueError("energy and rate are non-negative")
    return (2 * wh * rate_tiyn_per_kwh + WH_PER_KWH) // (2 * WH_PER_KWH)


def rate_for(power_source: str, grid_rate: int, offgrid_rate: int) -> int:
    """The rate (tiyn/kWh) that applies to a farm on ``power_source``."""
    return {GRID: grid_rate, OWN_OFFGRID: offgrid_rate}[power_source]


def cit_minor(profit_minor: int, cit_bps: int) -> int:
    """Corporate income tax on a positive profit, rounded half up to the tiyn (nothing on a loss)."""
    if profit_minor <= 0:
        return 0
    return (2 * profit_minor * cit_bps + 10_000) // 20_000
