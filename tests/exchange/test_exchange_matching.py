"""The pure matching core: price-time priority, time in force, post-only, STP, protection prices."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange import BUY, SELL, Book, Order, match
from exchange.errors import FillOrKillUnfilled, PostOnlyWouldCross
from exchange.fees import buy_hold_minor, fee_minor, max_qty_for_budget, min_qty_for_net_proceeds, notional_minor
from exchange.matching import (BUDGET_SPENT, EXPIRE_BOTH, EXPIRE_MAKER, EXPIRE_TAKER, FOK, GTC, IOC, NO_LIQUIDITY,
                               PRICE_LIMIT, SELF_TRADE, STP_MODES)

_ids = iter(range(1, 10**9))


def rest(book: Book, owner: str, side: str, price: int, qty: int) -> Order:
    o = Order(next(_ids), owner, side, price, qty)
    match(book, o, limit_price=price, tif=GTC)
    assert o.live
    return o


def taker(owner: str, side: str, qty: int, price: int | None) -> Order:
    return Order(next(_ids), owner, side, price, qty)


def test_price_then_time_priority():
    book = Book("BTC/KZT")
    a = rest(book, "a", SELL, 101, 10)
    b = rest(book, "b", SELL, 100, 10)
    c = rest(book, "c", SELL, 100, 10)
    res = match(book, taker("t", BUY, 25, 101), limit_price=101, tif=IOC)
    assert [(m.owner, q, p) for m, q, p in res.fills] == [("b", 10, 100), ("c", 10, 100), ("a", 5, 101)]
    assert a.remaining == 5 and book.best_ask() == 101
    assert b.remaining == 0 and c.remaining == 0      # the two at the better price, filled in time order


def test_gtc_rests_the_rest_ioc_does_not():
    book = Book("X")
    rest(book, "m", SELL, 100, 10)
    t1 = taker("t", BUY, 15, 100)
    res = match(book, t1, limit_price=100, tif=GTC)
    assert res.rested and book.best_bid() == 100 and t1.remaining == 5
    t2 = taker("u", SELL, 20, 100)
    res = match(book, t2, limit_price=100, tif=IOC)
    assert not res.rested and t2.remaining == 15 and book.best_ask() is None


def test_fok_all_or_nothing():
    book = Book("X")
    rest(book, "m", SELL, 100, 10)
    with pytest.raises(FillOrKillUnfilled):
        match(book, taker("t", BUY, 11, 100), limit_price=100, tif=FOK)
    assert book.depth()["asks"] == [(100, 10)]          # untouched
    res = match(book, taker("t", BUY, 10, 100), limit_price=100, tif=FOK)
    assert sum(q for _, q, _ in res.fills) == 10


def test_post_only_refuses_to_cross_and_rests_otherwise():
    book = Book("X")
    rest(book, "m", SELL, 100, 10)
    with pytest.raises(PostOnlyWouldCross):
        match(book, taker("t", BUY, 5, 100), limit_price=100, post_only=True)
    res = match(book, taker("t", BUY, 5, 99), limit_price=99, post_only=True)
    assert res.rested and not res.fills and book.best_bid() == 99


def test_protection_price_bounds_a_market_order():
    book = Book("X")
    rest(book, "m", SELL, 100, 10)
    rest(book, "m", SELL, 120, 10)
    t = taker("t", BUY, 20, None)
    res = match(book, t, limit_price=110, tif=IOC)
    assert [p for _, _, p in res.fills] == [100] and t.remaining == 10 and book.best_ask() == 120


@pytest.mark.parametrize("mode, maker_left, taker_filled", [
    (EXPIRE_TAKER, True, 0), (EXPIRE_MAKER, False, 10), (EXPIRE_BOTH, False, 0)])
def test_self_trade_prevention(mode, maker_left, taker_filled):
    book = Book("X")
    mine = rest(book, "me", SELL, 100, 10)
    rest(book, "other", SELL, 101, 10)
    t = taker("me", BUY, 10, 101)
    res = match(book, t, limit_price=101, tif=IOC, stp=mode)
    assert mine.live is maker_left
    assert sum(q for _, q, _ in res.fills) == taker_filled
    assert all(m.owner != "me" for m, _, _ in res.fills)


def test_cancel_and_reduce_keep_book_consistent():
    book = Book("X")
    a = rest(book, "a", BUY, 100, 10)
    b = rest(book, "b", BUY, 100, 10)
    book.reduce(b, 4)
    book.remove(a)
    assert book.depth()["bids"] == [(100, 4)]
    res = match(book, taker("t", SELL, 10, 100), limit_price=100, tif=IOC)
    assert [(m.owner, q) for m, q, _ in res.fills] == [("b", 4)]
    assert book.best_bid() is None


def test_rounding_helpers_never_overspend_and_buy_all_a_budget_pays_for():
    rng = random.Random(3)
    for _ in range(2000):
        price = rng.randint(1, 10**10)
        lot = rng.choice([1, 10, 1000])
        budget = rng.randint(1, 10**9)
        q = max_qty_for_budget(price, budget, 10**8, 20, lot)
        assert buy_hold_minor(price, q, 10**8, 20) <= budget < buy_hold_minor(price, q + lot, 10**8, 20)
        assert q % lot == 0
        need = rng.randint(1, 10**7)
        q2 = min_qty_for_net_proceeds(price, need, 10**8, 20, lot)
        n = notional_minor(price, q2, 10**8)
        assert n - fee_minor(n, 20) >= need
        if q2 > lot:
            n = notional_minor(price, q2 - lot, 10**8)
            assert n - fee_minor(n, 20) < need


def test_same_seed_same_trades_in_memory():
    def run(seed):
        rng, book, out = random.Random(seed), Book("X"), []
        for i in range(3000):
            o = Order(i + 1, f"o{rng.randint(1, 9)}", rng.choice([BUY, SELL]), 1000 + rng.randint(-20, 20),
                      rng.randint(1, 50))
            out += [(m.id, o.id, q, p) for m, q, p in match(book, o, limit_price=o.price,
                                                             tif=rng.choice([GTC, IOC])).fills]
        return out, book.snapshot()
    assert run(5) == run(5)
    assert run(5) != run(6)


def _budget(budget_minor: int, fee_bps: int = 20, lot: int = 10, unit: int = 1) -> tuple[int, int, int, int]:
    return (budget_minor, fee_bps, lot, unit)   # unit 1: a fill costs price * qty, plus 0.2%


def test_fok_market_buy_by_quote_fills_the_whole_budget_or_nothing():
    """A budget the book cannot spend in full (to the lot) within the protection price trades nothing."""
    book = Book("X")
    rest(book, "m", SELL, 100, 50)            # 5 010 with the fee
    rest(book, "m", SELL, 120, 50)            # 6 012
    before = book.snapshot()
    with pytest.raises(FillOrKillUnfilled):   # the book ends with 1 978 left: a lot more costs 1 202
        match(book, taker("t", BUY, 10**9, 130), limit_price=130, tif=FOK, quote_budget=_budget(13_000))
    with pytest.raises(FillOrKillUnfilled):   # the protection price ends it with 1 990 left: a lot costs 1 002
        match(book, taker("t", BUY, 10**9, 110), limit_price=110, tif=FOK, quote_budget=_budget(7_000))
    assert book.snapshot() == before
    # 8 000 buys 50 @100 (5 010) and 20 @120 (2 404); the 586 left cannot pay another lot (1 202)
    res = match(book, taker("t", BUY, 10**9, 130), limit_price=130, tif=FOK, quote_budget=_budget(8_000))
    assert [(q, p) for _, q, p in res.fills] == [(50, 100), (20, 120)] and res.spent_quote == 7_414
    assert res.stopped == BUDGET_SPENT and book.depth()["asks"] == [(120, 30)]


def test_fok_budget_that_empties_the_book_to_the_lot_fills():
    """The book running out as the budget does is a full fill: what is left buys no lot at any price left."""
    book = Book("X")
    rest(book, "m", SELL, 100, 50)
    res = match(book, taker("t", BUY, 10**9, 110), limit_price=110, tif=FOK, quote_budget=_budget(6_000))
    assert [(q, p) for _, q, p in res.fills] == [(50, 100)] and book.best_ask() is None
    rest(book, "m", SELL, 100, 50)
    with pytest.raises(FillOrKillUnfilled):      # 6 020 left after 50 @100: it could buy more
        match(book, taker("t", BUY, 10**9, 110), limit_price=110, tif=FOK, quote_budget=_budget(11_030))
    assert book.depth()["asks"] == [(100, 50)]


def test_fok_budget_stopped_by_self_trade_prevention_trades_nothing():
    book = Book("X")
    rest(book, "m", SELL, 100, 20)
    mine = rest(book, "t", SELL, 101, 20)
    rest(book, "m", SELL, 102, 50)
    with pytest.raises(FillOrKillUnfilled):      # 2 004 spent, then the owner's own ask
        match(book, taker("t", BUY, 10**9, 110), limit_price=110, tif=FOK, quote_budget=_budget(6_000))
    assert mine.live and book.depth()["asks"] == [(100, 20), (101, 20), (102, 50)]
    res = match(book, taker("t", BUY, 10**9, 110), limit_price=110, tif=FOK, stp=EXPIRE_MAKER,
                quote_budget=_budget(6_000))
    assert not mine.live and [(q, p) for _, q, p in res.fills] == [(20, 100), (30, 102)]


@settings(max_examples=200, deadline=None)
@given(asks=st.lists(st.tuples(st.integers(90, 130), st.integers(1, 8), st.booleans()), max_size=8),
       budget=st.integers(1, 12_000), limit=st.integers(95, 140), stp=st.sampled_from(STP_MODES))
def test_fok_by_budget_is_ioc_when_ioc_spends_the_budget_and_nothing_otherwise(asks, budget, limit, stp):
    def book_of() -> Book:
        b = Book("X")
        for i, (price, lots, own) in enumerate(asks):
            b.add(Order(1_000 + i, "t" if own else "m", SELL, price, lots * 10, priority=i + 1))
        return b
    ioc_book, fok_book = book_of(), book_of()
    ioc = match(ioc_book, Order(1, "t", BUY, limit, 10**9), limit_price=limit, tif=IOC, stp=stp,
                quote_budget=_budget(budget))
    left = budget - ioc.spent_quote
    assert left >= 0
    if ioc.fills and ioc.stopped == BUDGET_SPENT:
        fok = match(fok_book, Order(1, "t", BUY, limit, 10**9), limit_price=limit, tif=FOK, stp=stp,
                    quote_budget=_budget(budget))
        assert [(m.id, q, p) for m, q, p in fok.fills] == [(m.id, q, p) for m, q, p in ioc.fills]
        assert fok_book.snapshot() == ioc_book.snapshot()
        # spent to the lot: not one more lot of anything still on offer within the limit is affordable
        assert all(max_qty_for_budget(o.price, left, 1, 20, 10) == 0 for o in fok_book.walk(SELL)
                   if o.price <= limit and o.owner != "t")
    else:
        with pytest.raises(FillOrKillUnfilled):
            match(fok_book, Order(1, "t", BUY, limit, 10**9), limit_price=limit, tif=FOK, stp=stp,
                  quote_budget=_budget(budget))
        assert fok_book.snapshot() == book_of().snapshot()


@pytest.mark.parametrize("budget, limit, own, stopped", [
    (20_000, 200, False, NO_LIQUIDITY), (20_000, 110, False, PRICE_LIMIT), (20_000, 200, True, SELF_TRADE),
    (3_000, 200, False, BUDGET_SPENT), (50, 200, False, BUDGET_SPENT)])
def test_a_walk_says_why_it_stopped(budget, limit, own, stopped):
    book = Book("X")
    rest(book, "m", SELL, 100, 20)
    rest(book, "t" if own else "m", SELL, 120, 20)
    res = match(book, taker("t", BUY, 10**9, limit), limit_price=limit, tif=IOC, quote_budget=_budget(budget))
    assert res.stopped == stopped
    assert match(Book("Y"), taker("t", BUY, 10, 100), limit_price=100, tif=IOC).stopped == NO_LIQUIDITY


def test_cancelled_orders_leave_nothing_behind():
    """100 000 add/cancel cycles, at a live level and at levels that come and go, leave the book (its
    memory, and so the card's quote walk) the size of its live orders."""
    import tracemalloc

    import exchange
    book = Book("X")
    live = [rest(book, "mm", SELL, 1_000, 10), rest(book, "mm", BUY, 900, 10)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(100_000):
            side, price = (SELL, 1_000 + i % 7) if i % 2 else (BUY, 900 - i % 5)   # some at a live level
            book.remove(rest(book, f"u{i % 3}", side, price, 10))
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    where = [tracemalloc.Filter(True, exchange.__path__[0] + "/*")]
    grown = sum(s.size_diff for s in after.filter_traces(where).compare_to(before.filter_traces(where), "filename"))
    assert grown < 64 * 1024, f"the book kept {grown} bytes after the cancels"
    assert [len(side[p].orders) for side, p in ((book.asks, 1_000), (book.bids, 900))] == [1, 1]
    assert book.snapshot() == [(o.side, o.price, o.priority, o.id, o.owner, o.remaining) for o in live[::-1]]
    fresh = Book("X")
    for o in live:
        fresh.add(o)
    assert book.entries() == fresh.entries()
