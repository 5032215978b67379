"""Mining in a whole city: levies exact to the tiyn and paid from the farm's tenge account, rewards on the
regtest chain proportional to hash share and credited after coinbase maturity, a seizure that leaves the
ledger balanced, a suspended farm that cannot sell, the power allotted to mining as a cap."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest

from ledger.errors import DomainError
from sandbox.city import CryptoCity
from sandbox.config import load_config

SUBSIDY, NETWORK = 312_500_000, 800_000_000


def _city(tmp_path_factory, name, cfg="crypto-city"):
    return CryptoCity.from_config(cfg, db=f"sqlite:///{tmp_path_factory.mktemp(name) / 'city.db'}", seed=7)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    c = _city(tmp_path_factory, "mining")
    yield c
    c.close()


def _farm(city, farm, kzt_minor=1_000_000_00, **declared):
    city.onboard(actor=farm, kyc_tier="full", resident=True, aifc_investor=False,
                 deposits={"KZT": kzt_minor} if kzt_minor else {})
    return city.register_farm(farm=farm, **({"location": "ekibastuz", "hashrate_ths": 95_000,
                                             "efficiency_j_per_th": "34"} | declared))


def _levies(city, farm):
    return [(v["kwh"], v["rate_tiyn_per_kwh"], v["levy_minor"], v["status"]) for v in city.farm_report(farm)["levies"]]


def test_levies_are_exact_to_the_tiyn_for_each_power_source_and_a_broken_meter(city):
    _farm(city, "grid-farm")
    _farm(city, "solar-farm", power_source="own_offgrid", location="karaganda")
    _farm(city, "blind-farm", max_load_kw=4_000, meter_working=False, location="pavlodar")
    _farm(city, "odd-farm", hashrate_ths=1_001, efficiency_j_per_th="17.5", location="aralsk")
    city.advance("1d")
    assert _levies(city, "grid-farm") == [("77520.000", 200, 15_504_000, "paid")]
    assert _levies(city, "solar-farm") == [("77520.000", 100, 7_752_000, "paid")]
    assert _levies(city, "blind-farm") == [("96000.000", 200, 19_200_000, "paid")]
    # 1 001 TH/s × 17.5 J/TH = 17 517.5 W: 420 420 Wh a day, 840.84 KZT
    assert _levies(city, "odd-farm") == [("420.420", 200, 84_084, "paid")]
    assert city.balances("grid-farm")["KZT"] == 1_000_000_00 - 15_504_000
    assert city.account_balance("state:treasury:KZT") == 15_504_000 + 7_752_000 + 19_200_000 + 84_084
    city.verify()


def test_an_unpaid_levy_is_flagged_then_suspends_the_licence_and_a_suspended_farm_cannot_sell(city):
    _farm(city, "broke-farm", kzt_minor=0, location="aralsk", hashrate_ths=1_000, efficiency_j_per_th="17.5")
    city.deposit(actor="broke-farm", asset="BTC", amount_minor=1_000_000)
    city.advance("1d")
    assert _levies(city, "broke-farm")[-1][3] == "unpaid"
    assert "levy_unpaid" in [f["rule"] for f in city.farm_report("broke-farm")["flags"]]
    before = (city.balances("broke-farm"), _levies(city, "broke-farm"))
    with pytest.raises(DomainError) as refused:
        city.pay_levy(farm="broke-farm")
    assert refused.value.code == "levy_unpaid"
    assert (city.balances("broke-farm"), _levies(city, "broke-farm")) == before   # the refusal changed nothing
    city.advance("3d")
    assert city.farm_report("broke-farm")["licence_status"] == "suspended"
    with pytest.raises(DomainError) as refused:
        city.sell(actor="broke-farm", instrument="BTC/KZT", qty_minor=100_000)
    assert refused.value.code == "not_licensed"
    # paying clears the debt; the regulator lifts the suspension; the farm sells again
    city.deposit(actor="broke-farm", asset="KZT", amount_minor=10_000_00)
    paid = city.pay_levy(farm="broke-farm")
    assert paid.levies == 4 and paid.paid_minor == 4 * 84_000
    city.reinstate_licence(licence_id="MDDIAI-DM-broke-farm", reason="levy paid")
    assert city.sell(actor="broke-farm", instrument="BTC/KZT", qty_minor=100_000).filled_qty_minor == 100_000
    assert city.farm_report("broke-farm")["sold_sat"] == 100_000
    # a sell that rests on the book and is bought later is the farm's sale too
    ask = min(p for p, _ in city.ctx.exchange.depth("BTC/KZT", 1)["asks"])
    resting = city.place_order(actor="broke-farm", instrument="BTC/KZT", side="sell", type="limit",
                               qty_minor=100_000, price_minor=ask - 100)   # the best ask, alone at the front
    assert resting.filled_qty_minor == 0
    city.onboard(actor="buyer", kyc_tier="full", deposits={"KZT": 100_000_000_00})
    city.buy(actor="buyer", instrument="BTC/KZT", quote_qty_minor=(ask - 100) * 1_000_000 // 10**8 * 2)
    assert city.farm_report("broke-farm")["sold_sat"] == 200_000
    city.verify()


def test_an_illegal_farm_is_detected_closed_and_its_output_seized_without_breaking_the_ledger(city):
    _farm(city, "lawful", location="ekibastuz-2")
    _farm(city, "hidden", kzt_minor=0, location="ekibastuz-2", hashrate_ths=20_000, licensed=False)
    city.advance("1d")
    city.advance("1d")
    cases = [c for c in city.detect().cases if c["location"] == "ekibastuz-2"]
    assert len(cases) == 1 and cases[0]["status"] == "open"
    held = city.balances("hidden")["BTC"]
    assert held > 0
    closed = city.close_farm(farm="hidden", reason="unlicensed")
    assert closed.seized_sat == held and closed.evaded_levy_minor > 0
    assert city.balances("hidden")["BTC"] == 0
    city.verify()
    seized_before = city.account_balance("state:seized:BTC")
    city.advance("1d")                                     # its last reward matures: seized too
    assert city.account_balance("state:seized:BTC") > seized_before
    assert city.balances("hidden")["BTC"] == 0
    with pytest.raises(DomainError) as refused:
        city.close_farm(farm="hidden")
    assert refused.value.code == "farm_closed"
    summary = city.mining_summary()
    assert any(c["farms"] == ["hidden"] and c["status"] == "closed" for c in summary["cases"])
    from sandbox import reports
    regulator = city.regulator_summary()
    assert regulator["mining"]["cases_closed"] >= 1 and regulator["mining"]["seized_sat"] > 0
    assert "<h2>Mining</h2>" in reports.render(regulator, "html")
    assert "mining.seized_sat" in reports.render(regulator, "csv")
    city.verify()


def test_rewards_follow_hash_share_over_a_seeded_run_and_are_credited_after_maturity(tmp_path_factory):
    city = _city(tmp_path_factory, "shares")
    try:
        _farm(city, "small", hashrate_ths=95_000)
        _farm(city, "large", hashrate_ths=200_000, location="pavlodar")
        start = city.now()
        rng = random.Random(7)
        for _ in range(12):
            city.advance(timedelta(minutes=rng.choice([10, 35, 180, 600, 1440])))
        intervals = int((city.now() - start).total_seconds()) // 600
        report = {f["farm"]: f for f in city.mining_summary()["farms"]}
        for farm, ths in (("small", 95_000), ("large", 200_000)):
            exact = intervals * SUBSIDY * ths // NETWORK
            assert abs(report[farm]["mined_sat"] - exact) <= 1          # tolerance: one satoshi
            assert city.balances(farm).get("BTC", 0) == report[farm]["credited_sat"]   # mature ones credited
            assert 0 < report[farm]["credited_sat"] < report[farm]["mined_sat"]       # the newest are immature
        ratio = report["large"]["mined_sat"] / report["small"]["mined_sat"]
        assert abs(ratio - 200 / 95) < 1e-6
        assert city.btc_node.height() >= intervals
        city.verify()
    finally:
        city.close()


def test_the_power_allotted_to_mining_caps_the_licensed_farms_load(tmp_path_factory):
    cfg = load_config("crypto-city")
    cfg = cfg.model_copy(update={"mining": cfg.mining.model_copy(update={"surplus_power_mw": 5})})
    city = _city(tmp_path_factory, "cap", cfg)
    try:
        _farm(city, "first")                                         # 3.23 MW of 5
        with pytest.raises(DomainError) as refused:
            _farm(city, "second", location="pavlodar")
        assert refused.value.code == "power_allocation_exceeded"
        _farm(city, "third", hashrate_ths=20_000, location="pavlodar-2")   # 0.68 MW more still fits
        city.verify()
    finally:
        city.close()


def test_a_farms_days_come_out_the_same_on_every_database(db_url):
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    try:
        _farm(city, "steppe-hash", sell_pct=50)
        _farm(city, "shadow", kzt_minor=0, hashrate_ths=20_000, licensed=False)
        city.advance("1d")
        city.advance("1d")
        report = city.farm_report("steppe-hash")
        assert (report["levy_paid_minor"], report["mined_sat"], report["credited_sat"]) == (
            2 * 15_504_000, 2 * 5_343_750, 5_343_750)
        assert report["sold_sat"] == 5_343_750 // 2 // 1000 * 1000          # half a reward, whole lots
        assert city.detect().cases[0]["location"] == "ekibastuz"
        closed = city.close_farm(farm="shadow")
        assert (closed.evaded_levy_minor, closed.seized_sat) == (6_528_000, 1_125_000)
        city.verify()
    finally:
        city.close()


def test_a_farm_never_takes_over_a_licence_it_was_not_granted(city):
    # two long names cut to the same licence id: the second farm is refused and the first keeps its licence
    first, second = "a" * 54 + "-first", "a" * 54 + "-later"
    _farm(city, first, location="semey")
    licences_before = {lic["id"]: lic["status"] for lic in city.regulator_summary()["licences"]}
    with pytest.raises(DomainError) as refused:
        _farm(city, second, location="semey")
    assert refused.value.code == "licence_id_taken"
    assert {lic["id"]: lic["status"] for lic in city.regulator_summary()["licences"]} == licences_before
    assert [f["farm"] for f in city.mining_summary()["farms"]].count(second) == 0
    city.verify()


def test_closing_a_farm_cancels_its_resting_orders_and_seizes_what_they_held(tmp_path_factory):
    city = _city(tmp_path_factory, "resting")
    try:
        _farm(city, "resting", location="ust-kamenogorsk")
        _farm(city, "shadow", kzt_minor=0, location="ust-kamenogorsk", hashrate_ths=20_000, licensed=False)
        city.advance("1d")
        city.advance("1d")
        btc = city.balances("resting")["BTC"]
        assert btc > 2_000
        # a sell far above the market rests on the book, holding half the farm's coins
        resting = btc // 2 // 1000 * 1000                     # whole lots of 1 000 sat
        city.place_order(actor="resting", instrument="BTC/KZT", side="sell", type="limit", qty_minor=resting,
                         price_minor=1_000_000_000_00)
        assert city.balances("resting")["BTC"] == btc - resting
        assert [c["location"] for c in city.detect().cases] == ["ust-kamenogorsk"]
        closed = city.close_farm(farm="resting", reason="on the case")
        assert closed.seized_sat == btc                       # the resting order's coins too
        assert city.balances("resting")["BTC"] == 0
        with city.ledger.unit_of_work(read_only=True) as uow:
            assert city.exchange.open_orders(uow, "resting") == []
        city.verify()
    finally:
        city.close()
