"""The mining arithmetic: watt-hours from hash rate and efficiency, the levy to the tiyn, block rewards
shared by hash rate with nothing lost, declarations refused in a fixed order, the detection rule."""
from __future__ import annotations

import pytest

from mining import FarmSpec, energy_wh, levy_minor, max_load_wh, power_mw, share_reward
from mining.detection import examine, noise_wh
from mining.errors import InvalidFarm
from mining.levy import cit_minor

DAY_S = 86_400


def test_an_s19_class_machine_draws_3230_watts_and_77_52_kwh_a_day_per_thousand():
    spec = FarmSpec.declare(farm_id="f", location="ekibastuz", power_source="grid", hashrate_ths=95,
                            efficiency_j_per_th="34")
    assert spec.power_mw == power_mw(95, 34_000) == 3_230_000          # 3.23 kW
    assert energy_wh(spec.power_mw, DAY_S) == 77_520                     # 77.52 kWh a day
    assert spec.max_load_w == 4_000                                      # rounded up to the kW


@pytest.mark.parametrize("rate, expected_tiyn", [(200, 15_504), (100, 7_752)])
def test_the_levy_of_a_metered_day_is_exact_to_the_tiyn_on_grid_and_off_grid_power(rate, expected_tiyn):
    assert levy_minor(energy_wh(3_230_000, DAY_S), rate) == expected_tiyn


def test_a_broken_meter_is_assessed_at_maximum_load_for_24_hours():
    assert max_load_wh(4_000_000, DAY_S) == 96_000_000                     # 4 MW × 24 h
    assert levy_minor(96_000_000, 200) == 19_200_000                       # 192 000.00 KZT


def test_the_levy_rounds_half_up_to_the_tiyn_once_per_period():
    assert levy_minor(1, 200) == 0          # 0.2 tiyn
    assert levy_minor(3, 200) == 1          # 0.6 tiyn
    assert levy_minor(5, 100) == 1          # exactly half a tiyn: up
    assert levy_minor(17_500 * 1000 * 24 // 1000, 200) == 84_000   # 17.5 kW for a day at 2 KZT/kWh


def test_17_5_joules_per_terahash_is_exact_and_finer_efficiencies_are_refused():
    assert FarmSpec.declare(farm_id="f", location="l", power_source="own_offgrid", hashrate_ths=200,
                            efficiency_j_per_th="17.5").power_mw == 3_500_000
    with pytest.raises(InvalidFarm) as refused:
        FarmSpec.declare(farm_id="f", location="l", power_source="grid", hashrate_ths=1, efficiency_j_per_th="0.0001")
    assert refused.value.details["field"] == "efficiency_j_per_th"


@pytest.mark.parametrize("efficiency", ["Infinity", "-inf", float("inf"), "nan", "1e999999999"])
def test_an_efficiency_that_is_no_number_of_joules_is_a_typed_refusal(efficiency):
    with pytest.raises(InvalidFarm) as refused:
        FarmSpec.declare(farm_id="f", location="l", power_source="grid", hashrate_ths=95, efficiency_j_per_th=efficiency)
    assert refused.value.details["field"] == "efficiency_j_per_th"


def test_a_declaration_is_refused_at_its_first_fault_in_a_fixed_order():
    with pytest.raises(InvalidFarm) as refused:
        FarmSpec.declare(farm_id="f", location="bad place", power_source="coal", hashrate_ths=0, efficiency_j_per_th=0)
    assert refused.value.code == "invalid_farm" and refused.value.details["field"] == "location"
    with pytest.raises(InvalidFarm) as refused:
        FarmSpec.declare(farm_id="f", location="l", power_source="coal", hashrate_ths=0, efficiency_j_per_th=0)
    assert refused.value.details["field"] == "power_source"
    with pytest.raises(InvalidFarm) as refused:
        FarmSpec.declare(farm_id="f", location="l", power_source="grid", hashrate_ths=95, efficiency_j_per_th=34,
                         max_load_kw=3)
    assert refused.value.details["field"] == "max_load_kw"


def test_rewards_carry_their_remainder_so_any_cut_of_time_pays_the_same_total():
    subsidy, farm, network = 312_500_000, 95_000, 800_000_003
    whole, _ = share_reward(1000, subsidy, farm, network, 0)
    paid, carry = 0, 0
    for n in (1, 7, 143, 2, 500, 347):             # 1000 intervals cut unevenly
        sat, carry = share_reward(n, subsidy, farm, network, carry)
        paid += sat
    assert paid == whole == 1000 * subsidy * farm // network


def test_the_detection_rule_flags_load_past_the_tolerance_and_never_the_noise_alone():
    baseline = 2_000 * 24 * 1000
    for day in ("2025-06-01", "2025-06-02", "2025-06-03"):
        noise = noise_wh(7, "ekibastuz", day, baseline, 200)
        assert abs(noise) <= baseline * 200 // 10_000
        assert noise == noise_wh(7, "ekibastuz", day, baseline, 200)       # seeded: the same every time
        assert not examine("ekibastuz", day, baseline + noise, baseline, 0, tolerance_bps=500,
                           min_unexplained_wh=100_000).flagged
    hidden = 680 * 24 * 1000
    finding = examine("ekibastuz", "d", baseline + hidden, baseline, 0, tolerance_bps=500, min_unexplained_wh=100_000)
    assert finding.flagged and finding.unexplained_wh == hidden


def test_corporate_income_tax_is_20_percent_of_a_profit_and_nothing_on_a_loss():
    assert cit_minor(1_000_05, 2000) == 20_001
    assert cit_minor(-5, 2000) == 0
