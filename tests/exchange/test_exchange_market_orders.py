"""Market orders through the public API: fill-or-kill by quote amount, and what an order that stopped
short says about why (protection price, empty book, self-trade prevention)."""
from __future__ import annotations

import pytest
from exchange_helpers import LOT, P, balance, fund, open_exchange, place, refused, rich

from exchange.errors import FillOrKillUnfilled
from exchange.fees import buy_hold_minor

P2 = P + 10_000_00                 # the second ask level


def cost(price: int, qty_minor: int) -> int:
    """What a taker pays for ``qty_minor`` at ``price`` (taker fee 20 bps included)."""
    return buy_hold_minor(price, qty_minor, 10**8, 20)


@pytest.fixture
def env(db_url, clock):
    """Two ask levels of 10 lots each (P and P2) and a buyer with 10 000 000.00 KZT."""
    ledger, ex = open_exchange(db_url, clock)
    rich(ledger, "mm")
    place(ledger, ex, "mm", "BTC/KZT", "sell", "limit", qty_minor=10 * LOT, price_minor=P)
    place(ledger, ex, "mm", "BTC/KZT", "sell", "limit", qty_minor=10 * LOT, price_minor=P2)
    fund(ledger, "c", "KZT", 10_000_000_00)
    yield ledger, ex
    ledger.db.dispose()


def test_fok_market_buy_by_quote_refused_when_the_book_cannot_take_the_whole_budget(env):
    ledger, ex = env
    more_than_the_book = cost(P, 10 * LOT) + cost(P2, 10 * LOT) + cost(P2, LOT)
    refused(ledger, ex, FillOrKillUnfilled, "fok_not_fillable", "c", "BTC/KZT", "buy", "market",
            quote_qty_minor=more_than_the_book, tif="FOK")
    # the protection price leaves only the first level: 15 lots' worth cannot be spent there
    refused(ledger, ex, FillOrKillUnfilled, "fok_not_fillable", "c", "BTC/KZT", "buy", "market",
            quote_qty_minor=cost(P, 15 * LOT), tif="FOK", protection_price_minor=P)


def test_fok_market_buy_by_quote_fills_the_largest_whole_lot_quantity(env):
    ledger, ex = env
    budget = cost(P, 10 * LOT) + cost(P2, 5 * LOT) + cost(P2, LOT) - 1      # one unit short of a 16th lot
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", quote_qty_minor=budget, tif="FOK")
    assert (r.status, r.reason, r.filled_qty_minor) == ("filled", None, 15 * LOT)
    assert [(f.price_minor, f.qty_minor) for f in r.fills] == [(P, 10 * LOT), (P2, 5 * LOT)]
    assert balance(ledger, "c", "BTC").ledger_minor == 15 * LOT
    assert balance(ledger, "c", "KZT").ledger_minor == 10_000_000_00 - cost(P, 10 * LOT) - cost(P2, 5 * LOT)
    # the rest of the book to the lot, with less than a lot's price to spare: a full fill too
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", quote_qty_minor=cost(P2, 5 * LOT) + 1_000, tif="FOK")
    assert (r.status, r.filled_qty_minor) == ("filled", 5 * LOT) and ex.depth("BTC/KZT")["asks"] == []
    ledger.verify()


def test_a_market_buy_by_quote_stopped_short_is_expired_with_what_it_filled(env):
    ledger, ex = env
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", quote_qty_minor=cost(P, 15 * LOT), protection_price_minor=P)
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "protection_price", 10 * LOT)
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", quote_qty_minor=cost(P2, 15 * LOT))
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "no_liquidity", 10 * LOT)
    with ledger.unit_of_work(read_only=True) as uow:
        assert ex.order(uow, r.order_id).status == "expired"     # as stored, not only as returned
    assert balance(ledger, "c", "BTC").ledger_minor == 20 * LOT
    ledger.verify()


def test_a_budget_below_one_lot_buys_nothing_and_says_so(env):
    ledger, ex = env
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", quote_qty_minor=cost(P, LOT) - 1)
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "budget_below_lot", 0)
    assert balance(ledger, "c", "KZT").ledger_minor == 10_000_000_00
    ledger.verify()


def test_a_market_order_stopped_by_self_trade_prevention_says_so(env):
    ledger, ex = env
    fund(ledger, "c", "BTC", 10 * LOT)
    place(ledger, ex, "c", "BTC/KZT", "sell", "limit", qty_minor=10 * LOT, price_minor=P)    # behind mm's ask at P
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", quote_qty_minor=cost(P, 15 * LOT))
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "self_trade_prevention", 10 * LOT)
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", quote_qty_minor=cost(P, 5 * LOT))
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "self_trade_prevention", 0)
    r = place(ledger, ex, "c", "BTC/KZT", "buy", "market", qty_minor=5 * LOT)
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "self_trade_prevention", 0)
    ledger.verify()


def test_a_market_order_by_quantity_says_why_it_stopped(env):
    ledger, ex = env
    rich(ledger, "t")
    r = place(ledger, ex, "t", "BTC/KZT", "buy", "market", qty_minor=15 * LOT, protection_price_minor=P)
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "protection_price", 10 * LOT)
    r = place(ledger, ex, "t", "BTC/KZT", "buy", "market", qty_minor=15 * LOT)
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "no_liquidity", 10 * LOT)
    # a limit IOC keeps its own word for it
    place(ledger, ex, "mm", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=P)
    r = place(ledger, ex, "t", "BTC/KZT", "buy", "limit", qty_minor=2 * LOT, price_minor=P, tif="IOC")
    assert (r.status, r.reason, r.filled_qty_minor) == ("expired", "ioc_unfilled", LOT)
    assert balance(ledger, "t", "KZT").held_minor == 0
    ledger.verify()
