"""The card's day and month are the programme's calendar days (Almaty, UTC+5), not UTC's: daily and
monthly limits and counts start again at local midnight, and a reversal gives back the local day its
purchase was counted in."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from card import SpendControls
from card import response_codes as rc
from card import tables as ct
from card.authorization import usage_of

from card_helpers import setup_city

ALMATY = ZoneInfo("Asia/Almaty")
LAST_SECOND_OF_1_JUNE = datetime(2025, 6, 1, 18, 59, 59, tzinfo=UTC)   # 23:59:59 in Almaty
MIDNIGHT_2_JUNE = datetime(2025, 6, 1, 19, 0, 0, tzinfo=UTC)           # 00:00:00 on 2 June in Almaty


def _pay(cards, card, amount_minor, key):
    return cards.authorize(card_id=card.id, amount_minor=amount_minor, merchant_id="cafe", idempotency_key=key)


def _usage_rows(ledger) -> dict:
    with ledger.unit_of_work(read_only=True) as uow:
        return {(r.card_id, r.period): (r.amount_minor, r.count) for r in uow.conn.execute(select(ct.usage))}


def test_card_daily_limit_starts_again_at_local_midnight(ledger, clock):
    cards, card = setup_city(ledger, timezone=ALMATY)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=10_000_00))
    clock.set(LAST_SECOND_OF_1_JUNE)
    assert _pay(cards, card, 10_000_00, "late-on-1-june").approved
    assert _pay(cards, card, 1_00, "still-1-june").response_code == rc.AMOUNT_LIMIT
    clock.set(MIDNIGHT_2_JUNE)   # still 1 June in UTC
    assert _pay(cards, card, 10_000_00, "first-of-2-june").approved
    assert _pay(cards, card, 1_00, "over-on-2-june").response_code == rc.AMOUNT_LIMIT
    ledger.verify()


def test_card_daily_count_starts_again_at_local_midnight(ledger, clock):
    cards, card = setup_city(ledger, timezone=ALMATY)
    cards.update_settings(card.id, controls=SpendControls(daily_count_limit=1))
    clock.set(LAST_SECOND_OF_1_JUNE)
    assert _pay(cards, card, 1_00, "a").approved
    assert _pay(cards, card, 1_00, "b").response_code == rc.COUNT_LIMIT
    clock.set(MIDNIGHT_2_JUNE)
    assert _pay(cards, card, 1_00, "c").approved
    ledger.verify()


def test_card_issue_case_purchase_at_0030_almaty_ignores_the_previous_days_spend(ledger, clock):
    """Issue 13.9: at 00:30 in Almaty (19:30 UTC, still the previous UTC day) a purchase was declined 61
    with the previous local day's spend."""
    cards, card = setup_city(ledger, timezone=ALMATY, usdt_minor=3_000_000_000)  # default daily limit 500 000 KZT
    clock.set(datetime(2025, 6, 1, 15, 0, tzinfo=UTC))   # 20:00 in Almaty
    assert _pay(cards, card, 450_000_00, "evening").approved
    clock.set(datetime(2025, 6, 1, 19, 30, tzinfo=UTC))  # 00:30 on 2 June in Almaty
    night = _pay(cards, card, 100_000_00, "after-midnight")
    assert night.approved, night.reason
    ledger.verify()


def test_card_monthly_limit_starts_again_on_the_local_first_of_the_month(ledger, clock):
    cards, card = setup_city(ledger, timezone=ALMATY)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=None, monthly_limit_minor=20_000_00))
    clock.set(datetime(2025, 6, 30, 12, 0, tzinfo=UTC))
    assert _pay(cards, card, 20_000_00, "june").approved
    clock.set(datetime(2025, 6, 30, 18, 59, 59, tzinfo=UTC))   # 23:59:59 on 30 June in Almaty
    assert _pay(cards, card, 1_00, "last-second-of-june").response_code == rc.AMOUNT_LIMIT  # only a monthly limit
    clock.set(datetime(2025, 6, 30, 19, 0, tzinfo=UTC))        # 00:00 on 1 July in Almaty, June in UTC
    assert _pay(cards, card, 20_000_00, "first-second-of-july").approved
    ledger.verify()


def test_card_reversal_gives_back_the_local_day_of_its_purchase(ledger, clock):
    cards, card = setup_city(ledger, timezone=ALMATY)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=10_000_00))
    clock.set(datetime(2025, 6, 1, 18, 30, tzinfo=UTC))   # 23:30 on 1 June in Almaty
    yesterday = _pay(cards, card, 10_000_00, "23:30")
    clock.set(datetime(2025, 6, 1, 19, 30, tzinfo=UTC))   # 00:30 on 2 June (the same UTC day)
    assert _pay(cards, card, 6_000_00, "00:30").approved
    cards.reverse(yesterday.authorization_id, key="void-23:30")
    # 1 June gets its 10 000 back; 2 June still has its 6 000 spent
    assert _pay(cards, card, 4_000_01, "too-much").response_code == rc.AMOUNT_LIMIT
    with ledger.unit_of_work(read_only=True) as uow:
        on_1_june = usage_of(uow, card.id, datetime(2025, 6, 1, 18, 30, tzinfo=UTC), tz=ALMATY)
    assert (on_1_june.day_amount_minor, on_1_june.day_count) == (0, 1)
    assert _pay(cards, card, 4_000_00, "exactly-the-rest").approved
    ledger.verify()


def test_card_utc_programme_keeps_utc_days(ledger, clock):
    cards, card = setup_city(ledger, timezone=UTC)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=10_000_00))
    clock.set(LAST_SECOND_OF_1_JUNE)
    assert _pay(cards, card, 10_000_00, "a").approved
    clock.set(MIDNIGHT_2_JUNE)   # midnight in Almaty, but a UTC programme's day runs on
    assert _pay(cards, card, 1_00, "b").response_code == rc.AMOUNT_LIMIT
    clock.set(datetime(2025, 6, 2, 0, 0, tzinfo=UTC))
    assert _pay(cards, card, 10_000_00, "c").approved
    ledger.verify()


def test_card_statement_line_names_the_local_day(ledger, clock):
    cards, card = setup_city(ledger, timezone=ALMATY)
    clock.set(MIDNIGHT_2_JUNE)
    _pay(cards, card, 1_00, "midnight")
    [line] = cards.card_statement(card.id)
    assert line["at"].startswith("2025-06-01T19:00:00") and line["day"] == "2025-06-02"
    ledger.verify()


def test_card_rebuilt_counters_equal_the_counted_ones_and_follow_a_new_zone(ledger, clock):
    """Counters are derived from the authorizations: recounting in the same zone changes nothing,
    whatever approvals, partial captures, reversals and expiries happened; in UTC they move days."""
    cards, card = setup_city(ledger, timezone=ALMATY)
    cards.update_settings(card.id, controls=SpendControls(daily_limit_minor=None))
    ids = []
    for i, at in enumerate((datetime(2025, 6, 1, 18, 0, tzinfo=UTC), datetime(2025, 6, 1, 19, 0, tzinfo=UTC),
                            datetime(2025, 6, 30, 19, 30, tzinfo=UTC), datetime(2025, 7, 1, 10, 0, tzinfo=UTC))):
        clock.set(at)
        ids.append(_pay(cards, card, (i + 1) * 1_000_00, f"p{i}").authorization_id)
        if i == 1:
            cards.capture(ids[0], 500_00, key="partial")
            cards.reverse(ids[1], 700_00, key="part-void")
    clock.advance(timedelta(days=8))
    assert cards.expire_holds() == 3   # ids[1] (rest of it), ids[2], ids[3]
    counted = _usage_rows(ledger)
    assert counted[(card.id, "d:2025-06-01")] == (500_00, 1) and counted[(card.id, "m:2025-07")] == (0, 2)
    with ledger.unit_of_work() as uow:
        cards.rebuild_usage(uow)
        uow.commit()
    assert _usage_rows(ledger) == counted
    cards.timezone = UTC
    with ledger.unit_of_work() as uow:
        cards.rebuild_usage(uow)
        uow.commit()
    in_utc = _usage_rows(ledger)
    assert in_utc[(card.id, "d:2025-06-01")] == (500_00, 2) and in_utc[(card.id, "m:2025-07")] == (0, 1)
    assert (card.id, "d:2025-06-02") not in in_utc
    ledger.verify()
