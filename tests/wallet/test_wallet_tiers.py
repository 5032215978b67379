"""The hot / warm / cold ladder (wallet/tiers.py): the planned moves keep the total, never spend what a
tier does not hold, and leave every tier within its band of the target."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.tiers import COLD, HOT, TIERS, WARM, Move, TierTargets, plan, shares_bps

AMOUNTS = st.integers(0, 10**13)


def _apply(balances: dict[str, int], moves: list[Move]) -> dict[str, int]:
    have = dict(balances)
    for move in moves:
        assert 0 < move.amount_minor <= have[move.source], (balances, move)
        assert {move.source, move.destination} != {HOT, COLD}, "the ladder has no hot-cold rung"
        have[move.source] -= move.amount_minor
        have[move.destination] += move.amount_minor
    return have


@given(AMOUNTS, AMOUNTS, AMOUNTS, st.integers(0, 5_000), st.integers(0, 5_000), st.integers(0, 500))
def test_wallet_tier_plan_reaches_the_targets_and_keeps_the_total(hot, warm, cold, hot_bps, warm_bps, band_bps):
    targets = TierTargets(hot_bps, warm_bps, band_bps)
    balances = {HOT: hot, WARM: warm, COLD: cold}
    after = _apply(balances, plan(balances, targets))
    total = hot + warm + cold
    assert sum(after.values()) == total
    want = targets.target_minor(total)
    slack = 2 * (total * band_bps // 10_000 + 1)
    assert all(abs(after[t] - want[t]) <= slack for t in TIERS)
    if band_bps:
        assert plan(after, targets) == []   # settled: a second rebalance moves nothing


def test_wallet_tier_plan_examples():
    five_fifteen_eighty = TierTargets(500, 1_500)
    everything_cold = {HOT: 0, WARM: 0, COLD: 100_000}
    assert plan(everything_cold, five_fifteen_eighty) == [Move(COLD, WARM, 20_000), Move(WARM, HOT, 5_000)]
    too_hot = {HOT: 50_000, WARM: 0, COLD: 50_000}
    assert plan(too_hot, five_fifteen_eighty) == [Move(HOT, WARM, 45_000), Move(WARM, COLD, 30_000)]
    assert plan({HOT: 5_000, WARM: 15_500, COLD: 79_500}, five_fifteen_eighty) == []   # within 1 point
    assert plan({HOT: 0, WARM: 0, COLD: 100_000}, five_fifteen_eighty, min_move_minor=10_000) == [
        Move(COLD, WARM, 20_000)]   # the 5 000 to hot is not worth its fee; warm keeps its 20 000
    assert plan({}, five_fifteen_eighty) == []
    assert shares_bps(everything_cold) == {HOT: 0, WARM: 0, COLD: 10_000}


@pytest.mark.parametrize("bad", [dict(hot_bps=6_000, warm_bps=5_000), dict(hot_bps=-1), dict(warm_bps=1.5)])
def test_wallet_tier_targets_refuse_shares_that_do_not_fit(bad):
    with pytest.raises(ValueError):
        TierTargets(**bad)
