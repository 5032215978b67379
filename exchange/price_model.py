"""A seeded geometric Brownian motion per asset: the "fair price" market makers quote around.

``S(t+dt) = S(t) * exp((mu - sigma^2/2) dt + sigma sqrt(dt) Z)`` with ``dt`` in years and ``Z`` from a
``random.Random`` seeded per asset, so the same seed and the same sequence of ``advance`` times give
the same prices. Arithmetic is ``Decimal`` (prices only; money stays int). Prices are quote-minor
per whole base unit, as everywhere in the exchange.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

SECONDS_PER_YEAR = Decimal(365 * 24 * 3600)

# Reference prices in KZT minor (tiyn) per whole unit: BTC 45 000 000 KZT, ETH 1 700 000, USDT 510.
REFERENCE_PRICES_KZT_MINOR = {"BTC": 45_000_000_00, "ETH": 1_700_000_00, "USDT": 510_00}


@dataclass(frozen=True, slots=True)
class AssetDynamics:
    start_price_minor: int
    drift_per_year: Decimal = Decimal("0.05")
    volatility_per_year: Decimal = Decimal("0.60")


DEFAULT_DYNAMICS = {
    "BTC": AssetDynamics(REFERENCE_PRICES_KZT_MINOR["BTC"], Decimal("0.10"), Decimal("0.60")),
    "ETH": AssetDynamics(REFERENCE_PRICES_KZT_MINOR["ETH"], Decimal("0.10"), Decimal("0.75")),
    "USDT": AssetDynamics(REFERENCE_PRICES_KZT_MINOR["USDT"], Decimal("0"), Decimal("0.02")),
}


@dataclass(frozen=True, slots=True)
class PriceShock:
    """A crash: ``asset``'s price falls by ``percent`` %, in a straight line from ``start`` over ``minutes``,
    and stays down (the random walk goes on from the lower level)."""
    asset: str
    start: datetime
    minutes: int
    percent: int

    def factor(self, at: datetime) -> Decimal:
        """What is left of the price at ``at`` (1 before the crash, 1 - percent/100 once it is over)."""
        if at <= self.start:
            return Decimal(1)
        done = min(Decimal(1), Decimal(int((at - self.start).total_seconds())) / Decimal(self.minutes * 60))
        return 1 - Decimal(self.percent) / 100 * done


class PriceModel:
    """Prices per asset (in the quote the dynamics were given in) as the sandbox clock advances; ``shocks``
    (``PriceShock``) bend them down from their start."""

    def __init__(self, seed: int = 0, dynamics: dict[str, AssetDynamics] | None = None,
                 start: datetime | None = None) -> None:
        self.seed = seed
        self.dynamics = dict(dynamics or DEFAULT_DYNAMICS)
        self._price = {a: Decimal(d.start_price_minor) for a, d in self.dynamics.items()}
        self._rng = {a: random.Random(_seed_for(seed, a)) for a in self.dynamics}
        self._at: datetime | None = start
        self.shocks: tuple[PriceShock, ...] = ()

    def price_minor(self, asset: str) -> int:
        """The model price of ``asset`` now (int quote minor per whole unit), after any shock."""
        price = self._price[asset]
        if self._at is not None:
            for shock in self.shocks:
                if shock.asset == asset:
                    price *= shock.factor(self._at)
        return max(1, int(price))

    def advance(self, now: datetime) -> dict[str, int]:
        """Move every asset's price to sandbox time ``now`` (no-op if ``now`` is not later)."""
        if self._at is None:
            self._at = now
        elapsed = (now - self._at).total_seconds()
        if elapsed > 0:
            with localcontext() as ctx:
                ctx.prec = 28
                dt = Decimal(int(elapsed * 1_000_000)) / 1_000_000 / SECONDS_PER_YEAR
                for asset in sorted(self.dynamics):
                    d = self.dynamics[asset]
                    z = Decimal(repr(round(self._rng[asset].gauss(0.0, 1.0), 12)))
                    drift = (d.drift_per_year - d.volatility_per_year ** 2 / 2) * dt
                    shock = d.volatility_per_year * dt.sqrt() * z
                    self._price[asset] = max(Decimal(1), self._price[asset] * (drift + shock).exp())
            self._at = now
        return {a: self.price_minor(a) for a in sorted(self.dynamics)}


def _seed_for(seed: int, asset: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{asset}".encode()).digest()[:8], "big")
