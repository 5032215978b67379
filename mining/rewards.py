"""Block rewards shared by hash rate, in satoshi, with nothing lost to rounding.

Each block interval the network pays one subsidy; a farm with ``h`` of the network's ``H`` TH/s earns
``subsidy × h / H`` of it on average. Over ``n`` intervals the sandbox pays the farm
``floor((n × subsidy × h + carry) / H)`` satoshi and keeps the remainder as the farm's ``carry`` for the
next time (an integer below ``H``), so after any number of advances the farm has been paid
``floor(total × subsidy × h / H)`` — within one satoshi of its exact share, however the time was cut.
"""
from __future__ import annotations


def share_reward(intervals: int, subsidy_sat: int, farm_ths: int, network_ths: int, carry: int) -> tuple[int, int]:
    """``(reward_sat, new_carry)`` for ``intervals`` more block intervals (see the module docstring)."""
    if intervals < 0 or network_ths <= 0 or farm_ths < 0 or not 0 <= carry < network_ths:
        raise ValueError("intervals ≥ 0, 0 ≤ carry < network hash rate, and a positive network hash rate")
    numerator = intervals * subsidy_sat * farm_ths + carry
    return numerator // network_ths, numerator % network_ths
