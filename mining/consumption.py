"""Electricity from hash rate and efficiency, in integers.

Power: a machine doing ``H`` TH/s at ``E`` J/TH draws ``H × E`` watts (joules per second). Efficiency is
kept in millijoules per TH (17.5 J/TH = 17 500 mJ/TH), so power is exact in milliwatts:
``power_mw = hashrate_ths × efficiency_mj_per_th``. Energy over ``s`` seconds in watt-hours is
``power_mw × s / 3 600 000``, rounded half up to the watt-hour (one rounding per metered day, so the
error is below half a watt-hour a day; the levy's own rounding is in ``levy.py``).
"""
from __future__ import annotations

MJ_PER_J = 1000
SECONDS_PER_HOUR = 3600
MW_SECONDS_PER_WH = 1000 * SECONDS_PER_HOUR   # milliwatt-seconds in a watt-hour
DAY_S = 86_400


def parse_efficiency_mj(value) -> int:
    """J/TH as given ("34", "17.5", 34, Decimal) to whole millijoules per TH; a ValueError if finer."""
    from decimal import Decimal, InvalidOperation
    if isinstance(value, bool):
        raise ValueError("efficiency is a number of J/TH")
    try:
        given = Decimal(str(value))
    except InvalidOperation:
        given = None
    # copy_abs, not abs(): abs() rounds to the context and 1e999999999 overflows it
    if given is None or not given.is_finite() or given.copy_abs() > 10**6:   # "Infinity", "1e999999999"
        raise ValueError(f"efficiency is a number of J/TH, got {str(value)[:40]!r}")
    scaled = given * MJ_PER_J
    if scaled != scaled.to_integral_value():
        raise ValueError("efficiency has at most 3 decimals (J/TH)")
    return int(scaled)


def power_mw(hashrate_ths: int, efficiency_mj_per_th: int) -> int:
    """The farm's draw in milliwatts while it runs."""
    return hashrate_ths * efficiency_mj_per_th


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def energy_wh(power_milliwatts: int, seconds: int) -> int:
    """Watt-hours drawn at ``power_milliwatts`` over ``seconds``, rounded half up to the watt-hour."""
    return _half_up(power_milliwatts * seconds, MW_SECONDS_PER_WH)


def max_load_wh(max_load_w: int, seconds: int = DAY_S) -> int:
    """What a farm without a working meter is assessed at: its maximum load for the whole period
    (``max_load_w × 24 h`` for a day), rounded half up to the watt-hour."""
    return _half_up(max_load_w * seconds, SECONDS_PER_HOUR)
