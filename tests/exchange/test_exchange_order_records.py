"""What an order reports and what it refuses: a maker's own fills and fees, client_order_id reuse, and
integers too large for the database."""
from __future__ import annotations

import pytest
from exchange_helpers import LOT, P, everything, fund, open_exchange, place, refused, rich

from exchange import service
from exchange.errors import IdempotencyConflict, InvalidOrder, OrderNotFound
from exchange.fees import fee_minor, notional_minor
from ledger.errors import IdempotencyConflict as AnyIdempotencyConflict


@pytest.fixture
def env(db_url, clock):
    ledger, ex = open_exchange(db_url, clock)
    rich(ledger, "a", "b")
    yield ledger, ex
    ledger.db.dispose()


def order(ledger, ex, order_id: int):
    with ledger.unit_of_work(read_only=True) as uow:
        return ex.order(uow, order_id)


# ---------------------------------------------------------------------------------------- a maker's fills
def test_a_maker_order_reports_its_fills_and_its_own_fees(env):
    ledger, ex = env
    maker = place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=5 * LOT, price_minor=P)
    t1 = place(ledger, ex, "b", "BTC/KZT", "buy", "limit", qty_minor=2 * LOT, price_minor=P, tif="IOC")
    t2 = place(ledger, ex, "b", "BTC/KZT", "buy", "market", qty_minor=LOT)
    seen = order(ledger, ex, maker.order_id)
    n1, n2 = notional_minor(P, 2 * LOT, 10**8), notional_minor(P, LOT, 10**8)
    assert (seen.status, seen.filled_qty_minor, seen.remaining_minor) == ("open", 3 * LOT, 2 * LOT)
    assert [(f.trade_id, f.qty_minor, f.notional_minor, f.fee_minor, f.liquidity) for f in seen.fills] == [
        (t1.fills[0].trade_id, 2 * LOT, n1, fee_minor(n1, 10), "maker"),
        (t2.fills[0].trade_id, LOT, n2, fee_minor(n2, 10), "maker")]
    assert seen.fee_minor == fee_minor(n1, 10) + fee_minor(n2, 10) > 0
    assert seen.quote_filled_minor == n1 + n2
    # the takers still see their own (taker) fee on the same trades
    assert order(ledger, ex, t1.order_id).fills[0].fee_minor == fee_minor(n1, 20)
    ledger.verify()


def test_an_order_that_took_then_rested_reports_both_kinds_of_fill(env):
    ledger, ex = env
    place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=P)
    mixed = place(ledger, ex, "b", "BTC/KZT", "buy", "limit", qty_minor=3 * LOT, price_minor=P)   # takes 1, rests 2
    place(ledger, ex, "a", "BTC/KZT", "sell", "market", qty_minor=2 * LOT)
    seen = order(ledger, ex, mixed.order_id)
    n1, n2 = notional_minor(P, LOT, 10**8), notional_minor(P, 2 * LOT, 10**8)
    assert seen.status == "filled"
    assert [(f.qty_minor, f.fee_minor, f.liquidity) for f in seen.fills] == [
        (LOT, fee_minor(n1, 20), "taker"), (2 * LOT, fee_minor(n2, 10), "maker")]
    assert seen.fee_minor == fee_minor(n1, 20) + fee_minor(n2, 10)
    ledger.verify()


def test_fills_listed_are_bounded_but_the_fee_counts_them_all(env, monkeypatch):
    ledger, ex = env
    monkeypatch.setattr(service, "MAX_ORDER_FILLS", 2)
    maker = place(ledger, ex, "a", "BTC/KZT", "buy", "limit", qty_minor=5 * LOT, price_minor=P)
    for _ in range(3):
        place(ledger, ex, "b", "BTC/KZT", "sell", "market", qty_minor=LOT)
    seen = order(ledger, ex, maker.order_id)
    assert len(seen.fills) == 2 and seen.filled_qty_minor == 3 * LOT
    assert seen.fee_minor == 3 * fee_minor(notional_minor(P, LOT, 10**8), 10)


# ---------------------------------------------------------------------------------------- client_order_id
def test_client_order_id_reused_for_a_different_order_is_refused(env):
    ledger, ex = env
    first = place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=P, client_order_id="c-1")
    for change in ({"price_minor": P + 100}, {"qty_minor": 2 * LOT}, {"tif": "IOC"}, {"side": "buy"}):
        order_kw = dict(dict(side="sell", qty_minor=LOT, price_minor=P), **change)
        err = refused(ledger, ex, IdempotencyConflict, "idempotency_conflict", "a", "BTC/KZT",
                      order_kw.pop("side"), "limit", client_order_id="c-1", **order_kw)
        assert isinstance(err, AnyIdempotencyConflict) and "c-1" in str(err)
    again = place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=P, client_order_id="c-1")
    assert again.replayed and again.order_id == first.order_id
    # the key is the owner's: another owner may use the same one
    other = place(ledger, ex, "b", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=P, client_order_id="c-1")
    assert not other.replayed and other.order_id != first.order_id
    ledger.verify()


def test_client_order_id_replays_a_market_order_and_survives_a_refusal(env):
    ledger, ex = env
    fund(ledger, "poor", "KZT", 1_000_00)
    place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=1_000 * LOT, price_minor=P)
    kw = dict(quote_qty_minor=50_000_00, client_order_id="m-1")
    with pytest.raises(Exception) as info:             # refused: nothing recorded, the key stays free
        place(ledger, ex, "poor", "BTC/KZT", "buy", "market", **kw)
    assert info.value.code == "insufficient_balance"
    first = place(ledger, ex, "b", "BTC/KZT", "buy", "market", **kw)
    again = place(ledger, ex, "b", "BTC/KZT", "buy", "market", **kw)
    assert again.replayed and again.order_id == first.order_id and again.filled_qty_minor == first.filled_qty_minor
    refused(ledger, ex, IdempotencyConflict, "idempotency_conflict", "b", "BTC/KZT", "buy", "market",
            quote_qty_minor=60_000_00, client_order_id="m-1")
    fund(ledger, "poor", "KZT", 100_000_00)
    assert not place(ledger, ex, "poor", "BTC/KZT", "buy", "market", **kw).replayed
    ledger.verify()


# ---------------------------------------------------------------------------------------- integers too large
BIG = (2**63 // 100 + 1) * 100      # the first price on the tick that BIGINT cannot hold


@pytest.mark.parametrize("kw", [
    dict(type="limit", qty_minor=LOT, price_minor=BIG),
    dict(type="limit", qty_minor=LOT, price_minor=BIG + 1),            # not on the tick either: the range comes first
    dict(type="limit", qty_minor=LOT, price_minor=service.MAX_PRICE + 100),
    dict(type="market", qty_minor=LOT, protection_price_minor=BIG),
    dict(type="market", quote_qty_minor=100_000_00, protection_price_minor=BIG * 2),
])
def test_prices_beyond_the_bound_are_refused_before_the_database(env, kw):
    ledger, ex = env
    place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=P)
    err = refused(ledger, ex, InvalidOrder, "invalid_price", "b", "BTC/KZT", "buy", **kw)
    assert f"{service.MAX_PRICE:,}" in str(err)


def test_the_largest_price_is_accepted(env):
    ledger, ex = env
    r = place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=service.MAX_PRICE)
    assert r.status == "open" and r.price_minor == service.MAX_PRICE
    ledger.verify()


def test_huge_ids_and_amounts_elsewhere_are_typed_refusals(env):
    ledger, ex = env
    mine = place(ledger, ex, "a", "BTC/KZT", "sell", "limit", qty_minor=LOT, price_minor=P)
    place(ledger, ex, "b", "BTC/KZT", "buy", "limit", qty_minor=10 * LOT, price_minor=P - 100_00)
    before = everything(ledger, ex)
    with ledger.unit_of_work() as uow:
        for call in (lambda: ex.order(uow, 2**63), lambda: ex.cancel_order(uow, "a", 2**63),
                     lambda: ex.amend_order(uow, "a", 2**64, qty_minor=LOT), lambda: ex.order(uow, "1")):
            with pytest.raises(OrderNotFound):
                call()
        with pytest.raises(InvalidOrder) as info:
            ex.amend_order(uow, "a", mine.order_id, price_minor=BIG)
        assert info.value.code == "invalid_price"
        with pytest.raises(InvalidOrder) as info:
            ex.instant_sell(uow, "a", "BTC", 2**63, "KZT", 100)
        assert info.value.code == "invalid_amount"
        with pytest.raises(InvalidOrder) as info:
            ex.quote_sell(uow, "BTC", 2**63, "KZT")
        assert info.value.code == "invalid_amount"
        with pytest.raises(InvalidOrder) as info:
            ex.instant_sell(uow, "a", "BTC", 100_00, "KZT", 100, proceeds_to=2**63)
        assert info.value.code == "invalid_proceeds_account"
        uow.commit()
    assert everything(ledger, ex) == before
    ledger.verify()
