"""Instruments: what trades against what, in which increments, for which fees.

Prices are ``int`` quote-minor units per ONE WHOLE base unit (BTC/KZT 45_000_000_00 = 45 000 000.00 KZT
per 1 BTC); quantities are ``int`` base-minor units (sats, gwei, micro-USDT). The sandbox builds
these objects from its configuration; the exchange never reads YAML.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ledger import DEFAULT_REGISTRY, AssetRegistry

from .errors import UnknownInstrument


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str                      # "BTC/KZT"
    base: str                        # "BTC"
    quote: str                       # "KZT"
    tick_size: int                   # price increment, quote minor per whole base unit
    lot_size: int                    # quantity increment, base minor
    min_notional_minor: int          # smallest order value, quote minor
    maker_fee_bps: int = 10
    taker_fee_bps: int = 10
    trading_enabled: bool = True
    base_decimals: int = field(default=-1)   # -1: looked up in the ledger's asset registry
    max_resting_orders: int = 200_000        # limit on book size (refuses new resting orders beyond)

    def __post_init__(self) -> None:
        if self.base_decimals < 0:
            object.__setattr__(self, "base_decimals", DEFAULT_REGISTRY.get(self.base).decimals)
        assert self.symbol == f"{self.base}/{self.quote}", "symbol must be BASE/QUOTE"
        assert self.tick_size > 0 and self.lot_size > 0 and self.min_notional_minor >= 0
        assert 0 <= self.maker_fee_bps <= 1000 and 0 <= self.taker_fee_bps <= 1000

    @property
    def base_unit(self) -> int:
        """Base minor units in one whole base unit (10**base_decimals)."""
        return 10**self.base_decimals

    def with_trading(self, enabled: bool) -> "Instrument":
        from dataclasses import replace
        return replace(self, trading_enabled=enabled)


def default_instruments(assets: AssetRegistry = DEFAULT_REGISTRY) -> list[Instrument]:
    """A sensible starting set (the sandbox may build its own from configuration)."""
    out = []
    for base, tick, lot in (("BTC", 100_00, 1_000), ("ETH", 10_00, 100_000), ("USDT", 1, 10_000)):
        for quote in ("KZT", "KZTE"):
            out.append(Instrument(f"{base}/{quote}", base, quote, tick, lot, 100_00, 10, 10,
                                  base_decimals=assets.get(base).decimals))
    return out


class InstrumentRegistry:
    def __init__(self, instruments: list[Instrument]) -> None:
        self._by_symbol = {i.symbol: i for i in instruments}
        self._by_pair = {(i.base, i.quote): i for i in instruments}

    def get(self, symbol: str) -> Instrument:
        try:
            return self._by_symbol[symbol]
        except (KeyError, TypeError):
            raise UnknownInstrument(f"no instrument {symbol!r}; listed: {', '.join(sorted(self._by_symbol))}",
                                    symbol=str(symbol)) from None

    def for_pair(self, base: str, quote: str) -> Instrument:
        try:
            return self._by_pair[(base, quote)]
        except (KeyError, TypeError):
            raise UnknownInstrument(f"no instrument trades {base} against {quote}", base=str(base),
                                    quote=str(quote)) from None

    def set(self, instrument: Instrument) -> None:
        self._by_symbol[instrument.symbol] = instrument
        self._by_pair[(instrument.base, instrument.quote)] = instrument

    def __iter__(self):
        return iter(list(self._by_symbol.values()))
