"""Market makers: participants (owner ``mm:{name}``) that quote ladders around the seeded price model.

On every ``requote(uow, now)`` the price model advances to sandbox time ``now`` and each maker cancels
its open orders and posts ``levels`` bids and asks, ``spread_bps / 2`` either side of the model price and
``step_bps`` apart. Same seed and same requote times => same quotes, hence same trades.
Market makers need funds like anyone else: the sandbox deposits them; a level the maker cannot fund
is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ledger import DEFAULT_REGISTRY
from sqlalchemy import and_, select

from . import tables as t
from .book import BUY, SELL
from .errors import ExchangeError
from .fees import BPS

MAX_LEVELS = 50
PAR_QUOTES = ("KZT", "KZTE")   # KZTE is 1:1 with KZT


@dataclass(frozen=True)
class MarketMaker:
    name: str
    symbols: tuple[str, ...]
    levels: int = 5
    size_minor: dict = field(default_factory=dict)   # symbol -> base qty per level (lot multiple)
    spread_bps: int = 20
    step_bps: int = 10

    @property
    def owner(self) -> str:
        return f"mm:{self.name}"


class MarketMakers:
    def __init__(self, exchange, price_model=None) -> None:
        self.exchange = exchange
        self.price_model = price_model
        self.makers: list[MarketMaker] = []

    def add(self, maker: MarketMaker) -> MarketMaker:
        assert 1 <= maker.levels <= MAX_LEVELS, f"levels must be 1..{MAX_LEVELS}"
        self.makers.append(maker)
        return maker

    def model_price(self, symbol: str) -> int:
        """The price model's price of ``symbol`` in quote minor per whole base, on the instrument's tick."""
        inst = self.exchange.instruments.get(symbol)
        pm = self.price_model
        base_kzt = pm.price_minor(inst.base)
        if inst.quote in PAR_QUOTES:
            price = base_kzt
        else:
            qd = DEFAULT_REGISTRY.get(inst.quote).decimals
            price = base_kzt * 10**qd // pm.price_minor(inst.quote)   # both legs priced in KZT minor
        return max(inst.tick_size, price - price % inst.tick_size)

    def requote(self, uow, now: datetime) -> int:
        """Advance the model to ``now`` and replace every maker's ladder; returns orders placed."""
        if self.price_model is None or not self.makers:
            return 0
        self.price_model.advance(now)
        ex = self.exchange
        placed = 0
        for mm in self.makers:
            for symbol in mm.symbols:
                inst = ex.instruments.get(symbol)
                if not inst.trading_enabled:
                    continue
                o = t.orders.c
                open_ids = uow.conn.execute(select(o.id).where(and_(o.owner == mm.owner, o.symbol == symbol,
                                                                    o.status == "open")).order_by(o.id)).scalars().all()
                for order_id in open_ids:
                    ex.cancel_order(uow, mm.owner, order_id)
                mid = self.model_price(symbol)
                size = mm.size_minor.get(symbol, inst.lot_size * 10)
                size -= size % inst.lot_size
                tick = inst.tick_size
                for i in range(mm.levels):
                    off = mm.spread_bps * 5_000 + i * mm.step_bps * BPS   # in bps * BPS (keeps integers)
                    bid = mid * (BPS * BPS - off) // (BPS * BPS)
                    bid -= bid % tick
                    ask = -(-mid * (BPS * BPS + off) // (BPS * BPS))
                    ask = -(-ask // tick) * tick
                    for side, price in ((BUY, bid), (SELL, ask)):
                        try:
                            ex.place_order(uow, mm.owner, symbol, side, "limit", qty_minor=size, price_minor=price)
                            placed += 1
                        except ExchangeError:
                            continue  # unfunded level or below minimum: skip it, quote the rest
        return placed
