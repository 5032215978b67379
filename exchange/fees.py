"""Notionals and fees, and the rounding rule that keeps the ledger balanced to the unit.

Rounding rule (stated once, used everywhere):

* ``notional_minor = price * qty_minor // base_unit`` — rounded DOWN. The buyer pays exactly this
  and the seller is credited exactly this, so the sub-minor fraction is never moved by anybody:
  it does not exist in the ledger, nothing is created or destroyed. (It favours the buyer by < 1 minor
  unit per fill.)
* ``fee_minor = notional_minor * fee_bps // 10_000`` — rounded DOWN, in the customer's favour; the
  fee that is charged is posted in full to the exchange's fee account.

Because both roundings are downward, the sum over partial fills never exceeds the figure computed on
the whole order at its limit price, so a hold sized with ``buy_hold_minor`` always covers every fill.
Every fill's quote leg balances exactly: buyer pays ``notional + buyer_fee``; seller gets
``notional - seller_fee``; the fee account gets ``buyer_fee + seller_fee``.
"""
from __future__ import annotations

BPS = 10_000


def notional_minor(price: int, qty_minor: int, base_unit: int) -> int:
    return price * qty_minor // base_unit


def fee_minor(notional: int, fee_bps: int) -> int:
    return notional * fee_bps // BPS


def buy_hold_minor(price: int, qty_minor: int, base_unit: int, fee_bps: int) -> int:
    """Quote funds reserved behind a buy of ``qty_minor`` at worst price ``price`` (fees included)."""
    n = notional_minor(price, qty_minor, base_unit)
    return n + fee_minor(n, fee_bps)


def max_qty_for_budget(price: int, budget_minor: int, base_unit: int, fee_bps: int, lot: int) -> int:
    """Largest lot multiple that ``budget_minor`` buys at ``price``, fee included."""
    if price <= 0 or budget_minor <= 0:
        return 0
    q = budget_minor * BPS * base_unit // (price * (BPS + fee_bps))
    q -= q % lot
    # the estimate ignores both roundings down: step forward while one more lot is still affordable,
    # back while this one is not (each at most a step or two)
    while buy_hold_minor(price, q + lot, base_unit, fee_bps) <= budget_minor:
        q += lot
    while q > 0 and buy_hold_minor(price, q, base_unit, fee_bps) > budget_minor:
        q -= lot
    return q


def min_qty_for_net_proceeds(price: int, needed_minor: int, base_unit: int, fee_bps: int, lot: int) -> int:
    """Smallest lot multiple whose sale at ``price`` yields at least ``needed_minor`` after the fee."""
    if needed_minor <= 0:
        return 0
    q = -(-needed_minor * BPS * base_unit // (price * (BPS - fee_bps)))
    q = -(-q // lot) * lot
    # step back while a smaller lot still suffices, forward while short (rounding of both floors)
    while q > lot and _net(price, q - lot, base_unit, fee_bps) >= needed_minor:
        q -= lot
    while _net(price, q, base_unit, fee_bps) < needed_minor:
        q += lot
    return q


def _net(price: int, qty: int, base_unit: int, fee_bps: int) -> int:
    n = notional_minor(price, qty, base_unit)
    return n - fee_minor(n, fee_bps)
