"""Candles and the 24-hour figures are added up by the database over every trade in their window: they equal
what adding up the trades one by one gives (first and last by id, on both databases, across the epoch), and
a window with more than 100 000 trades still ends at its last trade (the exchange read the first 100 000)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from exchange_helpers import BTC, open_exchange
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from exchange import tables as t
from exchange.service import INTERVALS
from ledger import ManualClock

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def market(db_url):
    clock = ManualClock(NOW)
    ledger, ex = open_exchange(db_url, clock)
    yield ledger, ex, clock
    ledger.db.dispose()


def _store(ledger, trades: list[tuple[datetime, int, int]]) -> None:
    rows = [dict(symbol=BTC.symbol, seq=i + 1, price_minor=price, qty_minor=qty, notional_minor=price * qty // 10**8,
                 taker_side="buy", maker_order_id=1, taker_order_id=2, buyer="b", seller="s", buyer_fee_minor=0,
                 seller_fee_minor=0, created_at=at) for i, (at, price, qty) in enumerate(trades)]
    with ledger.unit_of_work() as uow:
        uow.conn.execute(delete(t.trades))
        if rows:
            uow.conn.execute(insert(t.trades), rows)
        uow.commit()


def _candles_one_by_one(trades, since, until, secs) -> list[dict]:
    out: dict[int, dict] = {}
    for at, p, q in trades:   # in id order
        if not since < at <= until:
            continue
        micros = (at - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
        bucket = micros // (secs * 10**6) * secs
        c = out.get(bucket)
        n = p * q // 10**8
        if c is None:
            out[bucket] = {"start": datetime.fromtimestamp(bucket, timezone.utc), "open": p, "high": p, "low": p,
                           "close": p, "volume_minor": q, "quote_volume_minor": n, "trades": 1}
        else:
            c["high"], c["low"], c["close"] = max(c["high"], p), min(c["low"], p), p
            c["volume_minor"] += q
            c["quote_volume_minor"] += n
            c["trades"] += 1
    return [out[k] for k in sorted(out)]


trade = st.tuples(st.integers(-3 * 24 * 3600, 3 * 24 * 3600), st.integers(1, 10**10), st.integers(1, 10**8))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(trade, max_size=30), interval=st.sampled_from(sorted(INTERVALS)),
       at_epoch=st.booleans())
def test_candles_and_the_24_hours_equal_the_trades_added_up_one_by_one(market, drawn, interval, at_epoch):
    ledger, ex, clock = market
    now = datetime(1970, 1, 1, 6, tzinfo=timezone.utc) if at_epoch else NOW   # times before 1970 too
    trades = [(now + timedelta(seconds=s), p, q) for s, p, q in drawn]
    _store(ledger, trades)
    secs = INTERVALS[interval]
    assert ex.candles(BTC.symbol, interval, 500, until=now) == \
        _candles_one_by_one(trades, now - timedelta(seconds=secs * 500), now, secs)
    day = [(at, p, q) for at, p, q in trades if now - timedelta(hours=24) < at <= now]
    stats = ex.stats_24h(BTC.symbol, until=now)
    if not day:
        assert stats["trades"] == 0 and stats["last"] is None and stats["change_bps"] is None
    else:
        prices = [p for _, p, _ in day]
        assert stats == {"symbol": BTC.symbol, "open": prices[0], "high": max(prices), "low": min(prices),
                         "last": prices[-1], "volume_minor": sum(q for _, _, q in day),
                         "quote_volume_minor": sum(p * q // 10**8 for _, p, q in day), "trades": len(day),
                         "change_bps": (prices[-1] - prices[0]) * 10_000 // prices[0]}
    ledger.verify()


def test_a_busy_day_ends_at_its_last_trade(sqlite_url):
    """100 001 trades in the last hour: the candle and the 24-hour figures end at the newest one."""
    ledger, ex = open_exchange(sqlite_url, ManualClock(NOW))
    trades = [(NOW - timedelta(seconds=3599) + timedelta(microseconds=30 * i), 45_000_000_00, 1_000)
              for i in range(100_000)] + [(NOW - timedelta(microseconds=1), 46_000_000_00, 1_000)]
    _store(ledger, trades)
    [candle] = ex.candles(BTC.symbol, "1h", 1)
    assert (candle["trades"], candle["close"], candle["high"]) == (100_001, 46_000_000_00, 46_000_000_00)
    stats = ex.stats_24h(BTC.symbol)
    assert (stats["trades"], stats["last"], stats["change_bps"]) == (100_001, 46_000_000_00, 222)
    ledger.verify()
    ledger.db.dispose()
