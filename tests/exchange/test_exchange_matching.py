"""The pure matching core: price-time priority, time in force, post-only, STP, protection prices."""
from __future__ import annotations

import random

import pytest

from exchange import BUY, SELL, Book, Order, match
from exchange.errors import FillOrKillUnfilled, PostOnlyWouldCross
from exchange.fees import buy_hold_minor, fee_minor, max_qty_for_budget, min_qty_for_net_proceeds, notional_minor
from exchange.matching import EXPIRE_BOTH, EXPIRE_MAKER, EXPIRE_TAKER, FOK, GTC, IOC

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
