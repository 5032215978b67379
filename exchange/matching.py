"""Matching: one incoming order against a ``Book``. Pure, in memory, no database.

Matching runs in two steps so that every refusal comes before anything changes:

* ``prepare`` walks the book WITHOUT touching it and works out the fills ``(maker, qty_minor, price)``
  in execution order, the makers self-trade prevention expires, why the walk stopped and whether the
  remainder rests; it raises the refusals (post-only would cross, fill-or-kill not fillable in full);
* ``execute`` applies that plan to the book.

``match`` is both at once. The service prepares before it writes anything to the database and
executes once the order row exists.

Self-trade prevention (``stp``): ``expire_taker`` (default: the newest order's remainder is
cancelled), ``expire_maker`` (the resting order is cancelled, matching continues), ``expire_both``.
"""
from __future__ import annotations

from .book import BUY, SELL, Book, Order
from .errors import INVALID_ENUM_CODES, FillOrKillUnfilled, InvalidOrder, PostOnlyWouldCross
from .fees import fee_minor, max_qty_for_budget, notional_minor

GTC, IOC, FOK = "GTC", "IOC", "FOK"
LIMIT, MARKET = "limit", "market"
EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH = "expire_taker", "expire_maker", "expire_both"
STP_MODES = (EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH)

# Why a walk stopped before the taker was done (``MatchResult.stopped``; None: it was done).
NO_LIQUIDITY = "no_liquidity"              # the opposite side ran out
PRICE_LIMIT = "price_limit"                # the next price is beyond the limit (or protection) price
SELF_TRADE = "self_trade_prevention"       # the next resting order is the taker's owner's own
BUDGET_SPENT = "budget_spent"              # a quote budget cannot buy one more lot at any price left


class MatchResult:
    __slots__ = ("fills", "expired_makers", "rested", "stopped", "spent_quote", "rests")

    def __init__(self) -> None:
        self.fills: list[tuple[Order, int, int]] = []
        self.expired_makers: list[Order] = []
        self.rested = False         # the remainder rests on the book (set by ``execute``)
        self.stopped: str | None = None
        self.spent_quote = 0        # quote-budget orders: notional + fee spent
        self.rests = False          # a remainder would rest (GTC with a limit price)


def prepare(book: Book, taker: Order, *, limit_price: int | None, tif: str = GTC, post_only: bool = False,
            stp: str = EXPIRE_TAKER, quote_budget: tuple[int, int, int, int] | None = None) -> MatchResult:
    """What matching ``taker`` (``remaining`` base qty) now would do, without touching the book.

    ``limit_price``: the worst price accepted (a limit order's price, a market order's protection
    price); None means no bound. ``quote_budget``: ``(budget_minor, fee_bps, lot, base_unit)`` for a buy
    that spends a quote amount instead of buying a base quantity (``taker.remaining`` is then an upper
    bound). Raises ``PostOnlyWouldCross`` and, for ``tif=FOK``, ``FillOrKillUnfilled`` unless the whole
    quantity — or the whole budget, to the lot — can be filled now within ``limit_price``.
    """
    buy = taker.side == BUY
    res = MatchResult()
    if post_only:
        best = book.best_ask() if buy else book.best_bid()
        if best is not None and (best <= limit_price if buy else best >= limit_price):
            raise PostOnlyWouldCross(
                f"post-only {taker.side} at {limit_price} would trade at once against {best}; it must rest",
                price_minor=limit_price, best_opposite_minor=best)
        res.rests = tif == GTC
        return res
    # the common case first: nothing to trade against at an acceptable price (no walk needed)
    best = book.best_ask() if buy else book.best_bid()
    if best is None:
        res.stopped = NO_LIQUIDITY
    elif limit_price is not None and (best > limit_price if buy else best < limit_price):
        res.stopped = PRICE_LIMIT
    else:
        res.stopped = _walk(book, taker, limit_price, stp, quote_budget, res)
    if quote_budget is not None and res.stopped is not None and _spent_to_the_lot(res, quote_budget):
        res.stopped = BUDGET_SPENT
    if tif == FOK:
        done = (res.stopped in (None, BUDGET_SPENT) and res.fills) if quote_budget is not None else (
            res.stopped is None)
        if not done and quote_budget is not None:
            raise FillOrKillUnfilled(f"fill-or-kill order cannot spend its {quote_budget[0]} quote minor units "
                                     "in full right now (to the lot); nothing was traded", budget_minor=quote_budget[0])
        if not done:
            raise FillOrKillUnfilled(f"fill-or-kill order cannot be filled in full ({taker.remaining} minor units) "
                                     "right now; nothing was traded", qty_minor=taker.remaining)
    res.rests = (tif == GTC and res.stopped != SELF_TRADE and limit_price is not None and quote_budget is None)
    return res


def _walk(book: Book, taker: Order, limit_price: int | None, stp: str, quote_budget, res: MatchResult) -> str | None:
    """Add to ``res`` the fills and expired makers of matching ``taker`` now; returns why the walk stopped
    (None: the taker is done). Reads the book, never changes it."""
    buy = taker.side == BUY
    side, levels = (SELL, book.asks) if buy else (BUY, book.bids)
    fills = res.fills
    remaining = taker.remaining
    owner = taker.owner
    if quote_budget is not None:
        budget, fee_bps, lot, unit = quote_budget
    for rank in range(len(levels)):
        price = book.price_at(side, rank)
        if limit_price is not None and (price > limit_price if buy else price < limit_price):
            return PRICE_LIMIT
        for maker in levels[price].orders.values():
            if maker.owner == owner:
                if stp == EXPIRE_MAKER:
                    res.expired_makers.append(maker)
                    continue
                if stp == EXPIRE_BOTH:
                    res.expired_makers.append(maker)
                return SELF_TRADE
            left = maker.remaining
            if quote_budget is None:
                q = remaining if remaining < left else left
                fills.append((maker, q, price))
                remaining -= q
            else:
                # a budget may buy from one maker in several fills: each fill's fee is rounded on its own
                while left and remaining:
                    q = min(remaining, left, max_qty_for_budget(price, budget, unit, fee_bps, lot))
                    if q <= 0:
                        break
                    n = notional_minor(price, q, unit)
                    budget -= n + fee_minor(n, fee_bps)
                    res.spent_quote = quote_budget[0] - budget
                    fills.append((maker, q, price))
                    remaining -= q
                    left -= q
                if left:   # this maker has more; the budget cannot pay for another lot of it
                    return BUDGET_SPENT
            if remaining == 0:
                return None
    return NO_LIQUIDITY


def _spent_to_the_lot(res: MatchResult, quote_budget) -> bool:
    """A quote budget is spent to the lot: what is left cannot buy one more lot at the last price paid,
    nor at any later one, which is no better."""
    if res.stopped == BUDGET_SPENT:
        return True
    budget, fee_bps, lot, unit = quote_budget
    return bool(res.fills) and max_qty_for_budget(res.fills[-1][2], budget - res.spent_quote, unit, fee_bps,
                                                  lot) == 0


def execute(book: Book, taker: Order, res: MatchResult) -> MatchResult:
    """Apply a prepared ``res`` to the book: fills, expired makers, and rest the remainder if it rests.
    ``taker.remaining`` ends as what is left of it."""
    for maker in res.expired_makers:
        book.remove(maker)
    for maker, q, _ in res.fills:
        book.fill(maker, q)
        taker.remaining -= q
    if res.rests and taker.remaining > 0:
        taker.priority = book.next_priority
        book.add(taker)
        res.rested = True
    return res


def match(book: Book, taker: Order, *, limit_price: int | None, tif: str = GTC, post_only: bool = False,
          stp: str = EXPIRE_TAKER, quote_budget: tuple[int, int, int, int] | None = None) -> MatchResult:
    """Match ``taker`` against the opposite side and rest the rest if GTC (``prepare`` then ``execute``)."""
    return execute(book, taker, prepare(book, taker, limit_price=limit_price, tif=tif, post_only=post_only,
                                        stp=stp, quote_budget=quote_budget))


def check_enum(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidOrder(f"{what} must be one of {', '.join(allowed)}, not {value!r}", code=INVALID_ENUM_CODES[what])
    return value
