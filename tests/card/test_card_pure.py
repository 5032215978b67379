"""Pure parts of the card: IBANs, PANs, spend controls, funding plans, response codes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from stdnum import iban as stdiban, luhn

from card import response_codes as rc
from card.controls import SpendControls, Usage, evaluate
from card.funding import FundingSettings, conversion_fee, plan_funding, shortfall
from card.iban import InvalidIban, make_iban, validate_iban
from card.pan import check_cvv, hash_cvv, is_expired, is_valid_pan, make_pan


@given(st.integers(min_value=0, max_value=10**13 - 1))
@settings(max_examples=40, deadline=None)
def test_card_iban_is_20_chars_and_mod97_valid(seq):
    value = make_iban(seq)
    assert len(value) == 20 and value.startswith("KZ")
    assert stdiban.is_valid(value)
    assert make_iban(seq) == value  # deterministic


def test_card_iban_rejects_bad_check_digits():
    good = make_iban(42)
    bad = good[:2] + ("00" if good[2:4] != "00" else "01") + good[4:]
    with pytest.raises(InvalidIban):
        validate_iban(bad)


@given(st.integers(min_value=0, max_value=10**9 - 1))
@settings(max_examples=40, deadline=None)
def test_card_pan_is_luhn_valid_under_test_bin(seq):
    pan = make_pan(seq)
    assert pan.startswith("220099") and len(pan) == 16 and luhn.is_valid(pan) and is_valid_pan(pan)
    assert not is_valid_pan(pan[:-1] + str((int(pan[-1]) + 1) % 10))


def test_card_cvv_only_hash_and_expiry():
    digest = hash_cvv("123", b"salt")
    assert "123" not in digest and check_cvv("123", b"salt", digest) and not check_cvv("124", b"salt", digest)
    from datetime import datetime, timezone
    assert not is_expired(6, 2028, datetime(2028, 6, 30, tzinfo=timezone.utc))
    assert is_expired(6, 2028, datetime(2028, 7, 1, tzinfo=timezone.utc))


def test_card_controls_precedence_and_defaults():
    c = SpendControls(per_transaction_limit_minor=100, daily_limit_minor=150, monthly_limit_minor=1000,
                      daily_count_limit=2, zone_only=True)
    assert evaluate(c, Usage(), 101, "5814", True).code == rc.AMOUNT_LIMIT
    assert evaluate(c, Usage(day_amount_minor=100), 60, "5814", True).code == rc.AMOUNT_LIMIT
    assert evaluate(c, Usage(month_amount_minor=990), 20, "5814", True).code == rc.AMOUNT_LIMIT
    assert evaluate(c, Usage(day_count=2), 10, "5814", True).code == rc.COUNT_LIMIT
    assert evaluate(c, Usage(), 10, "5814", False).code == rc.NOT_PERMITTED
    assert evaluate(c, Usage(), 10, "5814", True).allowed
    for mcc in ("6010", "6011", "4829", "6012", "7995"):
        assert evaluate(SpendControls(), Usage(), 10, mcc, True).code == rc.NOT_PERMITTED
    only_food = SpendControls(allowed_mccs=frozenset({"5814"}))
    assert evaluate(only_food, Usage(), 10, "5411", True).code == rc.NOT_PERMITTED
    assert SpendControls.from_dict(c.to_dict()) == c


def test_card_limit_reasons_read_as_money_and_share_a_template():
    # The reasons used to embed raw tiyn ("51000000 tiyn already spent today").
    c = SpendControls(per_transaction_limit_minor=600_000_00, daily_limit_minor=500_000_00,
                      monthly_limit_minor=2_000_000_00)
    daily = evaluate(c, Usage(day_amount_minor=510_000_00), 1_500_00, "5814", True)
    assert daily.reason == "would exceed the daily limit of 500 000.00 KZT (510 000.00 KZT already spent today)"
    assert daily.reason_template == "would exceed the daily limit of {limit} ({spent} already spent today)"
    other = evaluate(c, Usage(day_amount_minor=499_000_00), 2_000_00, "5814", True)
    assert other.reason != daily.reason and other.reason_template == daily.reason_template
    assert evaluate(c, Usage(), 600_000_01, "5814", True).reason == \
        "amount exceeds the per-transaction limit of 600 000.00 KZT"
    assert evaluate(c, Usage(month_amount_minor=1_999_999_99), 2, "5814", True).reason == \
        "would exceed the monthly limit of 2 000 000.00 KZT (1 999 999.99 KZT already spent this month)"
    assert "tiyn" not in daily.reason
    blocked = evaluate(SpendControls(), Usage(), 10, "7995", True)
    assert blocked.reason_template == ""  # nothing in it changes from purchase to purchase


def test_card_funding_modes():
    combine = FundingSettings(order=("USDT", "BTC"), conversion_fee_bps=100)
    plan = plan_funding(combine, 10_000, {"USDT": 6_000, "BTC": 50_000})
    assert plan.fee_minor == 100 and plan.legs == (("USDT", 6_000), ("BTC", 4_100))
    fallback = FundingSettings(order=("USDT", "BTC"), mode="fallback")
    assert plan_funding(fallback, 10_000, {"USDT": 6_000, "BTC": 50_000}).legs == (("BTC", 10_100),)
    assert plan_funding(fallback, 10_000, {"USDT": 6_000, "BTC": 6_000}).decline_code == rc.INSUFFICIENT_FUNDS
    assert plan_funding(combine, 10_000, {"USDT": 6_000}, frozenset({"USDT"})).decline_code == rc.ISSUER_INOPERATIVE
    assert shortfall(500, 300, True) == 200 and shortfall(500, 300, False) == 500 and shortfall(5, 9, True) == 0
    assert conversion_fee(1, 100) == 1  # rounded up, never free by rounding


@given(st.integers(1, 10**12), st.dictionaries(st.sampled_from(["KZTE", "USDT", "BTC", "ETH"]),
                                                st.integers(0, 10**12)))
@settings(max_examples=50, deadline=None)
def test_card_combine_plan_raises_exactly_what_is_needed(short, capacity):
    plan = plan_funding(FundingSettings(), short, capacity)
    if plan.decline_code is None:
        assert sum(p for _, p in plan.legs) == short + plan.fee_minor
        assert all(p <= capacity[a] for a, p in plan.legs)
    else:
        assert sum(capacity.values()) < short + plan.fee_minor


def test_card_response_codes_have_reasons():
    for code in ("00", "05", "10", "13", "14", "51", "54", "57", "59", "61", "62", "65", "91", "94", "96"):
        assert rc.reason(code) and "unknown" not in rc.reason(code)
