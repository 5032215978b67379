"""Human amounts <-> integer minor units, and the typed refusals people see for bad input."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import DEFAULT_REGISTRY, Money, errors, format_amount, parse_amount, to_minor


@pytest.mark.parametrize("text, asset, minor", [
    ("2 500.00 KZT", "KZT", 250_000),
    ("0.0015 BTC", "BTC", 150_000),
    ("1.000000001 ETH", "ETH", 1_000_000_001),
    ("12.5 USDT", "USDT", 12_500_000),
    ("0.01 KZTE", "KZTE", 1),
    ("1,000 KZT", "KZT", 100_000),
    ("7 KZT", "KZT", 700),
])
def test_parse_reads_what_people_type(text, asset, minor):
    assert parse_amount(text) == Money(asset, minor)
    assert to_minor(asset, text.rsplit(" ", 1)[0]) == minor


@pytest.mark.parametrize("minor, asset, text", [
    (250_000, "KZT", "2 500.00 KZT"),
    (150_000, "BTC", "0.00150000 BTC"),
    (1_000_000_001, "ETH", "1.000000001 ETH"),
    (12_500_000, "USDT", "12.500000 USDT"),
    (123_456_789_00, "KZT", "123 456 789.00 KZT"),
    (-5, "KZT", "-0.05 KZT"),
])
def test_format_shows_every_ledger_decimal(minor, asset, text):
    assert format_amount(minor, asset) == text
    if minor >= 0:
        assert parse_amount(text).amount_minor == minor


def test_to_minor_accepts_decimal_and_whole_int():
    assert to_minor("BTC", Decimal("0.0015")) == 150_000
    assert to_minor("KZT", 2500) == 250_000
    assert to_minor("ETH", "0.000000001") == 1


@pytest.mark.parametrize("text, code", [
    ("0.001 KZT", "amount_too_precise"),
    ("0.000000001 BTC", "amount_too_precise"),
    ("1.0000000001 ETH", "amount_too_precise"),
    ("0.0000001 USDT", "amount_too_precise"),
    ("-5.00 KZT", "amount_negative"),
    ("abc KZT", "amount_not_a_number"),
    ("1.2.3 KZT", "amount_not_a_number"),
    ("NaN KZT", "amount_not_a_number"),
    ("Infinity BTC", "amount_not_a_number"),
    ("2500", "amount_missing_asset"),
])
def test_bad_human_amounts_are_refused_with_a_code(text, code):
    with pytest.raises(errors.InvalidAmount) as info:
        parse_amount(text)
    assert info.value.code == code
    assert str(info.value)  # a message people can read


def test_too_precise_message_names_the_smallest_unit():
    with pytest.raises(errors.InvalidAmount, match="0.01 KZT"):
        parse_amount("0.001 KZT")


def test_unknown_asset_is_its_own_error():
    with pytest.raises(errors.UnknownAsset) as info:
        parse_amount("5 DOGE")
    assert info.value.code == "unknown_asset"
    assert "DOGE" in str(info.value) and "KZT" in str(info.value)
    with pytest.raises(errors.UnknownAsset):
        format_amount(5, "DOGE")
    with pytest.raises(errors.UnknownAsset):
        to_minor("DOGE", "5")


def test_unknown_asset_wins_over_a_bad_number():
    # The asset decides the decimals, so it is checked first.
    with pytest.raises(errors.UnknownAsset):
        parse_amount("abc DOGE")


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan")])
def test_floats_are_refused(value):
    with pytest.raises(errors.InvalidAmount) as info:
        to_minor("BTC", value)
    assert info.value.code == "amount_is_float"


def test_bool_is_not_an_amount():
    with pytest.raises(errors.InvalidAmount):
        to_minor("KZT", True)


def test_all_errors_are_ledger_errors():
    for exc in (errors.InvalidAmount, errors.UnknownAsset):
        assert issubclass(exc, errors.LedgerError)


@settings(max_examples=50, deadline=None)
@given(asset=st.sampled_from(DEFAULT_REGISTRY.codes()), minor=st.integers(min_value=0, max_value=10**17))
def test_format_then_parse_round_trips(asset, minor):
    text = format_amount(minor, asset)
    assert parse_amount(text) == Money(asset, minor)
    assert to_minor(asset, format_amount(minor, asset, with_code=False)) == minor
