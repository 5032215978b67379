"""What the exchange hands back: order results, quotes and sale results (plain frozen dataclasses)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Fill:
    trade_id: int
    price_minor: int        # quote minor units per whole base unit
    qty_minor: int
    notional_minor: int
    fee_minor: int          # this order's fee on this fill (the taker's fee, or the maker's)
    liquidity: str = "taker"  # "taker": the order traded on arrival; "maker": it was resting


# Where a unit of work collects the fills of resting orders it caused (``uow.memo``; see take_maker_fills).
MAKER_FILLS = "exchange.maker_fills"


@dataclass(frozen=True, slots=True)
class MakerFill:
    """A resting order traded by someone else's order in this unit of work: what its owner bought or
    sold, and the maker fee it paid (in the quote asset)."""
    trade_id: int
    symbol: str
    order_id: int
    owner: str
    side: str               # the maker order's side
    price_minor: int
    qty_minor: int
    notional_minor: int
    fee_minor: int
    order_filled: bool      # nothing of the maker order is left


def take_maker_fills(uow) -> list[MakerFill]:
    """The maker fills this unit of work made so far, oldest first, and forget them (each is taken once).
    A savepoint that rolls back takes its own back with it (``uow.memo`` is restored)."""
    return uow.memo.pop(MAKER_FILLS, [])


@dataclass(frozen=True, slots=True)
class OrderResult:
    order_id: int
    symbol: str
    owner: str
    side: str
    type: str
    tif: str
    status: str             # open, filled, cancelled, expired, replaced
    reason: str | None
    price_minor: int | None  # the limit price, quote minor units per whole base unit (None: market)
    qty_minor: int
    filled_qty_minor: int
    remaining_minor: int
    quote_filled_minor: int  # sum of fill notionals
    fee_minor: int
    fills: tuple[Fill, ...] = ()
    replayed: bool = False

    @property
    def trade_ids(self) -> list[int]:
        return [f.trade_id for f in self.fills]


@dataclass(frozen=True, slots=True)
class SellQuote:
    symbol: str
    base_qty_minor: int
    gross_minor: int         # sum of notionals before the taker fee
    fee_minor: int
    proceeds_minor: int      # net of the fee, >= proceeds_needed_minor
    surplus_minor: int       # proceeds beyond what was asked (a sale is made of whole lots)
    avg_price_minor: int     # quote minor units per whole base unit, to the nearest unit
    mid_price_minor: int
    worst_price_minor: int
    slippage_bps: int        # how far the average is below mid, rounded up
    levels: int              # price levels walked


@dataclass(frozen=True, slots=True)
class SaleResult:
    symbol: str
    asset: str
    quote_asset: str
    sold_qty_minor: int
    proceeds_minor: int      # net of the taker fee, credited to customer:{owner}:{quote_asset}
    surplus_minor: int       # proceeds_minor - proceeds_needed_minor (< value of one lot)
    avg_price_minor: int     # quote minor units per whole base unit, to the nearest unit
    fee_minor: int
    slippage_bps: int
    order_id: int
    trade_ids: list[int] = field(default_factory=list)
