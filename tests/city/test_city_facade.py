"""The CryptoCity facade end to end: onboarding, JIT-funded purchase, clearing, refusals, reports, audit."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sandbox import audit
from sandbox.city import CryptoCity
from sandbox.tables import audit_log

BTC = 100_000_000


@pytest.fixture
def city(sqlite_url):
    c = CryptoCity.from_config("crypto-city", db=sqlite_url, seed=7)
    yield c
    c.close()


def test_city_coffee_with_btc_is_sold_just_in_time_and_the_cafe_is_paid_in_tenge(db_url):
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    info = city.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False,
                        deposits={"BTC": BTC // 100})
    assert info["iban"].startswith("KZ") and len(info["iban"]) == 20
    res = city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee")
    assert (res.status, res.response_code) == ("approved", "00")
    assert res.shortfall_minor == 1_500_00 and res.conversion_fee_minor == 15_00
    [leg] = res.sold
    assert leg["asset"] == "BTC" and leg["proceeds_minor"] >= 1_515_00 and leg["sold_qty_minor"] % 1_000 == 0
    city.capture(ref="coffee")
    # the café is paid in tenge, minus its 1.5% merchant fee
    assert city.account_balance("merchant:alatau-coffee:KZT") == 1_500_00 - 22_50
    b = city.balances("aigerim")
    assert b["BTC"] == BTC // 100 - leg["sold_qty_minor"]
    assert 0 <= b["KZT"] == leg["proceeds_minor"] - 1_515_00    # the sub-lot surplus stays hers
    city.verify()
    with city.ledger.unit_of_work(read_only=True) as uow:
        report = audit.verify(uow.conn)
    assert report.ok and report.entries >= 5   # city, onboarding, deposit, approval, capture
    city.close()


def test_city_refusals_are_typed_and_change_nothing(city):
    city.onboard(actor="marat", kyc_tier="none", resident=True, aifc_investor=False, deposits={"KZT": 50_000_00})
    city.onboard(actor="dana", kyc_tier="full", resident=True, aifc_investor=False, deposits={"KZT": 50_000_00})
    with pytest.raises(Exception) as unknown:
        city.pay(actor="ghost", merchant="alatau-coffee", amount_minor=100_00, ref="g")
    assert unknown.value.code == "unknown_actor"
    with pytest.raises(Exception) as kyc:
        city.buy(actor="marat", instrument="BTC/KZT", quote_qty_minor=10_000_00)
    assert kyc.value.code == "kyc_not_permitted"
    declined = city.pay(actor="marat", merchant="alatau-coffee", amount_minor=1_000_00, ref="m1")
    assert (declined.status, declined.response_code) == ("declined", "57")
    city.suspend_licence(licence_id="AFSA-TF-001", reason="exit plan missing")
    with pytest.raises(Exception) as nl:
        city.buy(actor="dana", instrument="BTC/KZT", quote_qty_minor=10_000_00)
    assert nl.value.code == "not_licensed" and "AFSA-TF-001" in str(nl.value)
    city.reinstate_licence(licence_id="AFSA-TF-001", reason="plan filed")
    city.buy(actor="dana", instrument="BTC/KZT", quote_qty_minor=10_000_00)
    assert city.balances("dana")["BTC"] > 0 and city.balances("dana")["KZT"] == 40_000_00
    assert city.balances("marat")["KZT"] == 50_000_00
    city.verify()


def test_city_summary_reports_declines_flags_reserves_and_invariants(city):
    city.onboard(actor="nurlan", kyc_tier="full", resident=False, aifc_investor=False,
                 deposits={"KZT": 600_000_00, "KZTE": 10_000_00})
    assert city.pay(actor="nurlan", merchant="steppe-electronics", amount_minor=220_000_00, ref="l").flags
    city.pay(actor="nurlan", merchant="shady-casino", amount_minor=5_000_00, ref="c")
    city.mint(actor="nurlan", amount_minor=1_000_00)
    city.redeem(actor="nurlan", amount_minor=500_00)
    city.advance(timedelta(days=1))
    s = city.regulator_summary()
    assert s["card"]["approved"] == 1 and s["card"]["declined"] == 1
    assert [d["response_code"] for d in s["declines"]] == ["59"]
    assert s["aml_flags"]["by_rule"] == {"blocklist_merchant": 1, "large_transaction": 1}
    assert s["kzte"]["supply_minor"] == s["kzte"]["reserve_minor"] == 10_500_00 and s["kzte"]["peg_holds"]
    assert s["invariants"]["verified"]
    assert {r for r, _ in city.flags("nurlan")} == {"large_transaction", "blocklist_merchant"}
    stmt = city.tax_statement("nurlan", 2025)
    assert stmt.resident is False and str(stmt.pit_rate_pct) == "20"


def test_city_declines_of_one_rule_are_one_row_whatever_they_cost(city):
    # Each decline reason used to embed its own amounts, so the regulator's "declines by reason" had a row
    # per amount ("... 51000000 tiyn (50000000 already spent today)", "... (50500000 already spent today)").
    city.onboard(actor="aliya", kyc_tier="full", resident=True, aifc_investor=False, deposits={"KZT": 1_000_000_00})
    city.onboard(actor="dana", kyc_tier="basic", resident=True, aifc_investor=False, deposits={"KZT": 200_000_00})
    for ref, amount in (("a", 250_000_00), ("b", 250_000_00), ("c", 20_000_00), ("d", 5_000_00), ("e", 10_000_00)):
        city.pay(actor="aliya", merchant="zone-market", amount_minor=amount, ref=ref)
    for ref, amount in (("f", 60_000_00), ("g", 70_000_00)):  # above the basic tier's 50 000 KZT a purchase
        city.pay(actor="dana", merchant="zone-market", amount_minor=amount, ref=ref)
    declines = city.regulator_summary()["declines"]
    assert declines == [
        {"response_code": "61", "reason": "would exceed the daily limit of {limit} ({spent} already spent today)",
         "count": 2, "amount_minor": 30_000_00,
         "example": "would exceed the daily limit of 510 000.00 KZT (500 000.00 KZT already spent today)"},
        {"response_code": "61", "reason": "{amount} is above the KYC 'basic' limit of {limit} per purchase",
         "count": 2, "amount_minor": 130_000_00,
         "example": "60 000.00 KZT is above the KYC 'basic' limit of 50 000.00 KZT per purchase"},
    ]
    assert [p["reason"] for p in city.cards.customer_statement("aliya") if p["response_code"] == "61"] == [
        "would exceed the daily limit of 510 000.00 KZT (500 000.00 KZT already spent today)",
        "would exceed the daily limit of 510 000.00 KZT (505 000.00 KZT already spent today)"]
    from card.tables import authorizations as a
    with city.ledger.unit_of_work() as uow:  # a row written before card_0003 has no template: its reason stands
        uow.conn.execute(a.update().where(a.c.idempotency_key.like("%g")).values(reason_template=None))
        uow.commit()
    rows = {d["reason"]: d["count"] for d in city.regulator_summary()["declines"]}
    assert rows["70 000.00 KZT is above the KYC 'basic' limit of 50 000.00 KZT per purchase"] == 1
    city.verify()


def test_city_same_seed_same_prices_other_seed_other_prices(tmp_path):
    def bids(seed, name):
        c = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path}/{name}.db", seed=seed)
        c.advance(timedelta(days=3))
        out = c.exchange.depth("BTC/KZT", levels=3)
        c.close()
        return out["bids"], out["asks"]
    assert bids(1, "a") == bids(1, "b")
    assert bids(1, "c") != bids(2, "d")


def test_city_reopened_on_the_same_database_knows_its_customers_purchases_tax_and_time(tmp_path):
    url = f"sqlite:///{tmp_path}/city.db"
    first = CryptoCity.from_config("crypto-city", db=url, seed=3)
    first.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={"BTC": BTC // 100})
    first.advance(timedelta(days=2))
    assert first.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee").status == "approved"
    when = first.now()
    first.close()
    again = CryptoCity.from_config("crypto-city", db=url, seed=3)
    assert again.now() >= when                      # the clock resumes, never goes back
    again.capture(ref="coffee")                       # the purchase made by the first process
    assert again.balances("aigerim")["BTC"] < BTC // 100
    stmt = again.tax_statement("aigerim", 2025)
    assert [(ln.source, ln.asset) for ln in stmt.lines] == [("card", "BTC")] and stmt.resident
    with pytest.raises(Exception) as dup:
        again.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={})
    assert dup.value.code == "already_onboarded"
    again.verify()
    again.close()


def test_city_onchain_btc_deposit_is_credited_once_after_confirmations(city):
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, aifc_investor=False, deposits={})
    dep = city.onchain_deposit(actor="aigerim", amount_minor=250_000)
    assert dep["address"].startswith("bcrt1") and dep["credited"] == 1 and dep["confirmations"] == 2
    assert city.balances("aigerim")["BTC"] == 250_000
    assert city.custodian.scan() == []          # scanning again credits nothing
    assert city.balances("aigerim")["BTC"] == 250_000
    assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_000_00, ref="c").status == "approved"
    city.verify()


def test_city_clearing_with_a_key_happens_once_and_is_audited_once(city):
    city.onboard(actor="aigerim", kyc_tier="full", resident=True, deposits={"BTC": BTC // 100})
    city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=2_000_00, ref="c")
    first = city.capture(ref="c", amount_minor=1_500_00, key="cap-1")
    again = city.capture(ref="c", amount_minor=1_500_00, key="cap-1")  # a retry: the same answer, no move
    assert first["captured_minor"] == again["captured_minor"] == 1_500_00
    city.refund(ref="c", amount_minor=500_00, key="ref-1")
    city.refund(ref="c", amount_minor=500_00, key="ref-1")
    with pytest.raises(Exception) as conflict:  # the same key for another amount is another request
        city.refund(ref="c", amount_minor=400_00, key="ref-1")
    assert conflict.value.code == "idempotency_conflict"
    [bought] = city.cards.customer_statement("aigerim")
    assert bought["refunded_minor"] == 500_00
    with city.ledger.unit_of_work(read_only=True) as uow:
        actions = list(uow.conn.execute(select(audit_log.c.action)).scalars())
    assert actions.count("card.capture") == 1 and actions.count("card.refund") == 1
    city.verify()


def test_city_regulator_summary_counts_every_authorization_past_a_hundred_thousand(city):
    """The summary added up the first 100 000 authorizations it read, so a city that had made more (a long
    load test) showed too few; the database now adds them all up."""
    from sqlalchemy import insert

    from card.tables import authorizations
    city.onboard(actor="aliya", kyc_tier="full", resident=True, aifc_investor=False, deposits={"KZT": 10_000_00})
    assert city.pay(actor="aliya", merchant="zone-market", amount_minor=1_000_00, ref="real").status == "approved"
    at = city.clock.now()
    declined = [dict(idempotency_key=f"bulk-{i}", request_hash="h", card_id=None, cardholder_id=None,
                     merchant_id="zone-market", amount_minor=1_00, response_code="14", reason="no such card",
                     reason_template="no such card", status="declined", shortfall_minor=0, conversion_fee_minor=0,
                     captured_minor=0, reversed_minor=0, refunded_minor=0, flags=[], created_at=at)
                for i in range(100_000)]
    with city.ledger.unit_of_work() as uow:
        uow.conn.execute(insert(authorizations), declined)
        uow.commit()
    s = city.regulator_summary()
    assert (s["card"]["authorizations"], s["card"]["approved"], s["card"]["declined"]) == (100_001, 1, 100_000)
    assert s["card"]["approved_minor"] == 1_000_00
    assert [(d["response_code"], d["count"], d["amount_minor"]) for d in s["declines"]] == [("14", 100_000, 100_000_00)]
    assert sum(d["authorizations"] for d in s["card_by_day"]) == 100_001
    city.verify()


def test_city_tax_statement_holds_only_its_customers_events(db_url):
    """The database picks the customer's tax events (their details name the customer): a name that is the
    start of another's, or another's events in between, never enter the statement."""
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    for actor in ("ali", "aliya", "ali.b"):
        city.onboard(actor=actor, kyc_tier="full", resident=True, aifc_investor=False, deposits={"BTC": BTC // 100})
    for n, actor in enumerate(("aliya", "ali", "ali.b", "ali")):
        assert city.pay(actor=actor, merchant="alatau-coffee", amount_minor=(n + 1) * 1_000_00, ref=f"p{n}").status == "approved"
    year = city.clock.now().year
    ali = city.tax_statement("ali", year)
    assert [line.reference for line in ali.lines] == ["p1", "p3"]
    assert [line.reference for line in city.tax_statement("aliya", year).lines] == ["p0"]
    assert [line.reference for line in city.tax_statement("ali.b", year).lines] == ["p2"]
    city.verify()
    city.close()
