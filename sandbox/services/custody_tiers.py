"""The custodian's hot, warm and cold wallets on the city's regtest chain: what each holds against the
configuration's shares (``custody.hot_pct`` and ``custody.warm_pct``, the rest cold: 5 / 15 / 80 % in
the presets), and the rebalance that moves coins along the ladder hot <-> warm <-> cold to get there
(``wallet.tiers``). A withdrawal the hot wallet cannot pay refills it from warm first, from cold only
when warm is short (``withdrawals``). Network fees are the custodian's own (``custody:custodian:BTC``).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from wallet.tiers import TIERS, TierTargets, shares_bps

from .. import audit
from ..context import CityContext
from ..errors import ChainHalted, WithdrawalAssetNotSupported
from ..incidents.state import chain_halted

MIN_MOVE_SAT = 100_000   # 0.001 BTC: a smaller move is not worth its network fee
FEE_RESERVE_SAT = 10_000   # what a tier keeps back for its move's network fee (paid on top of the amount)


@dataclass(frozen=True)
class TierMove:
    source: str
    destination: str
    amount_minor: int
    txid: str


@dataclass(frozen=True)
class CustodyTiers:
    """What each tier holds (``held_minor``) and its share of the total (``shares_bps``) against the
    configuration's targets (``targets_bps``); ``moves``: what a rebalance moved (none for a reading)."""
    asset: str
    held_minor: dict[str, int]
    shares_bps: dict[str, int]
    targets_bps: dict[str, int]
    total_minor: int
    moves: tuple[TierMove, ...] = ()

    def to_dict(self) -> dict:
        return {"asset": self.asset, "held_minor": self.held_minor, "shares_bps": self.shares_bps,
                "targets_bps": self.targets_bps, "total_minor": self.total_minor,
                "moves": [vars(m) for m in self.moves]}


def targets(city: CityContext) -> TierTargets:
    """The configuration's shares as basis points (``custody.hot_pct``, ``custody.warm_pct``)."""
    c = city.cfg.custody
    return TierTargets(hot_bps=int(c.hot_pct * Decimal(100)), warm_bps=int(c.warm_pct * Decimal(100)))


def _require_btc(asset: str) -> None:
    if asset != "BTC":
        raise WithdrawalAssetNotSupported(f"the city's custody tiers are kept for BTC on its regtest chain, not "
                                          f"{str(asset)[:16]}", asset=str(asset)[:16])


def tiers(city: CityContext, uow, *, asset: str = "BTC") -> CustodyTiers:
    """What the custodian's hot, warm and cold wallets hold now (confirmed), against the targets."""
    _require_btc(asset)
    held = city.custodian.tier_balances_minor(asset, uow=uow)
    return _reading(city, asset, held)


def _reading(city: CityContext, asset: str, held: dict[str, int], moves: tuple[TierMove, ...] = ()) -> CustodyTiers:
    wanted = targets(city)
    return CustodyTiers(asset, {t: held[t] for t in TIERS}, shares_bps(held),
                        {"hot": wanted.hot_bps, "warm": wanted.warm_bps, "cold": wanted.cold_bps},
                        sum(held.values()), moves)


def rebalance(city: CityContext, uow, *, by: str, asset: str = "BTC") -> CustodyTiers:
    """Move coins between the tiers until each is within a percentage point of its target (moves under
    0.001 BTC are not worth their fee), mine a block after each move to confirm it, and audit
    ``custody.rebalanced``. Nothing to move: nothing is sent, nothing audited."""
    _require_btc(asset)
    city.licences.require(city.custodian_id, "custody", uow.now())
    if chain_halted(uow.conn) is not None:   # no block can confirm a move (sandbox/incidents/)
        raise ChainHalted("the regtest chain is halted (an incident): no move between the custody tiers can "
                          "confirm until it restarts")
    with city.custody_lock:
        city.btc_node.lock(uow)
        custodian = city.custodian
        made = custodian.rebalance(asset, targets(city), min_move_minor=MIN_MOVE_SAT, fee_reserve_minor=FEE_RESERVE_SAT,
                                   uow=uow, confirm=lambda: city.btc_node.mine(1, uow=uow))
        if not made:
            return tiers(city, uow, asset=asset)
        moves = tuple(TierMove(m.source, m.destination, m.amount_minor, txid) for m, txid in made)
        after = _reading(city, asset, custodian.tier_balances_minor(asset, uow=uow), moves)
    audit.append(uow, by, "custody.rebalanced", asset, {"moves": [vars(m) for m in moves],
                                                      "held_minor": after.held_minor})
    return after
