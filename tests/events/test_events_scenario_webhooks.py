"""Scenario files assert on webhook deliveries: ``webhooks:`` names a stand-in app that the run registers
as an endpoint; ``webhooks:`` / ``webhooks_exactly:`` on a step wait for the deliveries of the events it
wrote (signatures verified), and in an ``expect`` block for every delivery so far."""
from __future__ import annotations

import pytest

from sandbox.city import CryptoCity
from sandbox.scenarios.loader import ScenarioError, scenario_from_text
from sandbox.scenarios.runner import run_scenario

SCENARIO = """
name: webhooks
config: crypto-city
seed: 42
webhooks:
  shop_app: {events: ["authorization.*"]}
  flaky_app: {events: ["authorization.captured"], answer: 500, within_ms: 3000}
actors:
  aigerim: {kyc: full, deposits: ["100.00 KZT"]}
steps:
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: coffee}
    expect:
      status: declined
      webhooks: {shop_app: [{type: authorization.created, data: {response_code: "51"}, attempts: 1}]}
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "50.00 KZT", ref: tea}
  - capture: {ref: tea}
    expect:
      webhooks_exactly:
        shop_app: [{type: authorization.captured, data: {captured_minor: 5000}}]
        flaky_app: [{type: authorization.captured, attempts: {at_least: ATTEMPTS}}]
  - expect:
      webhooks_exactly:
        shop_app:
          - {type: authorization.created, data: {reference: coffee}}
          - {type: authorization.created, data: {reference: tea, status: approved}}
          - {type: authorization.captured}
      verify: true
"""


def _run(tmp_path, text):
    def factory(cfg, seed):
        return CryptoCity.from_config(cfg, db=f"sqlite:///{tmp_path / 'city.db'}", seed=seed)
    return run_scenario(scenario_from_text(text), factory)


def test_deliveries_are_received_verified_and_matched(tmp_path):
    result = _run(tmp_path, SCENARIO.replace("ATTEMPTS", "2"))
    assert result.passed, [r.describe() for r in result.failures]
    assert sum("webhooks" in r.expectation for r in result.results) == 4


def test_a_failed_delivery_expectation_names_what_arrived(tmp_path):
    result = _run(tmp_path, SCENARIO.replace("ATTEMPTS", "2").replace('response_code: "51"', 'response_code: "05"'))
    assert [r.describe() for r in result.failures] == [
        "FAIL step 1 (pay, line 11): webhooks for this step's events delivered to shop_app include, in order — "
        "expected [authorization.created {'response_code': '05'} attempts = 1], "
        "got [authorization.created {'response_code': '51'}]"]


def test_an_app_that_never_answers_2xx_is_retried_and_the_count_is_asserted(tmp_path):
    # the flaky app answers 500: the in-process dispatcher retries at 0, 0.05 and 0.1 s, so three POSTs
    result = _run(tmp_path, SCENARIO.replace("ATTEMPTS", "4"))
    [failure] = result.failures
    assert "delivered to flaky_app are exactly" in failure.describe()
    assert "authorization.captured ×3" in failure.describe()


def test_an_undeclared_receiver_is_refused_at_load():
    text = SCENARIO.replace("ATTEMPTS", "2").replace("flaky_app: [", "billing_app: [")
    with pytest.raises(ScenarioError, match="unknown webhook receiver 'billing_app'; declare it under webhooks:"):
        scenario_from_text(text)
