"""The city's calendar (``sandbox.timezone``, Asia/Almaty by default): card and KYC daily limits, statement
days, the regulator's daily figures, residency days and tax years follow local days, while sandbox time
stays UTC; a city whose zone changes recounts its card counters once."""
from __future__ import annotations

from datetime import UTC, datetime

import yaml
from sqlalchemy import select, update

from card import SpendControls
from ledger import Database
from sandbox import reports
from sandbox.city import CryptoCity
from sandbox.config import config_from_dict, preset_path
from sandbox.tables import audit_log, city_state

EVENING_1_JUNE = datetime(2025, 6, 1, 15, 0, tzinfo=UTC)        # 20:00 in Almaty
LATE_1_JUNE = datetime(2025, 6, 1, 18, 30, tzinfo=UTC)          # 23:30 in Almaty
HALF_PAST_MIDNIGHT = datetime(2025, 6, 1, 19, 30, tzinfo=UTC)   # 00:30 on 2 June in Almaty, 1 June in UTC


def config(timezone: str | None = None):
    data = yaml.safe_load(preset_path("crypto-city").read_text())
    if timezone is not None:
        data["sandbox"]["timezone"] = timezone
    return config_from_dict(data)


def move_to(city: CryptoCity, when: datetime) -> None:
    city.advance(when - city.now())


def pay(city, actor, amount_minor, ref, merchant="zone-market"):
    return city.pay(actor=actor, merchant=merchant, amount_minor=amount_minor, ref=ref)


def zone_changes(city) -> list[dict]:
    import json
    with city.ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(select(audit_log.c.details).where(audit_log.c.action == "city.timezone_changed")
                                .order_by(audit_log.c.seq)).scalars().all()
    return [json.loads(r) for r in rows]


def test_city_issue_case_limits_statements_and_daily_figures_count_almaty_days(db_url):
    """Issue 13.9's case through the whole city: 00:30 in Almaty is a new day for the card's limit and the
    KYC tier's, the statement and the regulator's report put the purchase on that day."""
    city = CryptoCity.from_config(config(), db=db_url, seed=7)
    assert city.cfg.sandbox.timezone == "Asia/Almaty" and not zone_changes(city)   # a new city: nothing recounted
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, deposits={"KZT": 1_000_000_00})
    city.onboard(actor="bob", kyc_tier="basic", resident=True, deposits={"KZT": 200_000_00})
    move_to(city, EVENING_1_JUNE)
    assert pay(city, "aigerim", 250_000_00, "a1").status == "approved"
    assert pay(city, "aigerim", 150_000_00, "a2").status == "approved"   # 400 000 of the card's 510 000 a day
    assert pay(city, "bob", 50_000_00, "b1").status == "approved"
    assert pay(city, "bob", 50_000_00, "b2").status == "approved"        # basic KYC: 100 000 a day, all used
    assert pay(city, "bob", 1_00, "b3").response_code == "61"
    move_to(city, HALF_PAST_MIDNIGHT)
    night = pay(city, "aigerim", 200_000_00, "a3")
    assert night.status == "approved", night.reason                      # was 61 with 1 June's 400 000
    kyc = pay(city, "bob", 50_000_00, "b4")
    assert kyc.status == "approved", kyc.reason                          # was 61 with 1 June's 100 000
    days = [line["day"] for line in city.cards.customer_statement("aigerim")]
    assert days == ["2025-06-01", "2025-06-01", "2025-06-02"]
    report = city.regulator_summary()
    assert report["timezone"] == "Asia/Almaty"
    assert report["card_by_day"] == [
        {"day": "2025-06-01", "authorizations": 5, "approved": 4, "declined": 1, "approved_minor": 500_000_00},
        {"day": "2025-06-02", "authorizations": 2, "approved": 2, "declined": 0, "approved_minor": 250_000_00}]
    html = reports.to_html(report)
    assert "Card payments by day (Asia/Almaty)" in html and "<td>2025-06-02</td>" in html
    # residency days are local days too: onboarded at 00:30 on 2 June, present the 200 days before it
    dana = city.onboard(actor="dana", kyc_tier="basic", days_in_kazakhstan=200)
    assert dana["resident"] and "before 2025-06-02" in dana["residency_basis"]
    city.verify()
    city.close()


def test_city_whose_zone_changed_recounts_card_counters_once(db_url):
    """Counters kept in UTC days (a city set up before ``sandbox.timezone``, or one configured UTC) are
    recounted in Almaty days when the city is opened with Asia/Almaty, so a reversal of a purchase from
    23:30 gives back 1 June, and 2 June's limit sees exactly 2 June's spend."""
    city = CryptoCity.from_config(config("UTC"), db=db_url, seed=7)
    card_id = city.onboard(actor="aigerim", kyc_tier="full", resident=True, deposits={"KZT": 1_000_000_00})["card_id"]
    city.cards.update_settings(card_id, controls=SpendControls(daily_limit_minor=100_000_00))
    move_to(city, LATE_1_JUNE)
    assert pay(city, "aigerim", 60_000_00, "late").status == "approved"
    move_to(city, HALF_PAST_MIDNIGHT)
    assert pay(city, "aigerim", 40_000_00, "night").status == "approved"   # one UTC day: 100 000 of 100 000
    assert pay(city, "aigerim", 1_00, "over").response_code == "61"
    city.close()
    db = Database(db_url)
    with db.engine.begin() as conn:
        conn.execute(update(city_state).values(timezone=None))               # as sandbox_0002 left it
    db.dispose()
    again = CryptoCity.from_config(config("UTC"), db=db_url, seed=7)
    assert zone_changes(again) == []                                       # no zone recorded means UTC
    again.close()

    city = CryptoCity.from_config(config("Asia/Almaty"), db=db_url, seed=7)
    assert zone_changes(city) == [{"from": "UTC", "to": "Asia/Almaty", "spend_counters_recounted": 3}]
    city.reverse(ref="late")                                               # gives 60 000 back to 1 June
    assert pay(city, "aigerim", 60_000_01, "too-much").response_code == "61"   # 2 June: 40 000 spent
    assert pay(city, "aigerim", 60_000_00, "the-rest").status == "approved"
    city.close()
    reopened = CryptoCity.from_config(config("Asia/Almaty"), db=db_url, seed=7)
    assert len(zone_changes(reopened)) == 1                                # once, not on every start
    reopened.verify()
    reopened.close()


def test_city_tax_year_is_the_almaty_calendar_year(sqlite_url):
    """A sale at 20:00 UTC on 31 December is already on 1 January 2026 in Almaty: it belongs to 2026."""
    city = CryptoCity.from_config(config(), db=sqlite_url, seed=7)
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, deposits={"BTC": 10_000_000})
    move_to(city, datetime(2025, 12, 31, 18, 30, tzinfo=UTC))   # 23:30 on 31 December in Almaty
    city.sell(actor="aigerim", instrument="BTC/KZT", qty_minor=100_000)
    move_to(city, datetime(2025, 12, 31, 20, 0, tzinfo=UTC))    # 01:00 on 1 January in Almaty
    city.sell(actor="aigerim", instrument="BTC/KZT", qty_minor=200_000)
    assert [ln.qty_minor for ln in city.tax_statement("aigerim", 2025).lines] == [100_000]
    assert [ln.qty_minor for ln in city.tax_statement("aigerim", 2026).lines] == [200_000]
    city.verify()
    city.close()

