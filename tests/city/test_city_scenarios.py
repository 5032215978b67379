"""Every shipped scenario passes through the runner on a real CryptoCity; a wrong expectation fails usefully."""
from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.city import CryptoCity
from sandbox.scenarios import load_scenario, run_scenario, scenario_from_text

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))


def factory_for(tmp_path: Path):
    counter = iter(range(1000))
    return lambda cfg, seed: CryptoCity.from_config(cfg, db=f"sqlite:///{tmp_path}/city-{next(counter)}.db", seed=seed)


def test_there_are_shipped_scenarios():
    assert len(SCENARIOS) >= 10


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_city_shipped_scenario_passes(path, tmp_path):
    result = run_scenario(load_scenario(path), factory_for(tmp_path))
    assert result.passed, "\n".join(r.describe() for r in result.failures)
    assert result.results, "a scenario checks at least one expectation"


WRONG = """
name: A deliberately wrong expectation
config: crypto-city
actors:
  aigerim: {kyc: full, resident: true, deposits: ["20 000.00 KZT"]}
steps:
  - name: coffee
    pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: coffee}
    expect: {status: declined, response_code: "51"}
  - capture: {ref: coffee}
  - expect:
      balances: {aigerim: {KZT: "20 000.00 KZT"}}
      verify: true
"""


def test_city_wrong_expectation_fails_with_expected_actual_and_step(tmp_path):
    result = run_scenario(scenario_from_text(WRONG, "wrong.yaml"), factory_for(tmp_path))
    assert not result.passed
    text = "\n".join(r.describe() for r in result.failures)
    assert "expected declined, got approved" in text
    assert "expected 51, got 00" in text
    assert "aigerim balance KZT" in text and "expected 20 000.00 KZT, got 18 500.00 KZT" in text
    assert "coffee" in text  # the step is named
    # the invariants still hold: a failed expectation is the scenario's problem, not the city's
    assert any(r.expectation == "ledger invariants hold" and r.passed for r in result.results)


CLEARING = """
name: clearing steps answer with the purchase's new status
config: crypto-city
actors:
  aigerim: {kyc: full, deposits: ["50 000.00 KZT"]}
steps:
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: coffee}
    expect: {status: approved}
  - capture: {ref: coffee}
    expect: {status: captured}
  - refund: {ref: coffee, amount: "500.00 KZT"}
    expect: {status: captured}
  - refund: {ref: coffee}
    expect: {status: refunded}
  - refund: {ref: coffee}
    expect: {error: nothing_to_refund, reason_contains: "nothing left to refund"}
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "700.00 KZT", ref: tea}
  - reverse: {ref: tea}
    expect: {status: reversed}
  - reverse: {ref: tea}
    expect: {error: nothing_to_reverse}
  - expect: {verify: true}
"""


def test_city_clearing_steps_can_expect_captured_reversed_refunded(tmp_path):
    """Before, every clearing step answered "ok", so ``expect: {status: captured}`` could never pass, and a
    second full refund answered the ledger's internal ``zero_amount`` naming an internal account."""
    result = run_scenario(scenario_from_text(CLEARING, "clearing.yaml"), factory_for(tmp_path))
    assert result.passed, [r.describe() for r in result.failures]
