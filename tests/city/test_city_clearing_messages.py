"""Clearing-side network messages through the facade: several partial captures, a tip over the authorization,
force posts, unlinked refunds, expiring a hold now — and the programme's refund and reversal policy (tenge,
or buy the crypto back at the refund-time price). Every one ends with verify and the events it wrote."""
from __future__ import annotations

import pytest

from sandbox.city import CryptoCity
from sandbox.config.loader import load_config

KZT_CAFE = "merchant:alatau-coffee:KZT"   # MCC 5814: 20 % tip tolerance in the preset
KZT_MARKET = "merchant:zone-market:KZT"   # MCC 5411: no tolerance


def make_city(url: str, **card) -> CryptoCity:
    cfg = load_config("crypto-city")
    if card:
        cfg = cfg.model_copy(update={"card": cfg.card.model_copy(update=card)})
    return CryptoCity.from_config(cfg, db=url, seed=7)


@pytest.fixture
def city(db_url):
    c = make_city(db_url)
    c.info = c.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 1_000_00, "USDT": 500_000_000})
    yield c
    c.close()


def events_since(city, mark):
    return [(e["type"], e["data"]) for e in city.events(after=mark, limit=100)]


def test_several_partial_captures_then_the_final_one_releases_the_rest(city):
    city.pay(actor="aigerim", merchant="zone-market", amount_minor=10_000_00, ref="order")
    mark = city.last_event_id()
    first = city.capture(ref="order", amount_minor=3_000_00, final=False, key="ship-1")
    assert (first.status, first.captured_minor, first.reversed_minor) == ("approved", 3_000_00, 0)
    again = city.capture(ref="order", amount_minor=3_000_00, final=False, key="ship-1")   # a retry: nothing moves
    assert again.replayed and again.captured_minor == 3_000_00
    second = city.capture(ref="order", amount_minor=2_000_00, final=False, key="ship-2")
    assert (second.status, second.captured_minor) == ("approved", 5_000_00)
    held_before = city.balances("aigerim")["KZT"]
    last = city.capture(ref="order", amount_minor=1_000_00, key="ship-3")    # final: the other 4 000 KZT go back
    assert (last.status, last.captured_minor, last.reversed_minor) == ("captured", 6_000_00, 4_000_00)
    assert city.balances("aigerim")["KZT"] == held_before + 4_000_00
    # the merchant fee on the running total: exactly what one capture of 6 000 KZT would have cost
    assert city.account_balance(KZT_MARKET) == 6_000_00 - 6_000_00 * 150 // 10_000
    got = events_since(city, mark)
    assert [(t, d["step_amount_minor"], d["final"], d["status"]) for t, d in got] == [
        ("authorization.captured", 3_000_00, False, "approved"), ("authorization.captured", 2_000_00, False, "approved"),
        ("authorization.captured", 1_000_00, True, "captured")]
    with pytest.raises(Exception) as nothing:
        city.capture(ref="order", amount_minor=1_00)
    assert nothing.value.code == "nothing_to_capture"
    city.verify()


def test_a_cafe_tip_over_captures_within_the_tolerance_and_sells_crypto_for_it(city):
    city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=10_000_00, ref="dinner")
    before = city.balances("aigerim")
    with pytest.raises(Exception) as too_much:        # 20 % is 2 000 KZT over at most
        city.capture(ref="dinner", amount_minor=12_000_01)
    assert too_much.value.code == "over_capture_refused" and too_much.value.details["response_code"] == "64"
    with pytest.raises(Exception) as not_final:
        city.capture(ref="dinner", amount_minor=11_000_00, final=False)
    assert not_final.value.code == "invalid_request"
    assert city.balances("aigerim") == before          # refusals change nothing
    mark = city.last_event_id()
    fees = city.account_balance("fees:card-programme:KZT")
    tipped = city.capture(ref="dinner", amount_minor=12_000_00)
    assert (tipped.status, tipped.captured_minor) == ("captured", 12_000_00)
    # the JIT sale for the tip charges the conversion fee, and the capture says so (found by cryptocity fuzz)
    assert tipped.conversion_fee_minor > 0
    assert city.account_balance("fees:card-programme:KZT") - fees == tipped.conversion_fee_minor
    after = city.balances("aigerim")
    assert after["USDT"] < before["USDT"]              # the tip was short: USDT sold just in time for it
    assert city.account_balance(KZT_CAFE) == 12_000_00 - 12_000_00 * 150 // 10_000
    [(kind, data)] = events_since(city, mark)
    assert kind == "authorization.captured" and data["over_captured_minor"] == 2_000_00
    assert data["conversion_fee_charged_minor"] == tipped.conversion_fee_minor
    assert [leg["asset"] for leg in data["sold"]] == ["USDT"]
    # the sale for the tip is a disposal on her tax statement, like the purchase's own
    refs = [line["reference"] for line in city.tax_statement("aigerim", 2025).to_dict()["disposals"]]
    assert refs == ["dinner", "dinner"]
    city.verify()


def test_a_supermarket_allows_no_over_capture(city):
    city.pay(actor="aigerim", merchant="zone-market", amount_minor=500_00, ref="milk")
    with pytest.raises(Exception) as refused:
        city.capture(ref="milk", amount_minor=500_01)
    assert refused.value.code == "over_capture_refused" and refused.value.details["allowed_minor"] == 0
    assert city.capture(ref="milk").captured_minor == 500_00
    city.verify()


def test_a_force_post_on_a_frozen_card_sells_just_in_time_and_pays_the_merchant(city):
    card_id = city.info["card_id"]
    city.freeze_card(card_id=card_id, by="aigerim")
    declined = city.pay(actor="aigerim", merchant="zone-market", amount_minor=100_00, ref="tap")
    assert declined.response_code == "62"             # an authorization is refused on a frozen card …
    mark = city.last_event_id()
    before = city.balances("aigerim")
    posted = city.force_post(actor="aigerim", merchant="zone-market", amount_minor=5_000_00, ref="offline-1")
    assert (posted.kind, posted.status, posted.response_code) == ("force_post", "captured", "00")   # … a force post is booked
    assert posted.shortfall_minor == 5_000_00 - before["KZT"] and [leg["asset"] for leg in posted.sold] == ["USDT"]
    assert city.account_balance(KZT_MARKET) == 5_000_00 - 5_000_00 * 150 // 10_000
    assert city.balances("aigerim")["USDT"] < before["USDT"]
    retry = city.force_post(actor="aigerim", merchant="zone-market", amount_minor=5_000_00, ref="offline-1")
    assert retry.replayed and retry.authorization_id == posted.authorization_id
    with pytest.raises(Exception) as conflict:
        city.force_post(actor="aigerim", merchant="zone-market", amount_minor=5_000_01, ref="offline-1")
    assert conflict.value.code == "idempotency_conflict"
    [(kind, data)] = events_since(city, mark)
    assert kind == "authorization.force_posted" and data["kind"] == "force_post" and data["amount_minor"] == 5_000_00
    assert [line["reference"] for line in city.tax_statement("aigerim", 2025).to_dict()["disposals"]] == ["offline-1"]
    # a force post is a cleared purchase: the merchant can refund it
    assert city.refund(ref="offline-1", amount_minor=1_000_00).refunded_minor == 1_000_00
    city.verify()


def test_a_force_post_nobody_can_pay_is_refused_and_changes_nothing(city):
    before = city.balances("aigerim")
    with pytest.raises(Exception) as short:
        city.force_post(actor="aigerim", merchant="zone-market", amount_minor=900_000_00, ref="yacht")
    assert short.value.code == "clearing_unfunded" and short.value.details["response_code"] == "51"
    assert city.balances("aigerim") == before and city.account_balance(KZT_MARKET) == 0
    city.verify()


def test_an_unlinked_refund_pays_the_bank_account(city):
    city.pay(actor="aigerim", merchant="zone-market", amount_minor=2_000_00, ref="groceries")
    city.capture(ref="groceries")
    mark = city.last_event_id()
    bank = city.balances("aigerim")["KZT"]
    refunded = city.unlinked_refund(actor="aigerim", merchant="zone-market", amount_minor=500_00, ref="goodwill")
    assert (refunded.kind, refunded.status, refunded.amount_minor) == ("unlinked_refund", "refunded", 500_00)
    assert city.balances("aigerim")["KZT"] == bank + 500_00
    [(kind, data)] = events_since(city, mark)
    assert kind == "authorization.refunded" and data["kind"] == "unlinked_refund" and data["step_amount_minor"] == 500_00
    with pytest.raises(Exception) as broke:           # more than the merchant holds
        city.unlinked_refund(actor="aigerim", merchant="zone-market", amount_minor=50_000_00, ref="too-kind")
    assert broke.value.code == "insufficient_funds"
    assert city.balances("aigerim")["KZT"] == bank + 500_00
    city.verify()


def test_expire_now_releases_the_hold_and_keeps_what_was_captured(city):
    city.pay(actor="aigerim", merchant="zone-market", amount_minor=300_00, ref="a")
    city.pay(actor="aigerim", merchant="zone-market", amount_minor=400_00, ref="b")
    city.capture(ref="b", amount_minor=100_00, final=False)
    mark = city.last_event_id()
    bank = city.balances("aigerim")["KZT"]
    assert city.expire(ref="a").status == "expired"
    assert city.expire(ref="b").status == "captured"   # the 100 KZT captured stays captured
    assert city.balances("aigerim")["KZT"] == bank + 300_00 + 300_00
    assert [(t, d["released_minor"], d["status"], d["by_request"]) for t, d in events_since(city, mark)] == [
        ("authorization.expired", 300_00, "expired", True), ("authorization.expired", 300_00, "captured", True)]
    with pytest.raises(Exception) as gone:
        city.expire(ref="a")
    assert gone.value.code == "nothing_to_expire"
    city.verify()


# -- the refund and reversal policy ----------------------------------------------------------------------
def _bought(data):
    return {leg["asset"]: leg["bought_qty_minor"] for leg in data.get("bought_back", [])}


def test_refund_in_tenge_keeps_the_crypto_sold_and_the_conversion_fee(city):
    sale = city.pay(actor="aigerim", merchant="zone-market", amount_minor=10_000_00, ref="tv")
    city.capture(ref="tv")
    before = city.balances("aigerim")
    mark = city.last_event_id()
    city.refund(ref="tv")
    after = city.balances("aigerim")
    assert after["KZT"] == before["KZT"] + 10_000_00 and after["USDT"] == before["USDT"]
    [(kind, data)] = events_since(city, mark)
    assert kind == "authorization.refunded" and data["bought_back"] == [] and sale.conversion_fee_minor > 0
    assert data["conversion_fee_returned_minor"] == 0
    city.verify()


def test_refund_buy_back_returns_the_crypto_at_the_refund_time_price_with_the_fee(db_url):
    city = make_city(db_url, refund_policy="buy_back", refund_conversion_fee="returned")
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"USDT": 500_000_000})
    sale = city.pay(actor="aigerim", merchant="zone-market", amount_minor=10_000_00, ref="tv")
    city.capture(ref="tv")
    sold = sale.sold[0]["sold_qty_minor"]
    city.advance("3d")                                 # the price moves between the sale and the refund
    before = city.balances("aigerim")
    fees = city.account_balance("fees:card-programme:KZT")
    mark = city.last_event_id()
    refunds = [city.refund(ref="tv", amount_minor=4_000_00),   # 40 %: 40 % of the crypto share and of the fee
               city.refund(ref="tv")]
    got = events_since(city, mark)
    assert [t for t, _ in got] == ["authorization.refunded", "authorization.refunded"]
    returned = [d["conversion_fee_returned_minor"] for _, d in got]
    assert [r.conversion_fee_returned_minor for r in refunds] == returned
    assert sum(returned) == sale.conversion_fee_minor and returned[0] == sale.conversion_fee_minor * 4 // 10
    assert city.account_balance("fees:card-programme:KZT") == fees - sale.conversion_fee_minor
    bought = sum(_bought(d)["USDT"] for _, d in got)
    after = city.balances("aigerim")
    assert after["USDT"] - before["USDT"] == bought and 0 < bought
    assert abs(bought - sold) < sold // 50             # about what was sold: the price moved a little
    assert 0 <= after["KZT"] - before["KZT"] < 10_00   # only what a lot could not buy stays tenge
    # the buy-back is an acquisition: the audit carries its tax lot
    city.sell(actor="aigerim", instrument="USDT/KZT", qty_minor=bought)
    lines = city.tax_statement("aigerim", 2025).to_dict()["disposals"]
    assert lines[-1]["basis_unknown_qty_minor"] == 0
    city.verify()
    city.close()


def test_reversal_buy_back_returns_the_crypto_a_voided_purchase_sold(db_url):
    city = make_city(db_url, reversal_policy="buy_back")
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"USDT": 500_000_000})
    start = city.balances("aigerim")["USDT"]
    city.pay(actor="aigerim", merchant="zone-market", amount_minor=5_000_00, ref="oops")
    mark = city.last_event_id()
    city.reverse(ref="oops")
    [(kind, data)] = events_since(city, mark)
    assert kind == "authorization.reversed" and _bought(data)["USDT"] > 0
    assert start - city.balances("aigerim")["USDT"] < start // 100   # the spread, fees and the kept conversion fee
    city.verify()
    city.close()
