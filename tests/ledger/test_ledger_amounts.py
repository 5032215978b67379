"""Human amounts <-> integer minor units, and the typed refusals people see for bad input."""
from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import DEFAULT_REGISTRY, Asset, AssetRegistry, Money, errors, format_amount, parse_amount, to_minor


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


# The grammar of typed amounts (ledger/amounts.py's docstring), one row per rule and per refusal.
# (typed number, asset, minor units read) or (typed number, asset, refusal code).
READ = [
    # the Kazakh and continental ways of writing 1 500 tenge, and the English one
    ("1 500,00", "KZT", 150_000),
    ("1\u00a0500,00", "KZT", 150_000),          # no-break space, as a spreadsheet copies it
    ("1\u202f500,00", "KZT", 150_000),          # narrow no-break space
    ("1\u2009500,00", "KZT", 150_000),          # thin space
    ("1.500,00", "KZT", 150_000),
    ("1,500.00", "KZT", 150_000),
    ("1500,5", "KZT", 150_050),
    ("1500.5", "KZT", 150_050),
    ("1 500", "KZT", 150_000),
    ("1 500 000,75", "KZT", 150_000_075),
    ("1.500.000,75", "KZT", 150_000_075),
    ("1,500,000.75", "KZT", 150_000_075),
    ("1,500,000", "KZT", 150_000_000),
    ("1.500.000", "KZT", 150_000_000),
    # a lone separator before three digits: KZT has 2 decimals, so it groups thousands
    ("1,500", "KZT", 150_000),
    ("1.500", "KZT", 150_000),
    ("999,999", "KZTE", 99_999_900),
    # ... for assets with more decimals only a single well-formed reading is accepted
    ("0,500", "BTC", 50_000_000),                # a grouped number cannot start with 0
    ("0.001", "BTC", 100_000),
    ("1500,000", "BTC", 150_000_000_000),        # a first group has at most three digits
    ("1 500,000", "BTC", 150_000_000_000),       # spaces group, so ',' is the decimal separator
    ("1,5", "BTC", 150_000_000),
    ("0,0015", "BTC", 150_000),
    ("12,5", "USDT", 12_500_000),
    ("1.000000001", "ETH", 1_000_000_001),
    ("1,000.000000001", "ETH", 1_000_000_000_001),
    (".5", "KZT", 50),
    ("7.", "KZT", 700),
    ("+7", "KZT", 700),
    ("-0", "KZT", 0),
    ("0", "BTC", 0),
    ("  2 500.00  ", "KZT", 250_000),
    # refusals, in the documented precedence
    ("", "KZT", "amount_not_a_number"),
    ("1,500 тг", "KZT", "amount_not_a_number"),
    ("1e3", "KZT", "amount_not_a_number"),
    ("1'500", "KZT", "amount_not_a_number"),
    ("٣", "KZT", "amount_not_a_number"),             # other scripts' digits: not what a POS sends
    ("--5", "KZT", "amount_not_a_number"),
    (". ,", "KZT", "amount_not_a_number"),
    ("1" * 101, "KZT", "amount_not_a_number"),
    ("15,00.5", "KZT", "amount_bad_grouping"),   # '.' is decimal, so ',' must group threes
    ("1,500,00", "KZT", "amount_bad_grouping"),  # ',' twice groups thousands; '00' is not three digits
    ("1 500.000,00", "KZT", "amount_bad_grouping"),  # spaces and '.' both grouping
    ("1.500.000.00", "KZT", "amount_bad_grouping"),  # read as grouping: '00' is not three digits
    ("1,500.000.00", "KZT", "amount_bad_grouping"),  # the decimal separator twice
    ("1 5000", "KZT", "amount_bad_grouping"),
    ("15 00", "KZT", "amount_bad_grouping"),
    ("0 500", "KZT", "amount_bad_grouping"),
    ("1  500", "KZT", "amount_bad_grouping"),
    ("1,500 000", "KZT", "amount_bad_grouping"),  # ',' decimal (spaces group), but spaces after it
    ("1,500", "BTC", "amount_ambiguous"),        # 1.5 BTC or 1 500 BTC
    ("1.500", "BTC", "amount_ambiguous"),
    ("12,500", "USDT", "amount_ambiguous"),
    ("1.000", "ETH", "amount_ambiguous"),
    ("-1 500,00", "KZT", "amount_negative"),
    ("\u22125", "KZT", "amount_negative"),         # the minus sign
    ("-0,001", "KZT", "amount_negative"),        # negative comes before too precise
    ("0,500", "KZT", "amount_too_precise"),      # counted as written: three digits, KZT has two
    ("1500,000", "KZT", "amount_too_precise"),
    ("2 500.000", "KZT", "amount_too_precise"),
    ("1,5", "SAT0", "amount_too_precise"),
    ("0.000000001", "BTC", "amount_too_precise"),
]
THREE = Asset("MIL", 3, "an asset with three decimals")
ZERO = Asset("SAT0", 0, "an asset without decimals")
REGISTRY = AssetRegistry([*DEFAULT_REGISTRY, THREE, ZERO])


@pytest.mark.parametrize("typed, asset, expected", READ, ids=[f"{t!r}-{a}" for t, a, _ in READ])
def test_typed_amounts_follow_the_grammar(typed, asset, expected):
    if isinstance(expected, int):
        assert to_minor(asset, typed, REGISTRY) == expected
        assert parse_amount(f"{typed} {asset}", REGISTRY) == Money(asset, expected)
    else:
        with pytest.raises(errors.InvalidAmount) as info:
            to_minor(asset, typed, REGISTRY)
        assert info.value.code == expected, str(info.value)


def test_the_table_covers_every_refusal():
    assert len(READ) >= 30
    assert {e for _, _, e in READ if isinstance(e, str)} == {
        "amount_not_a_number", "amount_bad_grouping", "amount_ambiguous", "amount_negative", "amount_too_precise"}


@pytest.mark.parametrize("typed, words", [
    ("1,500 BTC", ["'1,500' is ambiguous for BTC", "1.5 BTC with ',' as the decimal separator",
                   "1 500 BTC as a whole number with ',' grouping thousands", "write '1.5' or '1 500'"]),
    ("1,234 BTC", ["write '1.2340' or '1 234'"]),  # '1.234' would be ambiguous again
    ("15,00.5 KZT", ["'15,00.5' reads with '.' as the decimal separator and ',' grouping thousands",
                     "'00' is not a group of three digits"]),
    ("1 500,001 KZT", ["'1 500,001' reads as 1 500.001 with ',' as the decimal separator and spaces grouping "
                       "thousands", "3 digits follow ',', more decimals than KZT has (2)",
                       "0.01 KZT"]),
    ("0,500 KZT", ["reads as 0.500 with ',' as the decimal separator",
                   "nor can ',' group thousands here: a grouped number cannot start with '0'"]),
    ("-1.500,00 KZT", ["'-1.500,00' reads as -1 500.00"]),
    ("1 500.000,00 KZT", ["grouped both by spaces and by '.'"]),
])
def test_refusals_say_what_was_read(typed, words):
    with pytest.raises(errors.InvalidAmount) as info:
        parse_amount(typed)
    for w in words:
        assert w in str(info.value)


def test_the_formatters_own_form_reads_back_for_an_asset_with_three_decimals():
    # "1.500" is 1.5 MIL as the formatter writes it; with ',' it stays ambiguous.
    assert format_amount(1_500, "MIL", REGISTRY) == "1.500 MIL"
    assert parse_amount("1.500 MIL", REGISTRY).amount_minor == 1_500
    with pytest.raises(errors.InvalidAmount) as info:
        parse_amount("1,500 MIL", REGISTRY)
    assert info.value.code == "amount_ambiguous"


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
    ("1.2.3 KZT", "amount_bad_grouping"),  # '.' twice can only group thousands, and '2' is not three digits
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


EVERY_PRECISION = AssetRegistry([Asset(f"D{d}", d) for d in range(13)])


@settings(max_examples=200, deadline=None)
@given(decimals=st.integers(0, 12), minor=st.integers(min_value=0, max_value=10**18))
def test_format_then_parse_round_trips_at_every_precision(decimals, minor):
    asset = f"D{decimals}"
    text = format_amount(minor, asset, EVERY_PRECISION)
    assert parse_amount(text, EVERY_PRECISION) == Money(asset, minor)


# How people write the same amount: (grouping, decimal separator).
STYLES = [(" ", "."), (" ", ","), ("\u00a0", ","), ("\u202f", ","), ("\u2009", "."), (".", ","), (",", "."),
          ("", "."), ("", ",")]


def _written(minor: int, decimals: int, grouping: str, decimal: str) -> str:
    whole, frac = divmod(minor, 10**decimals)
    text = f"{whole:,}".replace(",", grouping)
    return text + (decimal + str(frac).rjust(decimals, "0") if decimals else "")


@settings(max_examples=200, deadline=None)
@given(asset=st.sampled_from(DEFAULT_REGISTRY.codes()), minor=st.integers(min_value=0, max_value=10**17),
       style=st.sampled_from(STYLES))
def test_every_way_of_writing_an_amount_reads_back(asset, minor, style):
    decimals = DEFAULT_REGISTRY.get(asset).decimals
    assert to_minor(asset, _written(minor, decimals, *style)) == minor
