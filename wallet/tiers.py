"""Hot, warm and cold wallets: how much of an asset each tier should hold, and the moves that get it there.

Exchanges keep a small share online for withdrawals (hot), a larger share one step away (warm: online but
behind a delay and more signatures) and the rest offline (cold), around 5 / 15 / 80 %. ``plan`` is pure:
given what each tier holds and the target shares in basis points, it returns the transfers between the
custodian's own addresses (hot <-> warm <-> cold; never hot <-> cold directly, as the tiers are steps of one
ladder) that bring each tier within ``band_bps`` of its target. Moving less than ``min_move_minor`` is not
worth a network fee and is left alone.
"""
from __future__ import annotations

from dataclasses import dataclass

HOT, WARM, COLD = "hot", "warm", "cold"
TIERS = (HOT, WARM, COLD)
BPS = 10_000


@dataclass(frozen=True)
class TierTargets:
    """Target shares of the custodian's coins, in basis points of the total: hot, warm, the rest cold."""
    hot_bps: int = 500
    warm_bps: int = 1_500
    band_bps: int = 100   # a tier within this many bps of the total from its target is left as it is

    def __post_init__(self) -> None:
        for name in ("hot_bps", "warm_bps", "band_bps"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= BPS:
                raise ValueError(f"{name} must be a whole number of basis points from 0 to {BPS}, got {value!r}")
        if self.hot_bps + self.warm_bps > BPS:
            raise ValueError(f"hot and warm shares add up to {self.hot_bps + self.warm_bps} bps, more than {BPS}")

    @property
    def cold_bps(self) -> int:
        return BPS - self.hot_bps - self.warm_bps

    def target_minor(self, total_minor: int) -> dict[str, int]:
        """Each tier's target for ``total_minor`` in all (hot and warm rounded down; cold takes the rest)."""
        hot, warm = total_minor * self.hot_bps // BPS, total_minor * self.warm_bps // BPS
        return {HOT: hot, WARM: warm, COLD: total_minor - hot - warm}


@dataclass(frozen=True)
class Move:
    """A transfer of ``amount_minor`` from one tier to the next one up or down the ladder."""
    source: str
    destination: str
    amount_minor: int


def shares_bps(balances_minor: dict[str, int]) -> dict[str, int]:
    """What each tier holds, in basis points of the total (0 each when there is nothing)."""
    total = sum(balances_minor.get(t, 0) for t in TIERS)
    return {t: (balances_minor.get(t, 0) * BPS // total if total else 0) for t in TIERS}


def plan(balances_minor: dict[str, int], targets: TierTargets, *, min_move_minor: int = 0,
         fee_reserve_minor: int = 0) -> list[Move]:
    """The moves that bring every tier to its target: at most one between hot and warm and one between warm
    and cold, the one that adds to warm first (so warm never has to give what it does not hold yet). A
    move of at most ``band_bps`` of the total, or under ``min_move_minor``, is left out: that tier stays as
    it is. The total is unchanged; the network fees are paid on top, by the custodian, and a source keeps
    ``fee_reserve_minor`` for its move's fee (a tier is never emptied to the last unit)."""
    for tier in TIERS:
        assert balances_minor.get(tier, 0) >= 0, f"a {tier} balance cannot be negative"
    have = {t: balances_minor.get(t, 0) for t in TIERS}
    total = sum(have.values())
    if total <= 0:
        return []
    want = targets.target_minor(total)
    floor = max(total * targets.band_bps // BPS + 1, min_move_minor, 1)
    # The ladder fixes both flows: hot gains warm_to_hot, cold gives cold_to_warm (negative: the other way).
    warm_to_hot, cold_to_warm = want[HOT] - have[HOT], have[COLD] - want[COLD]
    moves = []
    if abs(warm_to_hot) >= floor:
        moves.append(Move(WARM, HOT, warm_to_hot) if warm_to_hot > 0 else Move(HOT, WARM, -warm_to_hot))
    if abs(cold_to_warm) >= floor:
        moves.append(Move(COLD, WARM, cold_to_warm) if cold_to_warm > 0 else Move(WARM, COLD, -cold_to_warm))
    moves.sort(key=lambda m: m.destination != WARM)   # whatever adds to warm goes first
    planned = []
    for move in moves:   # a move left out leaves its source short of what the other assumed: take what is there
        amount = min(move.amount_minor, have[move.source] - fee_reserve_minor)
        if amount >= floor:
            planned.append(Move(move.source, move.destination, amount))
            have[move.source] -= amount
            have[move.destination] += amount
    return planned
