"""Licensing and the rules engine: decline codes, reasons and flags a user sees."""
from datetime import datetime, timedelta, timezone

import pytest

from card.ports import AuthorizationContext, Merchant
from sandbox.config import load_config
from sandbox.licensing import LicenceRegistry, LicensingError, NotLicensed
from sandbox.rules import CustomerProfile, PastAuthorization, SandboxRules, evaluate

T0 = datetime(2025, 6, 2, 12, 0, tzinfo=timezone.utc)
COFFEE = Merchant("alatau-coffee", "Alatau Coffee", "5814", True)
BOOKS = Merchant("almaty-books", "Almaty Books", "5942", False)
CASINO = Merchant("shady-casino", "Lucky Steppe Casino", "5812", True)
BASIC = CustomerProfile("cust-1", "basic")
FULL = CustomerProfile("cust-1", "full")


@pytest.fixture
def city():
    return load_config("crypto-city")


@pytest.fixture
def licences(city):
    return LicenceRegistry.from_config(city)


def ctx(amount, merchant=COFFEE, shortfall=None, at=T0):
    return AuthorizationContext("cust-1", 1, merchant, amount, amount if shortfall is None else shortfall, at)


def test_require_names_licence_regulator_and_participant(licences):
    assert licences.require("aifc-exchange", "trading_facility", T0).id == "AFSA-TF-001"
    with pytest.raises(NotLicensed) as info:
        licences.require("aifc-exchange", "stablecoin_issuer", T0)
    assert "aifc-exchange holds no stablecoin_issuer licence" in str(info.value)
    assert "National Bank" in str(info.value)
    licences.suspend("AFSA-TF-001", T0, "exit plan missing")
    with pytest.raises(NotLicensed, match="AFSA-TF-001 from Astana Financial Services Authority is suspended"):
        licences.require("aifc-exchange", "trading_facility", T0 + timedelta(minutes=1))
    licences.reinstate("AFSA-TF-001", T0 + timedelta(hours=1))
    assert licences.is_licensed("aifc-exchange", "trading_facility", T0 + timedelta(hours=2))


def test_licence_validity_window(licences):
    with pytest.raises(NotLicensed, match="expired"):
        licences.require("aifc-exchange", "trading_facility", datetime(2027, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(NotLicensed, match="valid only from"):
        licences.require("city-bank", "crypto_card_pilot", datetime(2025, 5, 1, tzinfo=timezone.utc))
    lic = licences.renew("AFSA-TF-001", datetime(2029, 1, 1, tzinfo=timezone.utc), T0, exit_plan=PLAN)
    assert lic.status(datetime(2028, 1, 1, tzinfo=timezone.utc)) == "active"


PLAN = "orderly wind-down: trading stops, customers' coins returned within 30 days"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_afsa_renews_on_application_at_least_two_months_ahead_for_two_years_at_most(licences):
    """AFSA's FinTech Lab: 2-year licences, renewable on application at least 2 months before expiry (the
    presets' ``renewal_notice_months: 2``, ``max_renewal_months: 24``). AFSA-TF-001 runs to 1 January 2027."""
    from sandbox.licensing import LicenceExpired, RenewalTooEarly, RenewalTooLate, RenewalTooLong
    with pytest.raises(RenewalTooLong, match="at most 24 months") as long:
        licences.renew("AFSA-TF-001", utc(2029, 1, 1, 0, 0, 1), T0, exit_plan=PLAN)
    assert long.value.code == "renewal_too_long" and long.value.details["longest"] == "2029-01-01T00:00:00+00:00"
    with pytest.raises(RenewalTooLate, match="at least 2 months before") as late:
        licences.renew("AFSA-TF-001", utc(2028, 1, 1), utc(2026, 11, 1, 0, 0, 1), exit_plan=PLAN)
    assert late.value.code == "renewal_too_late" and late.value.details["deadline"] == "2026-11-01T00:00:00+00:00"
    with pytest.raises(LicenceExpired, match="applies for a new one"):
        licences.renew("AFSA-TF-001", utc(2029, 1, 1), utc(2027, 1, 1), exit_plan=PLAN)
    # applied in time, decided after the deadline (even after expiry): the application's date counts
    lic = licences.renew("AFSA-TF-001", utc(2028, 1, 1), utc(2027, 1, 15), applied_at=utc(2026, 11, 1),
                         exit_plan=PLAN)
    assert lic.valid_until == utc(2028, 1, 1)
    with pytest.raises(LicensingError, match="cannot be decided earlier"):
        licences.renew("AFSA-TF-001", utc(2029, 1, 1), utc(2026, 6, 1), applied_at=utc(2026, 7, 1),
                       exit_plan=PLAN)
    # no stacking: the next application opens 24 months before the new end, 1 January 2026
    with pytest.raises(RenewalTooEarly, match="from 2026-01-01") as early:
        licences.renew("AFSA-TF-001", utc(2030, 1, 1), utc(2025, 12, 31), exit_plan=PLAN)
    assert early.value.code == "renewal_too_early"
    assert licences.renew("AFSA-TF-001", utc(2030, 1, 1), utc(2027, 10, 31), exit_plan=PLAN).valid_until == \
        utc(2030, 1, 1)


def test_afsa_renews_only_on_an_application_with_an_exit_plan(licences):
    """AFSA's FinTech Lab renews on application "with an exit plan": none (or a blank one) is refused, before
    the dates are looked at."""
    from sandbox.licensing import ExitPlanRequired
    for plan in (None, "", "   "):
        with pytest.raises(ExitPlanRequired, match="with an exit plan") as missing:
            licences.renew("AFSA-TF-001", utc(2040, 1, 1), T0, exit_plan=plan)   # also far too long
        assert missing.value.code == "exit_plan_required"
    with pytest.raises(LicensingError, match="at most 2000 characters"):
        licences.renew("AFSA-TF-001", utc(2028, 1, 1), T0, exit_plan="x" * 2001)
    assert licences.renew("AFSA-TF-001", utc(2028, 1, 1), T0, exit_plan="customers paid out within 30 days") \
        .valid_until == utc(2028, 1, 1)


@pytest.mark.parametrize("at, months, back", [
    (utc(2027, 3, 31), 1, utc(2027, 2, 28)), (utc(2028, 3, 31), 1, utc(2028, 2, 29)),
    (utc(2027, 1, 1), 2, utc(2026, 11, 1)), (utc(2027, 1, 15, 9, 30), 14, utc(2025, 11, 15, 9, 30)),
    (utc(1, 2, 1), 3, datetime.min.replace(tzinfo=timezone.utc)),      # before the first year: as far as it goes
    (utc(9999, 12, 1), -1, datetime.max.replace(tzinfo=timezone.utc))])
def test_months_before_counts_calendar_months(at, months, back):
    from sandbox.licensing import months_before
    assert months_before(at, months) == back


def test_coffee_in_zone_approved_and_out_of_zone_crypto_refused(city, licences):
    assert evaluate(ctx(150_000), BASIC, [], city, licences).decline_code is None
    d = evaluate(ctx(150_000, BOOKS), BASIC, [], city, licences)
    assert d.decline_code == "57" and "outside the Crypto City zone" in d.reason
    # the merchant's name is a value: every out-of-zone decline counts under one template in the reports
    assert d.reason.startswith(BOOKS.name) and d.reason_template.startswith("{merchant} is outside")
    # paying from tenge already on the bank account needs no crypto: allowed outside the zone
    assert evaluate(ctx(150_000, BOOKS, shortfall=0), BASIC, [], city, licences).decline_code is None


def test_aifc_classic_refuses_crypto_payment_but_not_tenge():
    classic = load_config("aifc-classic")
    lic = LicenceRegistry.from_config(classic)
    d = evaluate(ctx(150_000), BASIC, [], classic, lic)
    assert d.decline_code == "57" and "may not be used as a means of payment" in d.reason
    assert evaluate(ctx(150_000, shortfall=0), BASIC, [], classic, lic).decline_code is None


def test_kyc_tiers_and_limits(city, licences):
    d = evaluate(ctx(100_000), CustomerProfile("c", "none"), [], city, licences)
    assert d.decline_code == "57" and "complete KYC" in d.reason
    d = evaluate(ctx(6_000_000), BASIC, [], city, licences)
    assert d.decline_code == "61" and "per purchase" in d.reason
    history = [PastAuthorization(T0 - timedelta(hours=1), 4_900_000), PastAuthorization(T0 - timedelta(hours=2), 4_900_000)]
    d = evaluate(ctx(300_000), BASIC, history, city, licences)
    assert d.decline_code == "61" and "daily limit" in d.reason
    assert evaluate(ctx(300_000), FULL, history, city, licences).decline_code is None


def test_blocked_merchant_declines_59_and_suspended_merchant_57(city, licences):
    d = evaluate(ctx(10_000, CASINO), FULL, [], city, licences)
    assert d.decline_code == "59" and d.flags[0].rule == "blocklist_merchant"
    licences.suspend("ZONE-M-001", T0 - timedelta(minutes=1))
    d = evaluate(ctx(10_000), FULL, [], city, licences)
    assert d.decline_code == "57" and "ZONE-M-001" in d.reason


def test_exchange_suspension_blocks_only_crypto_funded_purchases(city, licences):
    licences.suspend("AFSA-TF-001", T0 - timedelta(minutes=1))
    assert evaluate(ctx(10_000), FULL, [], city, licences).decline_code == "57"
    assert evaluate(ctx(10_000, shortfall=0), FULL, [], city, licences).decline_code is None


def test_aml_large_velocity_structuring(city, licences):
    d = evaluate(ctx(20_000_000), FULL, [], city, licences)
    assert d.decline_code is None and [f.rule for f in d.flags] == ["large_transaction"]
    rapid = [PastAuthorization(T0 - timedelta(minutes=i), 1_000) for i in range(1, 6)]
    d = evaluate(ctx(1_000), FULL, rapid, city, licences)
    assert d.decline_code == "59" and d.flags[-1].rule == "velocity"
    # yesterday in Almaty (T0 is 17:00 there), so each day stays under the daily limit; within the 24 h window
    under = [PastAuthorization(T0 - timedelta(hours=h), 19_500_000) for h in (18, 20)]
    d = evaluate(ctx(19_500_000), FULL, under, city, licences)
    assert d.decline_code == "59" and d.flags[-1].rule == "structuring"
    assert d.reason == "3 purchases within 1 day, 0:00:00 each just under the 200 000.00 KZT threshold"
    assert d.reason_template == "{count} purchases within 1 day, 0:00:00 each just under the {threshold} threshold"


def test_decline_reasons_keep_their_amounts_out_of_the_template(city, licences):
    # Reports count declines by template: the amounts and counts of one purchase are placeholders.
    rapid = [PastAuthorization(T0 - timedelta(minutes=i), 1_000) for i in range(1, 7)]
    five, six = (evaluate(ctx(1_000), FULL, rapid[:n], city, licences) for n in (5, 6))
    assert five.reason == "6 purchases within 10 min (more than 5)"
    assert six.reason == "7 purchases within 10 min (more than 5)"
    assert five.reason_template == six.reason_template == "{count} purchases within 10 min (more than 5)"
    small, big = (evaluate(ctx(amount), BASIC, [], city, licences) for amount in (6_000_000, 7_000_000))
    assert small.reason == "60 000.00 KZT is above the KYC 'basic' limit of 50 000.00 KZT per purchase"
    assert small.reason_template == big.reason_template == \
        "{amount} is above the KYC 'basic' limit of {limit} per purchase"
    assert evaluate(ctx(10_000, CASINO), FULL, [], city, licences).reason_template == ""  # nothing changes in it


def test_kyc_daily_limit_is_the_citys_calendar_day_and_aml_windows_are_rolling(city, licences):
    basic = CustomerProfile("cust-1", "basic")                       # 100 000.00 KZT a day
    last_second = datetime(2025, 6, 1, 18, 59, 59, tzinfo=timezone.utc)   # 23:59:59 in Almaty
    spent = [PastAuthorization(last_second, 100_000_00)]
    assert evaluate(ctx(1_00, at=last_second), basic, spent, city, licences).decline_code == "61"
    midnight = last_second + timedelta(seconds=1)                    # 00:00 in Almaty, still 1 June in UTC
    assert evaluate(ctx(1_00, at=midnight), basic, spent, city, licences).decline_code is None
    utc_city = city.model_copy(update={"sandbox": city.sandbox.model_copy(update={"timezone": "UTC"})})
    assert evaluate(ctx(1_00, at=midnight), basic, spent, utc_city, licences).decline_code == "61"
    utc_midnight = datetime(2025, 6, 2, 0, 0, tzinfo=timezone.utc)
    assert evaluate(ctx(1_00, at=utc_midnight), basic, spent, utc_city, licences).decline_code is None
    # structuring counts the last 24 hours, whatever the calendar: local midnight does not reset it
    near = [PastAuthorization(midnight - timedelta(minutes=m), 19_500_000) for m in (60, 30)]
    d = evaluate(ctx(19_500_000, at=midnight + timedelta(minutes=30)), FULL, near, city, licences)
    assert d.decline_code == "59" and d.flags[-1].rule == "structuring"


def test_flag_only_mode_approves_with_flags(city, licences):
    flagging = city.model_copy(update={"aml": city.aml.model_copy(update={"action": "flag"})})
    d = evaluate(ctx(10_000, CASINO), FULL, [], flagging, licences)
    assert d.decline_code is None and d.flags[0].rule == "blocklist_merchant"


def test_port_adapter_uses_profile_and_history(city, licences):
    rules = SandboxRules(city, licences, lambda uow, cid: CustomerProfile(cid, "none"), lambda uow, cid, since: list)
    assert rules.check_authorization(None, ctx(1_000)).decline_code == "57"


def test_card_history_reads_only_spending_authorizations(ledger):
    from card.tables import authorizations
    from sandbox.rules.history import card_history_later

    base = dict(request_hash="h", card_id=1, merchant_id="alatau-coffee", reason="", auth_code=None, hold_id=None,
                shortfall_minor=0, conversion_fee_minor=0, captured_minor=0, reversed_minor=0, refunded_minor=0, flags=[])
    with ledger.unit_of_work() as uow:
        for i, (status, who, minutes) in enumerate([("approved", "c1", 5), ("reversed", "c1", 4), ("declined", "c1", 3),
                                                    ("captured", "c1", 2), ("approved", "c2", 1), ("approved", "c1", 99)]):
            uow.conn.execute(authorizations.insert().values(
                idempotency_key=f"k{i}", cardholder_id=who, amount_minor=100 * (i + 1), response_code="00",
                status=status, created_at=T0 - timedelta(minutes=minutes), **base))
        got = card_history_later(uow, "c1", T0 - timedelta(minutes=10))()
    assert [p.amount_minor for p in got] == [100, 400]
