"""Authorization through the public CardService: every response code, declines move nothing, lifecycle."""
from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from card import Capacity, FixedPriceFunder, FundingSettings, RulesDecision, SpendControls
from card import response_codes as rc
from card.clearing import fee_share
from card.errors import InvalidAuthorizationState, NothingToRefund

from card_helpers import PRICES, fund, setup_city, snapshot


class SandboxLikeRules:
    """57 for an unlicensed regime, 59 for an AML-flagged large crypto-funded purchase."""

    def check_authorization(self, uow, ctx):
        if ctx.merchant.id == "unlicensed":
            return RulesDecision("57", "the merchant's zone licence has lapsed", [("licence", "lapsed")])
        if ctx.amount_minor == 777_777_00 or (ctx.shortfall_minor > 0 and ctx.amount_minor == 333_333_00):
            return RulesDecision("59", "structured amount flagged by AML", [("aml", "structuring")])
        return RulesDecision(flags=[("kyc", "tier 2")])


class ThinBookFunder(FixedPriceFunder):
    def capacity(self, uow, owner, asset, slippage_cap_bps, up_to_minor):
        return Capacity(1_000_00, liquidity_limited=True)


class FakeTimer:
    def __init__(self):
        self.now_s, self.step_s = 0.0, 0.0

    def __call__(self):
        self.now_s += self.step_s
        return self.now_s


def _decline(cards, ledger, expected_code, **request):
    before = snapshot(ledger)
    request.setdefault("merchant_id", "cafe")
    request.setdefault("amount_minor", 1_000_00)
    result = cards.authorize(**request)
    assert result.response_code == expected_code, result
    assert result.reason and not result.approved and result.hold_id is None and not result.sold
    assert snapshot(ledger) == before, "a decline must not change any balance"
    ledger.verify()
    return result


def test_card_every_response_code_and_declines_change_nothing(ledger, clock):
    timer = FakeTimer()
    cards, card = setup_city(ledger, rules=SandboxLikeRules(), usdt_minor=200_000_000,  # 200 USDT = 100 000 KZT
                             monotonic=timer)
    cards.register_merchant("unlicensed", "Grey Kiosk", "5411")
    ok = cards.authorize(card_id=card.id, amount_minor=1_000_00, merchant_id="cafe", idempotency_key="ok")
    assert ok.response_code == rc.APPROVED and ok.auth_code and ok.sold and ok.flags == (("kyc", "tier 2"),)
    n = iter(range(1000))
    key = lambda: f"k{next(n)}"  # noqa: E731
    # 14 invalid card: bad Luhn, unknown PAN, unknown id
    _decline(cards, ledger, rc.INVALID_CARD, pan="2200990000000001", idempotency_key=key())
    _decline(cards, ledger, rc.INVALID_CARD, card_id=999, idempotency_key=key())
    # 13 invalid amount
    _decline(cards, ledger, rc.INVALID_AMOUNT, card_id=card.id, amount_minor=0, idempotency_key=key())
    _decline(cards, ledger, rc.INVALID_AMOUNT, card_id=card.id, amount_minor=1.5, idempotency_key=key())
    # 57 MCC, zone, regime (rules); 59 AML
    _decline(cards, ledger, rc.NOT_PERMITTED, card_id=card.id, merchant_id="casino", idempotency_key=key())
    _decline(cards, ledger, rc.NOT_PERMITTED, card_id=card.id, merchant_id="unlicensed", idempotency_key=key())
    _decline(cards, ledger, rc.SUSPECTED_FRAUD, card_id=card.id, amount_minor=333_333_00, idempotency_key=key())
    # 61 per-transaction / daily amount limit (default ~USD 1 000 a day), 65 count limit
    _decline(cards, ledger, rc.AMOUNT_LIMIT, card_id=card.id, amount_minor=600_000_00, idempotency_key=key())
    cards.update_settings(card.id, controls=SpendControls(daily_count_limit=1, zone_only=True))
    _decline(cards, ledger, rc.COUNT_LIMIT, card_id=card.id, idempotency_key=key())
    cards.update_settings(card.id, controls=SpendControls(zone_only=True))
    _decline(cards, ledger, rc.NOT_PERMITTED, card_id=card.id, merchant_id="outside", idempotency_key=key())
    # 51: tenge plus crypto cannot cover it
    _decline(cards, ledger, rc.INSUFFICIENT_FUNDS, card_id=card.id, amount_minor=200_000_00, idempotency_key=key())
    # 91: exchange halted, then the deadline
    cards.funder.halted = True
    _decline(cards, ledger, rc.ISSUER_INOPERATIVE, card_id=card.id, idempotency_key=key())
    cards.funder.halted = False
    timer.step_s = 2.5  # every reading of the timer advances 2.5 s: the authorization takes > 2 000 ms
    late = _decline(cards, ledger, rc.ISSUER_INOPERATIVE, card_id=card.id, idempotency_key=key())
    assert "deadline" in late.reason
    timer.step_s = 0.0
    # 94: same key, different request
    _decline(cards, ledger, rc.DUPLICATE, card_id=card.id, amount_minor=2_000_00, idempotency_key="ok")
    # 62 frozen / closed, 54 expired
    cards.freeze(card.id)
    _decline(cards, ledger, rc.RESTRICTED_CARD, card_id=card.id, idempotency_key=key())
    cards.unfreeze(card.id)
    spare, _cvv = cards.issue_card("cust:1")
    cards.close(spare.id)
    _decline(cards, ledger, rc.RESTRICTED_CARD, pan=spare.pan, idempotency_key=key())
    assert cards.authorize(card_id=card.id, amount_minor=1_00, merchant_id="cafe",
                           idempotency_key=key()).approved
    clock.advance(timedelta(days=4 * 366))
    _decline(cards, ledger, rc.EXPIRED_CARD, card_id=card.id, idempotency_key=key())
    cards.close(card.id)
    _decline(cards, ledger, rc.EXPIRED_CARD, card_id=card.id, idempotency_key=key())  # expiry checked before status
    # every decline is on the statement with its reason
    codes = [line["response_code"] for line in cards.card_statement(card.id)]
    assert {"00", "13", "57", "59", "61", "65", "51", "91", "62", "54"} <= set(codes)


def test_card_liquidity_limited_declines_91_not_51(ledger):
    cards, card = setup_city(ledger, funder=ThinBookFunder(PRICES))
    before = snapshot(ledger)
    result = cards.authorize(card_id=card.id, amount_minor=50_000_00, merchant_id="cafe", idempotency_key="thin")
    assert result.response_code == rc.ISSUER_INOPERATIVE and "slippage" in result.reason
    assert snapshot(ledger) == before


def test_card_retried_key_never_sells_twice(ledger):
    cards, card = setup_city(ledger)
    first = cards.authorize(card_id=card.id, amount_minor=5_000_00, merchant_id="cafe", idempotency_key="pos-1")
    after_first = snapshot(ledger)
    again = cards.authorize(card_id=card.id, amount_minor=5_000_00, merchant_id="cafe", idempotency_key="pos-1")
    assert again.replayed and again.authorization_id == first.authorization_id and again.sold == first.sold
    assert snapshot(ledger) == after_first
    declined = cards.authorize(card_id=card.id, amount_minor=5_000_00, merchant_id="casino", idempotency_key="pos-2")
    replay = cards.authorize(card_id=card.id, amount_minor=5_000_00, merchant_id="casino", idempotency_key="pos-2")
    assert replay.replayed and replay.response_code == declined.response_code == rc.NOT_PERMITTED
    ledger.verify()


def test_card_tenge_first_and_combined_funding(ledger):
    cards, card = setup_city(ledger, usdt_minor=20_000_000, tenge_minor=3_000_00)  # 20 USDT = 10 000 KZT
    fund(ledger, "cust:1", "BTC", 100_000)  # 0.001 BTC = 50 000 KZT
    cards.update_settings(card.id, funding=FundingSettings(order=("USDT", "BTC"), conversion_fee_bps=100))
    r = cards.authorize(card_id=card.id, amount_minor=20_000_00, merchant_id="cafe", idempotency_key="mix")
    assert r.approved and r.shortfall_minor == 17_000_00 and r.conversion_fee_minor == 170_00
    assert [leg["asset"] for leg in r.sold] == ["USDT", "BTC"]
    assert sum(leg["proceeds_minor"] for leg in r.sold) == 17_170_00
    ledger.verify()


def _bal(ledger, code):
    return snapshot(ledger)[code]


def test_card_purchase_capture_refund_balances_on_all_sides(ledger):
    cards, card = setup_city(ledger, usdt_minor=100_000_000)  # 100 USDT at 500 KZT
    r = cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe", idempotency_key="buy")
    assert r.approved
    # 10 000 KZT + 1% conversion fee = 10 100 KZT net; exchange fee 10 bps on top, rounded up
    gross = -(-10_100_00 * 10_000 // 9_990)
    sold_qty = r.sold[0]["sold_qty_minor"]
    assert sold_qty == -(-gross * 10**6 // (500 * 100))
    assert _bal(ledger, "bank:cust:1:KZT") == (10_000_00, 10_000_00)
    cards.capture(r.authorization_id, key="clr")
    cards.capture(r.authorization_id, key="clr")  # retried clearing: no second posting
    cards.refund(r.authorization_id, 4_000_00, key="ref")
    s = snapshot(ledger)
    assert s["customer:cust:1:USDT"] == (100_000_000 - sold_qty, 0)
    assert s["external:market:USDT"] == (sold_qty, 0)
    assert s["external:market:KZT"] == (-gross, 0)
    assert s["fees:exchange:KZT"] == (gross - 10_100_00, 0)
    assert s["fees:card-programme:KZT"] == (100_00, 0)
    # MDR 1.5% = 150 KZT at clearing; the 40% refund returns 40% of it (60 KZT) to the merchant
    assert s["fees:card-acquirer:KZT"] == (150_00 - 60_00, 0)
    assert s["merchant:cafe:KZT"] == (10_000_00 - 150_00 - (4_000_00 - 60_00), 0)
    assert s["bank:cust:1:KZT"] == (4_000_00, 0)
    with pytest.raises(InvalidAuthorizationState):
        cards.reverse(r.authorization_id)
    history = [e["kind"] for e in cards.customer_statement("cust:1")[0]["history"]]
    assert history == ["authorized", "captured", "refunded"]
    assert [e["message_type"] for e in cards.customer_statement("cust:1")[0]["history"]] == ["0100", "0220", "0200"]
    ledger.verify()


def test_card_full_refund_in_parts_needs_nothing_beyond_the_purchase(ledger):
    """A merchant whose only money is this purchase (net of MDR) can refund all of it, in three parts;
    the acquirer returns its whole fee and not a tiyn more."""
    cards, card = setup_city(ledger, usdt_minor=100_000_000)
    r = cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe", idempotency_key="buy")
    cards.capture(r.authorization_id, key="clr")
    assert _bal(ledger, "merchant:cafe:KZT") == (10_000_00 - 150_00, 0)  # all the merchant has
    for i, part in enumerate((3_333_33, 3_333_33, None)):  # None: the rest, 3 333.34
        cards.refund(r.authorization_id, part, key=f"ref-{i}")
    s = snapshot(ledger)
    assert s["merchant:cafe:KZT"] == (0, 0)
    assert s["fees:card-acquirer:KZT"] == (0, 0)
    assert s["bank:cust:1:KZT"] == (10_000_00, 0)  # the whole purchase back (the fixed-price sale had no surplus)
    statement = cards.customer_statement("cust:1")[0]
    assert statement["status"] == "refunded" and statement["refunded_minor"] == 10_000_00
    with pytest.raises(NothingToRefund) as nothing:  # answered in card terms, not as a ledger zero amount
        cards.refund(r.authorization_id, 1, key="ref-extra")
    assert nothing.value.code == "nothing_to_refund" and f"authorization {r.authorization_id}" in str(nothing.value)
    ledger.verify()


@given(fee=st.integers(0, 10**9), captured=st.integers(1, 10**12),
       cuts=st.lists(st.floats(0, 1, allow_nan=False), max_size=8))
def test_card_refund_fee_shares_add_up_to_the_fee(fee, captured, cuts):
    """Any split of a purchase into partial refunds returns the fee exactly once, each share ≥ 0."""
    points = sorted({0, captured, *(int(c * captured) for c in cuts)})
    shares = [fee_share(fee, captured, a, b) for a, b in zip(points, points[1:])]
    assert all(x >= 0 for x in shares) and sum(shares) == fee


def test_card_purchase_partial_reversal_then_capture(ledger):
    cards, card = setup_city(ledger, usdt_minor=100_000_000)
    r = cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe", idempotency_key="hotel")
    sold_qty = r.sold[0]["sold_qty_minor"]
    cards.reverse(r.authorization_id, 3_000_00, key="rev")
    assert _bal(ledger, "bank:cust:1:KZT") == (10_000_00, 7_000_00)  # sold tenge stays in the bank
    cards.capture(r.authorization_id, 7_000_00, key="clr")
    s = snapshot(ledger)
    assert s["bank:cust:1:KZT"] == (3_000_00, 0)
    assert s["merchant:cafe:KZT"] == (7_000_00 - 105_00, 0) and s["fees:card-acquirer:KZT"] == (105_00, 0)
    assert s["customer:cust:1:USDT"] == (100_000_000 - sold_qty, 0)
    assert s["fees:card-programme:KZT"] == (100_00, 0)
    line = cards.card_statement(card.id)[0]
    assert [e["kind"] for e in line["history"]] == ["authorized", "reversed", "captured"]
    assert [e["message_type"] for e in line["history"]] == ["0100", "0400", "0220"]   # ISO 8583 message types
    assert line["crypto_sold"][0]["asset"] == "USDT"
    ledger.verify()


def test_card_holds_at_a_hotel_and_a_car_rental_last_a_month(ledger, clock):
    """Lodging and vehicle rental get the networks' extended authorization (the final amount comes at the end
    of the stay): their holds outlast a week, then expire like any other."""
    cards, card = setup_city(ledger, hold_days=7, extended_hold_days=30)
    cards.register_merchant("hotel", "Rixos Borovoe", "7011", in_zone=True)
    cards.register_merchant("chain", "Hilton Astana", "3504", in_zone=True)     # a hotel chain's own code
    cards.register_merchant("cars", "Steppe Car Rental", "7512", in_zone=True)
    for merchant in ("cafe", "hotel", "chain", "cars"):
        assert cards.authorize(card_id=card.id, amount_minor=2_000_00, merchant_id=merchant,
                               idempotency_key=f"stay-{merchant}").approved
    clock.advance(timedelta(days=8))
    assert cards.expire_holds() == 1                                    # the café's, after a week
    assert [line["status"] for line in cards.card_statement(card.id)] == ["expired", "approved", "approved",
                                                                          "approved"]
    clock.advance(timedelta(days=21))                                   # day 29: still reserved
    assert cards.expire_holds() == 0
    clock.advance(timedelta(days=1))                                    # day 30
    assert cards.expire_holds() == 3
    assert _bal(ledger, "bank:cust:1:KZT")[1] == 0                      # nothing held any more
    ledger.verify()


@pytest.mark.parametrize("mcc, extended", [("7011", True), ("3501", True), ("3999", True), ("3351", True),
                                           ("3500", True), ("7512", True), ("7513", True), ("7519", True),
                                           ("4411", True), ("7514", False), ("3350", False), ("4000", False),
                                           ("5814", False), ("7010", False), ("", False), ("70111", False)])
def test_card_extended_authorization_categories(mcc, extended):
    from card.hold_duration import hold_days, is_extended
    assert is_extended(mcc) is extended
    assert hold_days(mcc, standard_days=7, extended_days=30) == (30 if extended else 7)


def test_card_hold_expires_on_sandbox_clock(ledger, clock):
    cards, card = setup_city(ledger, hold_days=7)
    r = cards.authorize(card_id=card.id, amount_minor=2_000_00, merchant_id="cafe", idempotency_key="exp")
    clock.advance(timedelta(days=6))
    assert cards.expire_holds() == 0
    clock.advance(timedelta(days=2))
    assert cards.expire_holds() == 1
    assert _bal(ledger, "bank:cust:1:KZT") == (2_000_00, 0)
    assert cards.card_statement(card.id)[0]["status"] == "expired"
    with pytest.raises(InvalidAuthorizationState):
        cards.capture(r.authorization_id)
    ledger.verify()


def test_card_bank_account_has_valid_iban(ledger):
    from stdnum import iban
    cards, card = setup_city(ledger)
    account = cards.open_bank_account("cust:1")
    assert iban.is_valid(account.iban) and account.iban.startswith("KZ") and len(account.iban) == 20
    assert cards.open_bank_account("cust:1") == account


def test_card_reversal_gives_back_daily_limit(ledger):
    cards, card = setup_city(ledger)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=5_000_00, daily_count_limit=3))
    first = cards.authorize(card_id=card.id, amount_minor=4_000_00, merchant_id="cafe", idempotency_key="a")
    assert cards.authorize(card_id=card.id, amount_minor=2_000_00, merchant_id="cafe",
                           idempotency_key="b").response_code == rc.AMOUNT_LIMIT
    cards.reverse(first.authorization_id, 1_500_00)
    assert cards.authorize(card_id=card.id, amount_minor=2_000_00, merchant_id="cafe", idempotency_key="c").approved
    assert cards.authorize(card_id=card.id, amount_minor=1_00, merchant_id="cafe", idempotency_key="d").approved
    assert cards.authorize(card_id=card.id, amount_minor=1_00, merchant_id="cafe",
                           idempotency_key="e").response_code == rc.COUNT_LIMIT
    ledger.verify()


def test_card_weekly_limit_counts_monday_to_sunday_and_a_reversal_gives_back(ledger, clock):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=None, weekly_limit_minor=3_000_00))
    clock.advance(timedelta(days=1))                    # Monday 2 June 2025 (the clock starts on a Sunday)
    pay = lambda key, amount: cards.authorize(card_id=card.id, amount_minor=amount, merchant_id="cafe",  # noqa: E731
                                              idempotency_key=key)
    assert pay("mon", 2_000_00).approved
    clock.advance(timedelta(days=2))
    wednesday = pay("wed", 1_000_00)
    assert wednesday.approved                          # 3 000 of 3 000
    clock.advance(timedelta(days=1))
    over = pay("thu", 1)
    assert over.response_code == rc.AMOUNT_LIMIT
    assert over.reason == "would exceed the weekly limit of 3 000.00 KZT (3 000.00 KZT already spent this week)"
    cards.reverse(wednesday.authorization_id)          # given back to the week it counted in
    assert pay("thu-again", 1_000_00).approved
    clock.advance(timedelta(days=4))                    # Monday 9 June: a new week
    assert pay("next-mon", 3_000_00).approved
    ledger.verify()


def test_card_lifetime_limit_counts_every_month(ledger, clock):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=None, lifetime_limit_minor=5_000_00))
    for month in range(4):                             # June to September: 4 000 in all
        assert cards.authorize(card_id=card.id, amount_minor=1_000_00, merchant_id="cafe",
                               idempotency_key=f"m{month}").approved
        clock.advance(timedelta(days=31))
    assert cards.authorize(card_id=card.id, amount_minor=1_000_00, merchant_id="cafe", idempotency_key="last").approved
    over = cards.authorize(card_id=card.id, amount_minor=1, merchant_id="cafe", idempotency_key="one-more")
    assert (over.response_code, over.reason) == (
        rc.AMOUNT_LIMIT, "would exceed the card's lifetime limit of 5 000.00 KZT (5 000.00 KZT already spent)")
    ledger.verify()


def test_card_counters_rebuilt_equal_the_counters_kept(ledger, clock):
    """A time-zone change recounts the day and month counters from the authorizations (the week's and the
    lifetime limits add them up): the recount must give what the purchase path kept — over-captures
    counted, released remainders not, a refund with no purchase not at all."""
    from sqlalchemy import select

    from card import tables as t
    from card.policy import ClearingPolicy
    cards, card = setup_city(ledger, tenge_minor=100_000_00, policy=ClearingPolicy({"5814": 2_000}))
    pay = lambda key, amount: cards.authorize(card_id=card.id, amount_minor=amount, merchant_id="cafe",  # noqa: E731
                                              idempotency_key=key)
    cards.capture(pay("tip", 1_000_00).authorization_id, 1_150_00)                # over-captured by a tip
    cards.capture(pay("part", 2_000_00).authorization_id, 500_00)                 # the rest released
    cards.reverse(pay("void", 700_00).authorization_id)
    pay("open", 300_00)
    cards.force_post(merchant_id="cafe", amount_minor=400_00, key="forced", card_id=card.id)
    cards.unlinked_refund(merchant_id="cafe", amount_minor=500_00, key="returned", card_id=card.id)
    clock.advance(timedelta(days=1))
    pay("expires", 900_00)
    clock.advance(timedelta(days=8))
    assert cards.expire_holds() == 2                                              # "open" and "expires"

    def counters():
        with ledger.unit_of_work(read_only=True) as uow:
            return {(p, a, n) for p, a, n in uow.conn.execute(
                select(t.usage.c.period, t.usage.c.amount_minor, t.usage.c.count)).all() if a or n}
    kept = counters()
    assert ("m:2025-06", 1_150_00 + 500_00 + 400_00, 6) in kept
    with ledger.unit_of_work() as uow:
        cards.rebuild_usage(uow)
        uow.commit()
    assert counters() == kept
    ledger.verify()
