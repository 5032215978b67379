"""The Done-when flows through the REAL exchange (sandbox.funding.ExchangeFunder): races on one card,
retried keys, purchase -> capture -> refund and purchase -> partial reversal -> capture."""
from __future__ import annotations

import threading

import pytest

from card import CardService, FundingSettings, SpendControls
from card import response_codes as rc
from exchange import Exchange, Instrument
from ledger import Database, Ledger
from sandbox.funding import ExchangeFunder

from card_helpers import fund, snapshot

USDT = Instrument("USDT/KZT", "USDT", "KZT", 1, 10_000, 100_00, 10, 10, base_decimals=6)
BTC = Instrument("BTC/KZT", "BTC", "KZT", 100_00, 1_000, 100_00, 10, 10, base_decimals=8)
USDT_BID = 500_00  # 500.00 KZT per USDT


def _place(ledger, ex, *args, **kw):
    with ledger.unit_of_work() as uow:
        ex.place_order(uow, *args, **kw)
        uow.commit()


@pytest.fixture
def city(db_url, clock):
    db = Database(db_url)
    db.migrate()
    ledger = Ledger(db, clock)
    ex = Exchange(ledger, [USDT, BTC])
    fund(ledger, "mm", "KZT", 10**13)
    fund(ledger, "mm", "USDT", 10**12)
    for i in range(5):  # bids 500.00, 499.90, ... each 1 000 USDT deep; one ask so there is a mid
        _place(ledger, ex, "mm", "USDT/KZT", "buy", "limit", qty_minor=1_000 * 10**6, price_minor=USDT_BID - i * 10)
    _place(ledger, ex, "mm", "USDT/KZT", "sell", "limit", qty_minor=1_000 * 10**6, price_minor=USDT_BID + 10)
    cards = CardService(ledger, ExchangeFunder(ex), deadline_ms=30_000)
    cards.register_merchant("cafe", "Alatau Coffee", "5814", mdr_bps=150)
    card, _cvv = cards.issue_card("cust:1", funding=FundingSettings(order=("USDT", "BTC"), slippage_cap_bps=100))
    yield ledger, ex, cards, card
    db.dispose()


def test_card_race_8_threads_never_overspend(city):
    ledger, ex, cards, card = city
    fund(ledger, "cust:1", "USDT", 70 * 10**6)  # 70 USDT = 35 000 KZT: three 10 000 KZT purchases, not four
    results, barrier = [], threading.Barrier(8)

    def buy(i):
        barrier.wait()
        results.append(cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe",
                                       idempotency_key=f"race-{i}"))

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    codes = sorted(r.response_code for r in results)
    assert codes == ["00"] * 3 + ["51"] * 5, codes
    s = snapshot(ledger)
    assert s["bank:cust:1:KZT"][1] == 30_000_00  # exactly three holds
    assert s["customer:cust:1:USDT"][0] >= 0
    sold = sum(leg["sold_qty_minor"] for r in results for leg in r.sold)
    assert s["customer:cust:1:USDT"][0] == 70 * 10**6 - sold
    ledger.verify()


def test_card_race_same_key_sells_once(city):
    ledger, ex, cards, card = city
    fund(ledger, "cust:1", "USDT", 1_000 * 10**6)
    results, barrier = [], threading.Barrier(8)

    def buy():
        barrier.wait()
        results.append(cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe",
                                       idempotency_key="same"))

    threads = [threading.Thread(target=buy) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert {r.authorization_id for r in results} == {results[0].authorization_id}
    assert all(r.approved for r in results) and sum(not r.replayed for r in results) == 1
    s = snapshot(ledger)
    assert s["bank:cust:1:KZT"][1] == 10_000_00
    assert s["customer:cust:1:USDT"][0] == 1_000 * 10**6 - results[0].sold[0]["sold_qty_minor"]
    ledger.verify()


def test_card_capture_refund_through_exchange(city):
    ledger, ex, cards, card = city
    fund(ledger, "cust:1", "USDT", 100 * 10**6)
    before = snapshot(ledger)
    r = cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe", idempotency_key="buy")
    assert r.approved and r.conversion_fee_minor == 100_00
    leg = r.sold[0]
    assert leg["asset"] == "USDT" and leg["proceeds_minor"] >= 10_100_00 and leg["slippage_bps"] <= 100
    cards.capture(r.authorization_id, key="clr")
    cards.refund(r.authorization_id, 5_000_00, key="ref")
    s = snapshot(ledger)
    surplus = leg["proceeds_minor"] - 10_100_00
    assert s["customer:cust:1:USDT"][0] == 100 * 10**6 - leg["sold_qty_minor"]
    assert s["bank:cust:1:KZT"] == (5_000_00 + surplus, 0)  # the refund + the sale's surplus (< one lot)
    # half the purchase refunded: the acquirer returns half its MDR (75 of 150 KZT); the conversion fee stays
    assert s["merchant:cafe:KZT"] == (10_000_00 - 150_00 - (5_000_00 - 75_00), 0)
    assert s["fees:card-acquirer:KZT"] == (75_00, 0) and s["fees:card-programme:KZT"] == (100_00, 0)
    mm_usdt = s["customer:mm:USDT"][0] - before["customer:mm:USDT"][0]
    assert mm_usdt == leg["sold_qty_minor"]  # the counterparty bought exactly what the customer sold
    exch_fees = sum(v[0] for k, v in s.items() if k.startswith("fees:exchange"))
    assert exch_fees > 0 and leg["fee_minor"] > 0
    ledger.verify()


def test_card_partial_reversal_then_capture_through_exchange(city):
    ledger, ex, cards, card = city
    fund(ledger, "cust:1", "USDT", 100 * 10**6)
    r = cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe", idempotency_key="hotel")
    leg = r.sold[0]
    surplus = leg["proceeds_minor"] - 10_100_00
    cards.reverse(r.authorization_id, 4_000_00, key="rev")
    cards.capture(r.authorization_id, 6_000_00, key="clr")
    s = snapshot(ledger)
    assert s["bank:cust:1:KZT"] == (4_000_00 + surplus, 0)  # the sale is not undone: tenge stays in the bank
    assert s["merchant:cafe:KZT"] == (6_000_00 - 90_00, 0) and s["fees:card-acquirer:KZT"] == (90_00, 0)
    assert s["customer:cust:1:USDT"][0] == 100 * 10**6 - leg["sold_qty_minor"]
    ledger.verify()


def test_card_exchange_halt_and_thin_book_decline_91_changing_nothing(city):
    ledger, ex, cards, card = city
    fund(ledger, "cust:1", "USDT", 100_000 * 10**6)
    before = snapshot(ledger)
    big = cards.authorize(card_id=card.id, amount_minor=400_000_00, merchant_id="cafe", idempotency_key="deep")
    # 400 000 KZT needs ~808 USDT; the book holds 5 000 USDT within 0.1%: approved
    assert big.approved
    cards.update_settings(card.id, funding=FundingSettings(order=("USDT",), slippage_cap_bps=0),
                          controls=SpendControls(daily_limit_minor=None))
    before = snapshot(ledger)
    thin = cards.authorize(card_id=card.id, amount_minor=450_000_00, merchant_id="cafe", idempotency_key="thin")
    assert thin.response_code == rc.ISSUER_INOPERATIVE and "slippage" in thin.reason  # mid is above every bid
    ex.set_trading("USDT/KZT", False)
    halted = cards.authorize(card_id=card.id, amount_minor=1_000_00, merchant_id="cafe", idempotency_key="halt")
    assert halted.response_code == rc.ISSUER_INOPERATIVE
    assert snapshot(ledger) == before
    ledger.verify()


def test_card_tiny_shortfall_sells_the_exchange_minimum(city):
    ledger, ex, cards, card = city
    fund(ledger, "cust:1", "USDT", 100 * 10**6)
    fund(ledger, "cust:1", "KZT", 9_990_00, purpose="bank")
    r = cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe", idempotency_key="tiny")
    assert r.approved and r.shortfall_minor == 10_00 and r.conversion_fee_minor == 10
    assert r.sold[0]["proceeds_minor"] >= 100_00  # the exchange's minimum order; the rest stays in the bank
    s = snapshot(ledger)
    assert s["bank:cust:1:KZT"] == (9_990_00 + r.sold[0]["proceeds_minor"] - 10, 10_000_00)
    ledger.verify()
