"""Hypothesis: random order flows (every type, TIF, STP mode, market buys by quote amount, cancels, amends,
instant sells) keep the ledger balanced to the unit, never overdraw anyone, and leave holds equal to what
the open orders reserve."""
from __future__ import annotations

import tempfile

from exchange_helpers import LOT, P, fund, open_exchange
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from exchange import tables as t
from exchange.errors import ExchangeError
from ledger import ManualClock

OWNERS = ["a", "b", "c"]
op = st.one_of(
    st.tuples(st.just("limit"), st.sampled_from(OWNERS), st.sampled_from(["buy", "sell"]), st.integers(1, 8),
              st.integers(-4, 4), st.sampled_from(["GTC", "GTC", "IOC", "FOK"]), st.booleans(),
              st.sampled_from(["expire_taker", "expire_maker", "expire_both"])),
    st.tuples(st.just("market"), st.sampled_from(OWNERS), st.sampled_from(["buy", "sell"]), st.integers(1, 8)),
    st.tuples(st.just("budget"), st.sampled_from(OWNERS), st.integers(1, 400), st.sampled_from(["IOC", "FOK"]),
              st.integers(-2, 6)),
    st.tuples(st.just("cancel"), st.sampled_from(OWNERS), st.integers(0, 30)),
    st.tuples(st.just("amend"), st.sampled_from(OWNERS), st.integers(0, 30), st.integers(1, 8), st.integers(-2, 2)),
    st.tuples(st.just("sell"), st.sampled_from(OWNERS), st.integers(1, 20)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(op, min_size=5, max_size=40))
def test_random_flows_keep_the_ledger_whole(ops):
    from datetime import datetime, timezone
    url = f"sqlite:///{tempfile.mkdtemp(prefix='ex-hyp-')}/h.db"
    ledger, ex = open_exchange(url, ManualClock(datetime(2025, 6, 1, tzinfo=timezone.utc)))
    for owner in OWNERS:
        fund(ledger, owner, "BTC", 50_000)
        fund(ledger, owner, "KZT", 600_000_00)
    for o in ops:
        with ledger.unit_of_work() as uow:
            try:
                kind, owner = o[0], o[1]
                if kind == "limit":
                    _, _, side, lots, off, tif, post_only, stp = o
                    ex.place_order(uow, owner, "BTC/KZT", side, "limit", qty_minor=lots * LOT,
                                   price_minor=P + off * 1_000_00, tif=tif, post_only=post_only and tif == "GTC", stp=stp)
                elif kind == "market":
                    ex.place_order(uow, owner, "BTC/KZT", o[2], "market", qty_minor=o[3] * LOT)
                elif kind == "budget":   # a market buy spending a quote amount, within a protection price
                    ex.place_order(uow, owner, "BTC/KZT", "buy", "market", quote_qty_minor=o[2] * 1_000_00, tif=o[3],
                                   protection_price_minor=P + o[4] * 1_000_00)
                elif kind == "cancel":
                    ex.cancel_order(uow, owner, o[2])
                elif kind == "amend":
                    ex.amend_order(uow, owner, o[2], qty_minor=o[3] * LOT, price_minor=P + o[4] * 1_000_00)
                else:
                    ex.instant_sell(uow, owner, "BTC", o[2] * 1_000_00, "KZT", 500)
            except ExchangeError:
                pass
            uow.commit()
    ledger.verify()
    with ledger.unit_of_work(read_only=True) as uow:
        o = t.orders.c
        reserved = uow.conn.execute(select(func.coalesce(func.sum(o.hold_left_minor), 0))
                                    .where(o.status == "open")).scalar_one()
        closed_left = uow.conn.execute(select(func.coalesce(func.sum(o.hold_left_minor), 0))
                                       .where(o.status != "open")).scalar_one()
        held = sum(uow.balance(a.id).held_minor for owner in OWNERS for a in uow.accounts_of(owner))
    assert closed_left == 0 and reserved == held
    # a restarted exchange sees exactly the same book
    _, again = open_exchange(url, ledger.clock, migrate=False)
    assert again.book_snapshot("BTC/KZT") == ex.book_snapshot("BTC/KZT")
    ledger.db.dispose()
