"""Matching: one incoming order against a ``Book``. Pure, in memory, no database.

``match`` returns a ``MatchResult`` listing fills ``(maker, qty_minor, price)`` in execution order,
makers expired by self-trade prevention, and what became of the taker. Every refusal (post-only
would cross, fill-or-kill not fillable) is raised BEFORE the book is touched.

Self-trade prevention (``stp``): ``expire_taker`` (default: the newest order's remainder is
cancelled), ``expire_maker`` (the resting order is cancelled, matching continues), ``expire_both``.
"""
from __future__ import annotations

from .book import BUY, SELL, Book, Order
from .errors import FillOrKillUnfilled, InvalidOrder, PostOnlyWouldCross
from .fees import max_qty_for_budget

GTC, IOC, FOK = "GTC", "IOC", "FOK"
LIMIT, MARKET = "limit", "market"
EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH = "expire_taker", "expire_maker", "expire_both"
STP_MODES = (EXPIRE_TAKER, EXPIRE_MAKER, EXPIRE_BOTH)


class MatchResult:
    __slots__ = ("fills", "expired_makers", "rested", "stp_taker", "spent_quote")

    def __init__(self) -> None:
        self.fills: list[tuple[Order, int, int]] = []
        self.expired_makers: list[Order] = []
        self.rested = False
        self.stp_taker = False      # the taker's remainder was cancelled by self-trade prevention
        self.spent_quote = 0        # quote-budget orders: notional + fee spent


def match(book: Book, taker: Order, *, limit_price: int | None, tif: str = GTC, post_only: bool = False,
          stp: str = EXPIRE_TAKER, quote_budget: tuple[int, int, int, int] | None = None) -> MatchResult:
    """Match ``taker`` (``remaining`` base qty) against the opposite side, rest the rest if GTC.

    ``limit_price``: the worst price accepted (a limit order's price, a market order's protection
    price); None means no bound. ``quote_budget``: ``(budget_minor, fee_bps, lot, base_unit)`` for a buy that
    spends a quote amount instead of buying a base quantity (``taker.remaining`` is then an upper bound).
    """
    buy = taker.side == BUY
    if post_only:
        best = book.best_ask() if buy else book.best_bid()
        if best is not None and (best <= limit_price if buy else best >= limit_price):
            raise PostOnlyWouldCross(
                f"post-only {taker.side} at {limit_price} would trade at once against {best}; it must rest",
                price=limit_price, best_opposite=best)
        _rest(book, taker, tif)
        res = MatchResult()
        res.rested = tif == GTC
        return res
    if tif == FOK and quote_budget is None and fillable(book, taker, limit_price, stp) < taker.remaining:
        raise FillOrKillUnfilled("fill-or-kill order cannot be filled in full at once; nothing was traded",
                                 qty_minor=taker.remaining)
    res = MatchResult()
    fills = res.fills
    levels = book.asks if buy else book.bids
    best_fn = book.best_ask if buy else book.best_bid
    remaining = taker.remaining
    owner = taker.owner
    budget = quote_budget[0] if quote_budget else 0
    book_base_unit = quote_budget[3] if quote_budget is not None else 0
    stop = False
    while remaining > 0 and not stop:
        price = best_fn()
        if price is None or (limit_price is not None and (price > limit_price if buy else price < limit_price)):
            break
        level = levels[price]
        queue = level.orders
        while queue and remaining > 0:
            maker = queue[0]
            if not maker.live:
                queue.popleft()
                continue
            if maker.owner == owner:
                if stp == EXPIRE_TAKER:
                    res.stp_taker = True
                    stop = True
                    break
                book.remove(maker)
                res.expired_makers.append(maker)
                if stp == EXPIRE_BOTH:
                    res.stp_taker = True
                    stop = True
                    break
                continue
            q = remaining if remaining < maker.remaining else maker.remaining
            if quote_budget is not None:
                afford = max_qty_for_budget(price, budget, book_base_unit, quote_budget[1], quote_budget[2])
                if afford < q:
                    q = afford
                if q <= 0:
                    stop = True
                    break
                n = price * q // book_base_unit
                budget -= n + n * quote_budget[1] // 10_000
            fills.append((maker, q, price))
            remaining -= q
            maker.remaining -= q
            level.qty -= q
            if maker.remaining == 0:
                maker.live = False
                queue.popleft()
                del book.orders[maker.id]
        if level.qty == 0 and price in levels:
            del levels[price]
    taker.remaining = remaining
    if quote_budget is not None:
        res.spent_quote = quote_budget[0] - budget
    if remaining > 0 and tif == GTC and not res.stp_taker and limit_price is not None and quote_budget is None:
        _rest(book, taker, tif)
        res.rested = True
    return res


def _rest(book: Book, order: Order, tif: str) -> None:
    if tif != GTC:
        return
    order.priority = book.next_priority
    book.add(order)


def fillable(book: Book, taker: Order, limit_price: int | None, stp: str = EXPIRE_TAKER) -> int:
    """Quantity the taker could fill right now (respecting STP), counted without touching the book."""
    buy = taker.side == BUY
    need = taker.remaining
    got = 0
    for maker in book.walk(SELL if buy else BUY):
        if limit_price is not None and (maker.price > limit_price if buy else maker.price < limit_price):
            break
        if maker.owner == taker.owner:
            if stp in (EXPIRE_TAKER, EXPIRE_BOTH):
                break
            continue
        got += maker.remaining
        if got >= need:
            break
    return got


def check_enum(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidOrder(f"{what} must be one of {', '.join(allowed)}, not {value!r}", code=f"invalid_{what}")
    return value
