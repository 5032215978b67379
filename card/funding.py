"""Funding settings and the pure funding plan: which assets to sell, for how much tenge.

Two modes, after real crypto cards:
- ``combine`` (Binance-style): walk the ordered list, taking what each asset can raise until covered;
- ``fallback`` (Bitpanda-style): the first asset must cover the whole shortfall alone, else the second
  must; assets are never combined.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import response_codes as rc

DEFAULT_ORDER = ("KZTE", "USDT", "BTC", "ETH")
MAX_FUNDING_ASSETS = 8
MODES = ("combine", "fallback")


@dataclass(frozen=True)
class FundingSettings:
    order: tuple[str, ...] = DEFAULT_ORDER
    slippage_cap_bps: int = 100
    spend_tenge_first: bool = True
    conversion_fee_bps: int = 100  # the 2025 pilot charged about 1% at the point of sale
    mode: str = "combine"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"funding mode must be one of {MODES}, got {self.mode!r}")
        if not 1 <= len(self.order) <= MAX_FUNDING_ASSETS or len(set(self.order)) != len(self.order):
            raise ValueError(f"funding order needs 1..{MAX_FUNDING_ASSETS} distinct assets, got {self.order!r}")
        if self.mode == "fallback" and len(self.order) > 2:
            object.__setattr__(self, "order", tuple(self.order[:2]))
        for name in ("slippage_cap_bps", "conversion_fee_bps"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 10_000:
                raise ValueError(f"{name} must be an integer 0..10000, got {value!r}")

    def to_dict(self) -> dict:
        return {"order": list(self.order), "slippage_cap_bps": self.slippage_cap_bps,
                "spend_tenge_first": self.spend_tenge_first, "conversion_fee_bps": self.conversion_fee_bps,
                "mode": self.mode}

    @classmethod
    def from_dict(cls, data: dict) -> "FundingSettings":
        return cls(order=tuple(data.get("order", DEFAULT_ORDER)),
                   slippage_cap_bps=int(data.get("slippage_cap_bps", 100)),
                   spend_tenge_first=bool(data.get("spend_tenge_first", True)),
                   conversion_fee_bps=int(data.get("conversion_fee_bps", 100)), mode=data.get("mode", "combine"))


def conversion_fee(shortfall_minor: int, fee_bps: int) -> int:
    """The programme's fee on converting ``shortfall_minor`` tenge, rounded up to the tiyn (never free by rounding)."""
    return -(-shortfall_minor * fee_bps // 10_000)


def shortfall(amount_minor: int, tenge_available_minor: int, spend_tenge_first: bool) -> int:
    """Tenge the crypto sale must raise for the purchase (before the conversion fee)."""
    if not spend_tenge_first:
        return amount_minor
    return max(0, amount_minor - max(0, tenge_available_minor))


@dataclass(frozen=True)
class FundingPlan:
    """``legs``: (asset, tenge proceeds to raise) in sale order. ``decline_code`` set when it cannot be covered."""
    shortfall_minor: int
    fee_minor: int
    legs: tuple[tuple[str, int], ...] = ()
    decline_code: str | None = None
    reason: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def proceeds_needed_minor(self) -> int:
        return self.shortfall_minor + self.fee_minor


def plan_funding(settings: FundingSettings, shortfall_minor: int, capacity_minor: dict[str, int],
                 liquidity_limited: frozenset[str] = frozenset()) -> FundingPlan:
    """Plan the sale of ``shortfall_minor`` + fee given what each asset can raise within the slippage cap.

    ``capacity_minor[asset]`` is the tenge the customer's holding of ``asset`` can raise; an asset in
    ``liquidity_limited`` could have raised more with a deeper book (so a miss is 91, not 51).
    """
    if shortfall_minor <= 0:
        return FundingPlan(0, 0)
    fee = conversion_fee(shortfall_minor, settings.conversion_fee_bps)
    needed = shortfall_minor + fee
    legs: list[tuple[str, int]] = []
    if settings.mode == "fallback":
        for asset in settings.order:
            if capacity_minor.get(asset, 0) >= needed:
                return FundingPlan(shortfall_minor, fee, ((asset, needed),))
    else:
        remaining = needed
        for asset in settings.order:
            take = min(remaining, capacity_minor.get(asset, 0))
            if take > 0:
                legs.append((asset, take))
                remaining -= take
            if remaining == 0:
                return FundingPlan(shortfall_minor, fee, tuple(legs))
    if liquidity_limited & set(settings.order):
        return FundingPlan(shortfall_minor, fee, (), rc.ISSUER_INOPERATIVE,
                           "the exchange cannot sell enough crypto within the card's slippage cap right now")
    return FundingPlan(shortfall_minor, fee, (), rc.INSUFFICIENT_FUNDS,
                       f"tenge plus crypto ({', '.join(settings.order)}) cannot cover the amount and the "
                       f"{settings.conversion_fee_bps / 100:g}% conversion fee")
