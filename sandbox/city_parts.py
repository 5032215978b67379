"""Pieces of the CryptoCity composition: configuration -> exchange, card settings, market-maker funding."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ledger import Posting

from .config import CityConfig

MM_FUNDING_MULTIPLE = 50   # market makers hold this many full ladders of each side (they requote often)
PAR_ASSETS = ("KZT", "KZTE")


class AssetBook:
    """Decimals per configured asset."""

    def __init__(self, cfg: CityConfig) -> None:
        self.decimals = {a.code: a.decimals for a in cfg.assets}

    def unit(self, asset: str) -> int:
        return 10 ** self.decimals[asset]


def _minor(value: Decimal, decimals: int) -> int:
    scaled = value * (Decimal(10) ** decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} has more than {decimals} decimals")
    return int(scaled)


def build_exchange(ledger, cfg: CityConfig, seed: int, start: datetime):
    """The AIFC exchange with the configured instruments, a seeded price model and market makers."""
    from exchange import AssetDynamics, Exchange, Instrument, MarketMaker, PriceModel
    book = AssetBook(cfg)
    instruments = []
    for i in cfg.instruments:
        instruments.append(Instrument(i.symbol, i.base, i.quote, tick_size=_minor(i.tick, book.decimals[i.quote]),
                                      lot_size=_minor(i.lot, book.decimals[i.base]),
                                      min_notional_minor=i.min_notional_minor, maker_fee_bps=i.maker_fee_bps,
                                      taker_fee_bps=i.taker_fee_bps, base_decimals=book.decimals[i.base]))
    dynamics = {}
    for a in cfg.assets:
        if a.code == "KZT":
            continue
        dynamics[a.code] = AssetDynamics(int(a.reference_price_kzt * 100), a.drift, a.volatility)
    model = PriceModel(seed=seed, dynamics=dynamics, start=start)
    ex = Exchange(ledger, instruments, model)
    for n, mm in enumerate(cfg.market_makers):
        inst = ex.instruments.get(mm.instrument)
        size = _minor(mm.size, book.decimals[inst.base])
        ex.market_makers.add(MarketMaker(f"mm{n + 1}-{inst.base.lower()}-{inst.quote.lower()}", (inst.symbol,),
                                         levels=mm.levels, size_minor={inst.symbol: size}, spread_bps=mm.spread_bps))
    return ex


def fund_market_makers(uow, ex, world) -> None:
    """Give every market maker enough base and quote for many ladders (money enters from the world)."""
    for mm in ex.market_makers.makers:
        for symbol in mm.symbols:
            inst = ex.instruments.get(symbol)
            size = mm.size_minor.get(symbol, inst.lot_size * 10)
            base_qty = size * mm.levels * MM_FUNDING_MULTIPLE
            price = ex.market_makers.model_price(symbol)
            quote_qty = price * base_qty // inst.base_unit * 2
            for asset, amount in ((inst.base, base_qty), (inst.quote, quote_qty)):
                code = f"customer:{mm.owner}:{asset}"
                acct = uow.find_account(code) or uow.open_account(mm.owner, asset, "customer")
                uow.transfer([Posting(world(uow, asset), -amount), Posting(acct.id, amount)],
                             memo=f"market maker {mm.name} funded")


def funding_settings(cfg: CityConfig):
    from card import FundingSettings
    c = cfg.card
    return FundingSettings(order=tuple(c.funding_order), slippage_cap_bps=c.slippage_cap_bps,
                           conversion_fee_bps=c.conversion_fee_bps, mode=c.funding_mode)


def spend_controls(cfg: CityConfig):
    from card import SpendControls
    c = cfg.card
    return SpendControls(per_transaction_limit_minor=c.per_transaction_limit_minor, daily_limit_minor=c.daily_limit_minor,
                         daily_count_limit=c.daily_count_limit, blocked_mccs=programme_blocked_mccs(cfg))


def permitted_kinds(cfg: CityConfig) -> frozenset[str]:
    """What the programme lets a card do: purchases, and ATM withdrawals or P2P transfers if it allows them."""
    from card import kinds
    return kinds.PILOT_KINDS | ({kinds.ATM_WITHDRAWAL} if cfg.card.allow_atm else set()) | (
        {kinds.P2P} if cfg.card.allow_p2p else set())


def programme_blocked_mccs(cfg: CityConfig) -> frozenset[str]:
    """The programme's blocked categories, less the cash or P2P ones of the kinds it permits."""
    from card import kinds
    return kinds.programme_blocked_mccs(frozenset(cfg.card.blocked_mccs), permitted_kinds(cfg))
