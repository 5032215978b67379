"""The card's port: quote_sell / instant_sell inside the caller's unit of work; market makers; determinism."""
from __future__ import annotations

from datetime import timedelta

import pytest
from exchange_helpers import P, balance, fund, open_exchange, place, rich
from sqlalchemy import text

from exchange import MarketMaker
from exchange.errors import (InsufficientBalance, InvalidOrder, NoLiquidity, SlippageExceeded, TradingHalted,
                             UnknownInstrument)


@pytest.fixture
def env(db_url, clock):
    ledger, ex = open_exchange(db_url, clock)
    rich(ledger, "mm")
    for i in range(5):   # a ladder of bids, 10 000 KZT apart, 0.01 BTC each
        place(ledger, ex, "mm", "BTC/KZT", "buy", "limit", qty_minor=1_000_000, price_minor=P - i * 10_000_00)
    place(ledger, ex, "mm", "BTC/KZT", "sell", "limit", qty_minor=1_000_000, price_minor=P + 10_000_00)
    fund(ledger, "card", "BTC", 10**8)
    yield ledger, ex
    ledger.db.dispose()


def test_instant_sell_pays_at_least_the_exact_proceeds(env):
    ledger, ex = env
    with ledger.unit_of_work() as uow:
        q = ex.quote_sell(uow, "BTC", 1_000_000_00, "KZT")
        sale = ex.instant_sell(uow, "card", "BTC", 1_000_000_00, "KZT", slippage_cap_bps=100)
        uow.commit()
    assert sale.sold_qty_minor == q.base_qty_minor and sale.proceeds_minor == q.proceeds_minor
    assert sale.proceeds_minor >= 1_000_000_00 and sale.surplus_minor == sale.proceeds_minor - 1_000_000_00
    # the surplus is worth less than one lot
    assert sale.surplus_minor < 1_000 * P // 10**8
    assert balance(ledger, "card", "KZT").ledger_minor == sale.proceeds_minor
    assert balance(ledger, "card", "BTC").ledger_minor == 10**8 - sale.sold_qty_minor
    assert balance(ledger, "card", "BTC").held_minor == 0
    assert len(sale.trade_ids) == 3 and q.levels == 3          # 2.2 levels of 450 000 KZT walked
    assert sale.slippage_bps == q.slippage_bps > 0
    ledger.verify()


def test_instant_sell_settles_straight_to_proceeds_to(env):
    """A card's sale pays its bank account directly; the exchange account gets nothing, and an account
    in another asset is refused with nothing changed."""
    ledger, ex = env
    with ledger.unit_of_work() as uow:
        bank = uow.open_account("bank:card", "KZT", "customer").id
        wrong = uow.open_account("bank:card", "USDT", "customer").id
        uow.commit()
    for bad in (wrong, 10**9, "1"):
        with pytest.raises(InvalidOrder, match="cannot settle to account") as refused:
            with ledger.unit_of_work() as uow:
                ex.instant_sell(uow, "card", "BTC", 100_000_00, "KZT", 100, proceeds_to=bad)
        assert refused.value.code == "invalid_proceeds_account"
    assert balance(ledger, "card", "BTC").ledger_minor == 10**8
    with ledger.unit_of_work() as uow:
        sale = ex.instant_sell(uow, "card", "BTC", 100_000_00, "KZT", 100, proceeds_to=bank)
        uow.commit()
    with ledger.unit_of_work(read_only=True) as uow:
        assert uow.balance(bank).ledger_minor == sale.proceeds_minor >= 100_000_00
    assert balance(ledger, "card", "KZT") is None  # the exchange account was never even opened
    assert balance(ledger, "card", "BTC").ledger_minor == 10**8 - sale.sold_qty_minor
    ledger.verify()


def test_slippage_cap_refuses_and_changes_nothing(env):
    ledger, ex = env
    with ledger.unit_of_work() as uow:
        with pytest.raises(SlippageExceeded):
            ex.instant_sell(uow, "card", "BTC", 2_000_000_00, "KZT", slippage_cap_bps=3)
        uow.commit()
    assert balance(ledger, "card", "BTC").held_minor == 0 and balance(ledger, "card", "KZT") is None
    assert len(ex.depth("BTC/KZT")["bids"]) == 5
    ledger.verify()


def test_no_liquidity_halted_unknown_and_insufficient(env):
    ledger, ex = env
    with ledger.unit_of_work() as uow:
        with pytest.raises(NoLiquidity):
            ex.instant_sell(uow, "card", "BTC", 10**12, "KZT", 10_000)
        with pytest.raises(UnknownInstrument):
            ex.instant_sell(uow, "card", "USDT", 100_00, "KZT", 100)
        with pytest.raises(InvalidOrder):
            ex.instant_sell(uow, "card", "BTC", 0, "KZT", 100)
        with pytest.raises(InsufficientBalance):
            ex.instant_sell(uow, "poor", "BTC", 100_000_00, "KZT", 100)
        ex.set_trading("BTC/KZT", False)
        with pytest.raises(TradingHalted):
            ex.instant_sell(uow, "card", "BTC", 100_000_00, "KZT", 100)
        ex.set_trading("BTC/KZT", True)
        # the caller goes on after the refusals and commits something else: the book is intact
        sale = ex.instant_sell(uow, "card", "BTC", 100_000_00, "KZT", 100)
        uow.commit()
    assert sale.proceeds_minor >= 100_000_00
    ledger.verify()


def test_instant_sell_rolls_back_with_the_callers_transaction(env):
    ledger, ex = env
    with ledger.unit_of_work() as uow:
        ex.instant_sell(uow, "card", "BTC", 100_000_00, "KZT", 100)
        # the card declined for another reason: no commit
    assert balance(ledger, "card", "BTC").ledger_minor == 10**8
    assert ex.depth("BTC/KZT")["bids"][0] == (P, 1_000_000)
    ledger.verify()


def _market_session(url, clock, seed):
    ledger, ex = open_exchange(url, clock, seed=seed)
    ex.market_makers.add(MarketMaker("alpha", ("BTC/KZT",), levels=3, size_minor={"BTC/KZT": 500_000},
                                     spread_bps=20, step_bps=10))
    rich(ledger, "mm:alpha", "taker")
    fund(ledger, "card", "BTC", 10**8)
    prices, trades = [], []
    start = clock.now()
    for minute in range(5):
        clock.set(start + timedelta(minutes=minute * 15)) if hasattr(clock, "set") else None
        with ledger.unit_of_work() as uow:
            ex.market_makers.requote(uow, start + timedelta(minutes=minute * 15))
            prices.append(ex.market_makers.model_price("BTC/KZT"))
            r = ex.place_order(uow, "taker", "BTC/KZT", "buy" if minute % 2 else "sell", "market",
                               qty_minor=300_000)
            trades += [(f.price_minor, f.qty_minor) for f in r.fills]
            s = ex.instant_sell(uow, "card", "BTC", 50_000_00, "KZT", 200)
            trades.append((s.sold_qty_minor, s.proceeds_minor))
            uow.commit()
    ledger.verify()
    ledger.db.dispose()
    return prices, trades


def test_market_makers_same_seed_same_prices_and_trades(sqlite_url, tmp_path, clock):
    from ledger import ManualClock
    first = _market_session(sqlite_url, ManualClock(clock.now()), seed=42)
    again = _market_session(f"sqlite:///{tmp_path / 'again.db'}", ManualClock(clock.now()), seed=42)
    other = _market_session(f"sqlite:///{tmp_path / 'other.db'}", ManualClock(clock.now()), seed=43)
    assert first == again
    assert first[0] != other[0]
    assert len(set(first[0])) > 1        # the model moves


def test_trade_ids_follow_the_book_order_when_sales_race(env):
    """Concurrent instant sales on one instrument: each reserves its ids under the instrument's lock
    (PostgreSQL, ledger.ids), so trade ids grow with the book's sequence number as they always did."""
    from racing import race
    ledger, ex = env
    for i in range(4):
        fund(ledger, f"seller-{i}", "BTC", 10**7)

    def sell(i: int) -> None:
        for _ in range(5):   # a lost deadlock is retried, as every caller's is
            ledger.transaction(lambda uow: ex.instant_sell(uow, f"seller-{i}", "BTC", 10_000_00, "KZT",
                                                           slippage_cap_bps=500))
    assert race(4, sell) == [None] * 4
    with ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(text("SELECT id, seq FROM exchange_trades WHERE symbol = 'BTC/KZT' AND "
                                     "seller LIKE 'seller-%' ORDER BY id")).all()
    assert len(rows) >= 20
    assert [seq for _, seq in rows] == sorted(seq for _, seq in rows)
    ledger.verify()
