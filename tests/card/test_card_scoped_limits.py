"""Count limits per week, month and lifetime, and limits scoped to one merchant category or one merchant
(Marqeta's velocity controls with a merchant scope): each declines with its own code and reason, a decline
moves no money, and a reversal gives back its amount but not its count."""
from __future__ import annotations

from datetime import timedelta

import pytest

from card import ScopedLimit, SpendControls, Usage
from card import response_codes as rc
from card.controls import WindowUsage, evaluate
from card.errors import InvalidSpendControls
from card.incremental import increment

from card_helpers import setup_city


def _pay(cards, card, key, amount, merchant="cafe"):
    return cards.authorize(card_id=card.id, amount_minor=amount, merchant_id=merchant, idempotency_key=key)


def test_card_weekly_and_monthly_count_limits_decline_65(ledger, clock):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=None, weekly_count_limit=2,
                                                          monthly_count_limit=3))
    clock.advance(timedelta(days=1))                    # Monday 2 June 2025
    assert _pay(cards, card, "mon", 100_00).approved
    clock.advance(timedelta(days=1))
    tuesday = _pay(cards, card, "tue", 100_00)
    assert tuesday.approved
    third = _pay(cards, card, "wed", 100_00)
    assert (third.response_code, third.reason) == (rc.COUNT_LIMIT, "the card allows 2 purchases a week")
    cards.reverse(tuesday.authorization_id)             # a reversal gives back money, not the purchase
    assert _pay(cards, card, "wed-again", 100_00).response_code == rc.COUNT_LIMIT
    clock.advance(timedelta(days=6))                    # Monday 9 June: a new week, the same month
    assert _pay(cards, card, "next-mon", 100_00).approved
    over = _pay(cards, card, "next-tue", 100_00)
    assert (over.response_code, over.reason) == (rc.COUNT_LIMIT, "the card allows 3 purchases a month")
    clock.advance(timedelta(days=30))                   # July
    assert _pay(cards, card, "july", 100_00).approved
    ledger.verify()


def test_card_lifetime_count_limit(ledger, clock):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.update_settings(card.id, controls=SpendControls(lifetime_count_limit=2))
    assert _pay(cards, card, "a", 100_00).approved
    clock.advance(timedelta(days=40))
    assert _pay(cards, card, "b", 100_00).approved
    clock.advance(timedelta(days=400))
    last = _pay(cards, card, "c", 100_00)
    assert (last.response_code, last.reason) == (rc.COUNT_LIMIT, "the card allows 2 purchases in its life")
    ledger.verify()


def test_card_mcc_scoped_daily_amount_limit_counts_only_that_category(ledger, clock):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.register_merchant("bar", "Steppe Bar", "5814", in_zone=True)   # the same category as the cafe
    cards.update_settings(card.id, controls=SpendControls(scoped_limits=(
        ScopedLimit("day", mcc="5814", amount_limit_minor=3_000_00),)))
    first = _pay(cards, card, "a", 2_000_00)
    assert first.approved
    assert _pay(cards, card, "grocer", 20_000_00, merchant="outside").response_code == rc.APPROVED  # 5411: not counted
    before = cards.customer_statement("cust:1")
    over = _pay(cards, card, "b", 1_500_00, merchant="bar")
    assert over.response_code == rc.AMOUNT_LIMIT
    assert over.reason == ("would exceed the daily limit of 3 000.00 KZT at merchant category 5814 "
                           "(2 000.00 KZT already spent there today)")
    assert len(cards.customer_statement("cust:1")) == len(before) + 1   # recorded, nothing held or sold
    assert _pay(cards, card, "c", 1_000_00, merchant="bar").approved    # exactly up to the limit
    cards.reverse(first.authorization_id, 500_00)                       # gives back to the scope too
    assert _pay(cards, card, "d", 500_00).approved
    assert _pay(cards, card, "e", 1).response_code == rc.AMOUNT_LIMIT
    clock.advance(timedelta(days=1))
    assert _pay(cards, card, "tomorrow", 3_000_00).approved
    ledger.verify()


def test_card_merchant_scoped_count_and_per_transaction_limits(ledger, clock):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.update_settings(card.id, controls=SpendControls(scoped_limits=(
        ScopedLimit("transaction", merchant_id="cafe", amount_limit_minor=1_000_00),
        ScopedLimit("month", merchant_id="cafe", count_limit=2))))
    big = _pay(cards, card, "big", 1_000_01)
    assert (big.response_code, big.reason) == (
        rc.AMOUNT_LIMIT, "amount exceeds the per-transaction limit of 1 000.00 KZT at merchant cafe")
    assert _pay(cards, card, "elsewhere", 5_000_00, merchant="outside").approved
    assert _pay(cards, card, "one", 1_000_00).approved
    assert _pay(cards, card, "two", 10_00).approved
    third = _pay(cards, card, "three", 10_00)
    assert (third.response_code, third.reason) == (rc.COUNT_LIMIT, "the card allows 2 purchases a month at merchant cafe")
    assert _pay(cards, card, "outside-again", 10_00, merchant="outside").approved
    clock.advance(timedelta(days=31))
    assert _pay(cards, card, "next-month", 10_00).approved
    ledger.verify()


def test_card_increment_counts_against_scoped_amounts_not_counts(ledger):
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.update_settings(card.id, controls=SpendControls(scoped_limits=(
        ScopedLimit("transaction", mcc="5814", amount_limit_minor=2_000_00),
        ScopedLimit("day", mcc="5814", amount_limit_minor=5_000_00, count_limit=1))))
    hotel = _pay(cards, card, "stay", 1_500_00)
    assert hotel.approved
    with ledger.unit_of_work() as uow:
        raised = increment(cards, uow, hotel.authorization_id, 500_00)
        uow.commit()
    assert raised.response_code == rc.APPROVED          # 2 000 in all; the day's count is not asked again
    with ledger.unit_of_work() as uow:
        refused = increment(cards, uow, hotel.authorization_id, 1)
        uow.commit()
    assert (refused.response_code, refused.reason) == (
        rc.AMOUNT_LIMIT, "amount exceeds the per-transaction limit of 2 000.00 KZT at merchant category 5814")
    ledger.verify()


def test_card_limit_precedence_is_fixed():
    """Card-wide amounts, then scoped amounts (61), then card-wide counts, then scoped counts (65), then
    categories (57): the same purchase always gets the same answer."""
    controls = SpendControls(daily_limit_minor=1_000, daily_count_limit=1, blocked_mccs=frozenset({"5814"}),
                             scoped_limits=(ScopedLimit("day", mcc="5814", amount_limit_minor=500, count_limit=1),))
    at_limit = WindowUsage({"day": 500}, {"day": 1})
    full = Usage(day_amount_minor=1_000, day_count=1, scoped={("mcc", "5814"): at_limit})
    assert evaluate(controls, full, 1, "5814", True).reason.startswith("would exceed the daily limit of 10.00 KZT (")
    no_day = Usage(day_count=1, scoped={("mcc", "5814"): at_limit})
    assert "at merchant category 5814" in evaluate(controls, no_day, 1, "5814", True).reason
    counts_only = Usage(day_count=1, scoped={("mcc", "5814"): WindowUsage({}, {"day": 1})})
    assert evaluate(controls, counts_only, 1, "5814", True).reason == "the card allows 1 purchase a day"
    scoped_count = Usage(scoped={("mcc", "5814"): WindowUsage({}, {"day": 1})})
    assert evaluate(controls, scoped_count, 1, "5814", True).code == rc.COUNT_LIMIT
    assert evaluate(controls, Usage(), 1, "5814", True).code == rc.NOT_PERMITTED
    assert evaluate(controls, Usage(), 1, "5411", True).allowed                     # not in the scope
    assert SpendControls.from_dict(controls.to_dict()) == controls
    braces = SpendControls(scoped_limits=(ScopedLimit("day", merchant_id="bar{x}", amount_limit_minor=100),))
    assert evaluate(braces, Usage(), 200, "5814", True, "bar{x}").reason == (
        "would exceed the daily limit of 1.00 KZT at merchant bar{x} (0.00 KZT already spent there today)")


@pytest.mark.parametrize("bad", [
    dict(window="fortnight", mcc="5814", amount_limit_minor=1),
    dict(window="day", amount_limit_minor=1),                              # no scope
    dict(window="day", mcc="5814", merchant_id="cafe", amount_limit_minor=1),
    dict(window="day", mcc="58a4", amount_limit_minor=1),
    dict(window="day", mcc="5814"),                                         # no limit
    dict(window="day", mcc="5814", amount_limit_minor=0),
    dict(window="day", mcc="5814", count_limit=True),
    dict(window="transaction", mcc="5814", count_limit=3),
])
def test_card_invalid_scoped_limits_are_refused(bad):
    with pytest.raises(InvalidSpendControls):
        ScopedLimit(**bad)


def test_card_controls_bound_their_scoped_limits_and_counts():
    with pytest.raises(InvalidSpendControls):
        SpendControls(scoped_limits=tuple(ScopedLimit("day", mcc=f"{5000 + i}", count_limit=1) for i in range(21)))
    with pytest.raises(InvalidSpendControls):
        SpendControls(weekly_count_limit=0)


@pytest.mark.postgres
def test_card_longer_windows_hold_under_a_language_collation(pg_url, clock):
    """A PostgreSQL database created with a language collation sorts ';' before ':': the lifetime and the
    week's counters are still found (they were read as a range up to 'm;', which then held nothing)."""
    from sqlalchemy import text

    from ledger import Ledger
    ledger = Ledger.open(pg_url, clock=clock, packages=("ledger", "card"))
    with ledger.db.engine.begin() as conn:
        conn.execute(text('ALTER TABLE card_usage ALTER COLUMN period TYPE varchar(12) COLLATE "en-US-x-icu"'))
        assert conn.execute(text("SELECT 'm:2025-06' < 'm;' COLLATE \"en-US-x-icu\"")).scalar() is False
    cards, card = setup_city(ledger, tenge_minor=100_000_00)
    cards.update_settings(card.id, controls=SpendControls(lifetime_limit_minor=1_500_00, weekly_count_limit=2))
    assert _pay(cards, card, "a", 1_000_00).approved
    over = _pay(cards, card, "b", 600_00)
    assert (over.response_code, over.reason) == (
        rc.AMOUNT_LIMIT, "would exceed the card's lifetime limit of 1 500.00 KZT (1 000.00 KZT already spent)")
    assert _pay(cards, card, "c", 100_00).approved
    assert _pay(cards, card, "d", 100_00).response_code == rc.COUNT_LIMIT
    ledger.verify()

