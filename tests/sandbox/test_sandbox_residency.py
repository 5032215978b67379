"""Residency from presence days (183 in 12 months; 90 for AIFC investors) and the scenario keys for it."""
from datetime import date

import pytest

from sandbox.config import load_config
from sandbox.scenarios import ScenarioError, scenario_from_text
from sandbox.tax import TaxError, residency_from_days

TAX = load_config("crypto-city").tax
ON = date(2025, 6, 1)


@pytest.mark.parametrize("days,aifc,resident", [(0, False, False), (182, False, False), (183, False, True),
                                                 (365, False, True), (89, True, False), (90, True, True)])
def test_residency_from_days_names_the_rule(days, aifc, resident):
    r = residency_from_days(days, ON, TAX, aifc_investor=aifc)
    assert r.resident is resident
    assert r.basis.startswith("resident" if resident else "non-resident")
    assert f"present {days} days in the 12 months before 2025-06-01" in r.basis
    assert ("AIFC-investor rule (90 days" in r.basis) if aifc else ("183-day rule" in r.basis)


@pytest.mark.parametrize("days", [-1, 366, 1.5, True, "183"])
def test_residency_refuses_days_outside_the_year(days):
    with pytest.raises(TaxError, match="a whole number from 0 to 365"):
        residency_from_days(days, ON, TAX)


SCENARIO = """name: s
config: crypto-city
actors:
  arman: {kyc: full, days_in_kazakhstan: DAYS}
steps:
  - expect: {verify: true}
"""


def test_scenario_actors_take_presence_days_and_refuse_impossible_ones():
    s = scenario_from_text(SCENARIO.replace("DAYS", "183"), "s.yaml")
    assert s.actors["arman"].days_in_kazakhstan == 183 and s.actors["arman"].resident is None
    with pytest.raises(ScenarioError) as info:
        scenario_from_text(SCENARIO.replace("DAYS", "400"), "s.yaml")
    assert "s.yaml:4:" in str(info.value) and "days_in_kazakhstan" in str(info.value)
