"""Several CryptoCity objects ("processes") over one database behave as one city: the clock, licences,
customers and set-up live in the database; KZTE survives a reopen; residency follows presence days."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from sandbox.city import CryptoCity
from sandbox.config import load_config

BTC = 100_000_000


def _open(url: str, seed: int = 7) -> CryptoCity:
    return CryptoCity.from_config("crypto-city", db=url, seed=seed)


@pytest.fixture
def two(db_url):
    """Two facades on one database, as two gunicorn workers would have."""
    a = _open(db_url)
    b = _open(db_url)
    yield a, b
    a.close()
    b.close()


def test_city_onboarded_in_one_process_pays_in_the_other(two):
    a, b = two
    a.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": BTC // 100})
    res = b.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee")
    assert (res.status, res.response_code) == ("approved", "00") and res.sold
    a.capture(ref="coffee")                        # cleared by the first process
    assert b.account_balance("merchant:alatau-coffee:KZT") == 1_500_00 - 22_50
    with pytest.raises(Exception) as again:
        b.onboard(actor="aigerim", kyc_tier="full")
    assert again.value.code == "already_onboarded"
    a.verify()
    b.verify()


def test_city_advance_in_one_process_moves_time_and_prices_for_the_other(two):
    a, b = two
    start = b.now()
    a.advance("1d")
    a.advance("2h")
    assert b.now() == start + timedelta(days=1, hours=2) == a.now()
    # The price model is path-dependent: the other process replayed the same two advances.
    assert b.exchange.price_model.price_minor("BTC") == a.exchange.price_model.price_minor("BTC")
    b.advance("1h")                                 # and continues from the shared time
    assert a.now() == start + timedelta(days=1, hours=3)
    assert a.exchange.price_model.price_minor("BTC") == b.exchange.price_model.price_minor("BTC")
    a.verify()


def test_city_licence_suspended_in_one_process_is_refused_in_the_other_and_halts_its_books(two):
    a, b = two
    b.onboard(actor="dana", kyc_tier="full", deposits={"KZT": 50_000_00, "BTC": BTC // 100})
    a.suspend_licence(licence_id="AFSA-TF-001", reason="exit plan missing")
    with pytest.raises(Exception) as refused:
        b.buy(actor="dana", instrument="BTC/KZT", quote_qty_minor=10_000_00)
    assert refused.value.code == "not_licensed" and "AFSA-TF-001" in str(refused.value)
    assert not any(i.trading_enabled for i in b.exchange.instruments)   # the books are halted there too
    # A purchase that needs a crypto sale is not permitted while the exchange may not trade (57).
    res = b.pay(actor="dana", merchant="alatau-coffee", amount_minor=60_000_00, ref="big")
    assert (res.status, res.response_code) == ("declined", "57") and "AFSA-TF-001" in res.reason
    b.reinstate_licence(licence_id="AFSA-TF-001", reason="plan filed")
    assert a.buy(actor="dana", instrument="BTC/KZT", quote_qty_minor=10_000_00)["filled_qty_minor"] > 0
    assert all(i.trading_enabled for i in a.exchange.instruments)
    a.verify()


def test_city_reopen_does_not_set_up_again(db_url):
    first = _open(db_url)
    assert first.set_up_here
    world = first.account_balance("external:world:BTC")
    makers = {code: first.account_balance(code) for code in ("customer:mm:mm1-btc-kzt:BTC",
                                                             "customer:mm:mm1-btc-kzt:KZT")}
    assert world < 0 and all(makers.values())
    first.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 10_000_00})
    first.advance("1d")
    first.close()
    again = _open(db_url, seed=99)                  # a different seed does not re-price an existing city
    assert not again.set_up_here and again.seed == 7
    assert again.account_balance("external:world:BTC") == world
    assert {code: again.account_balance(code) for code in makers} == makers
    assert again.balances("aigerim")["KZT"] == 10_000_00
    from sandbox.tables import audit_log
    from sqlalchemy import func, select
    with again.ledger.unit_of_work(read_only=True) as uow:
        created = uow.conn.execute(select(func.count()).select_from(audit_log)
                                   .where(audit_log.c.action == "city.created")).scalar_one()
    assert created == 1
    # The market makers still quote after the reopen (their state is the database's orders).
    assert again.advance("1h")["status"] == "ok"
    again.buy(actor="aigerim", instrument="BTC/KZT", quote_qty_minor=5_000_00)
    again.verify()
    again.close()


def test_city_two_processes_opening_a_fresh_database_together_set_up_once(db_url):
    cfg = load_config("crypto-city")
    opened, errors = [], []

    def open_one():
        try:
            opened.append(CryptoCity(cfg, db_url, 7))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=open_one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(c.set_up_here for c in opened) == [False, True]
    funded = opened[0].account_balance("customer:mm:mm1-btc-kzt:BTC")
    assert funded == opened[1].account_balance("customer:mm:mm1-btc-kzt:BTC") > 0
    opened[0].verify()
    for c in opened:
        c.close()


@pytest.mark.slow
def test_city_kzte_minted_then_reopened_still_verifies(sqlite_url):
    city = _open(sqlite_url)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 20_000_00})
    city.mint(actor="aigerim", amount_minor=5_000_00)
    city.deposit(actor="aigerim", asset="KZTE", amount_minor=1_000_00)
    city.redeem(actor="aigerim", amount_minor=500_00)
    city.verify()
    city.close()
    again = _open(sqlite_url)
    kzte = again.regulator_summary()["kzte"]        # starts the chain, re-seeded from the ledger
    assert kzte["supply_minor"] == kzte["liability_minor"] == 5_500_00 and kzte["peg_holds"]
    again.verify()
    assert again.issuer.token.total_supply() == 5_500_00
    again.redeem(actor="aigerim", amount_minor=1_500_00)
    assert again.balances("aigerim")["KZTE"] == 4_000_00
    again.verify()
    again.close()


@pytest.mark.slow
def test_city_kzte_minted_in_one_process_is_on_the_others_chain(sqlite_url):
    a, b = _open(sqlite_url), _open(sqlite_url)
    a.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 20_000_00})
    a.mint(actor="aigerim", amount_minor=5_000_00)
    b.redeem(actor="aigerim", amount_minor=2_000_00)   # b's chain learns a's mint before burning
    a.mint(actor="aigerim", amount_minor=1_000_00)     # and a's chain learns b's redemption
    a.verify()
    b.verify()
    assert a.issuer.token.total_supply() == b.issuer.token.total_supply() == 4_000_00
    a.close()
    b.close()


@pytest.mark.parametrize("days,aifc,resident", [(182, False, False), (183, False, True),
                                                 (89, True, False), (90, True, True)])
def test_city_residency_follows_presence_days(sqlite_url, days, aifc, resident):
    city = _open(sqlite_url)
    info = city.onboard(actor="marat", kyc_tier="full", aifc_investor=aifc, days_in_kazakhstan=days,
                        deposits={"KZT": 100_000_00})
    assert info["resident"] is resident
    city.buy(actor="marat", instrument="BTC/KZT", quote_qty_minor=50_000_00)
    city.advance("1d")
    city.sell(actor="marat", instrument="BTC/KZT", qty_minor=BTC // 10_000)
    st = city.tax_statement("marat", 2025)
    assert st.resident is resident and str(st.pit_rate_pct) == ("10" if resident else "20")
    assert f"present {days} days" in st.residency_basis
    assert ("AIFC-investor rule" in st.residency_basis) is aifc
    assert st.residency_basis.startswith("resident" if resident else "non-resident")
    city.verify()
    city.close()


def test_city_residency_explicit_flag_overrides_days_and_bad_days_change_nothing(sqlite_url):
    city = _open(sqlite_url)
    info = city.onboard(actor="dana", kyc_tier="full", resident=True, days_in_kazakhstan=10)
    assert info["resident"] is True and "overriding the presence rule" in info["residency_basis"]
    with pytest.raises(Exception) as bad:
        city.onboard(actor="yerlan", kyc_tier="full", days_in_kazakhstan=400)
    assert bad.value.code == "invalid_days_in_kazakhstan" and "0 to 365" in str(bad.value)
    with pytest.raises(Exception) as unknown:
        city.balances("yerlan")
    assert unknown.value.code == "unknown_actor"
    city.verify()
    city.close()
