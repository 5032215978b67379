"""Scenario files assert on events: ``events:`` (these, in this order, among others) and ``events_exactly:``
(exactly these), on a step (the events it wrote) or an ``expect`` block (every event so far)."""
from __future__ import annotations

import pytest

from sandbox.city import CryptoCity
from sandbox.scenarios.loader import ScenarioError, scenario_from_text
from sandbox.scenarios.runner import run_scenario

SCENARIO = """
name: events
config: crypto-city
seed: 42
actors:
  aigerim: {kyc: full, deposits: ["100.00 KZT"]}
steps:
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: coffee}
    expect:
      status: declined
      events: [{type: authorization.created, data: {response_code: "51", status: declined}}]
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "50.00 KZT", ref: tea}
    expect:
      events_exactly: [{type: authorization.created, data: {response_code: "00", amount_minor: 5000}}]
  - capture: {ref: tea}
    expect: {events: [{type: authorization.captured, data: {captured_minor: CAPTURED}}]}
  - advance: 1h
    expect: {events_exactly: [{type: clock.advanced, data: {expired_holds: 0}}]}
  - expect:
      events:
        - {type: customer.created, data: {customer: aigerim}}
        - {type: deposit.confirmed, data: {asset: KZT, amount_minor: 10000}}
        - {type: authorization.captured}
        - {type: clock.advanced}
"""


def _run(tmp_path, text):
    def factory(cfg, seed):
        return CryptoCity.from_config(cfg, db=f"sqlite:///{tmp_path / 'city.db'}", seed=seed)
    return run_scenario(scenario_from_text(text), factory)


def test_event_expectations_pass(tmp_path):
    result = _run(tmp_path, SCENARIO.replace("CAPTURED", "5000"))
    assert result.passed, [r.describe() for r in result.failures]
    assert sum("events" in r.expectation for r in result.results) == 5


def test_a_failed_event_expectation_says_what_was_expected_and_what_came(tmp_path):
    result = _run(tmp_path, SCENARIO.replace("CAPTURED", "4000").replace(
        "[{type: clock.advanced, data: {expired_holds: 0}}]", "[{type: clock.advanced}, {type: authorization.expired}]"))
    lines = [r.describe() for r in result.failures]
    assert lines == [
        "FAIL step 3 (capture, line 15): events written by this step include, in order — expected "
        "[authorization.captured {'captured_minor': 4000}], got [authorization.captured {'captured_minor': 5000}]",
        "FAIL step 4 (advance, line 17): events written by this step are exactly — expected "
        "[clock.advanced, authorization.expired], got [clock.advanced]",
    ]


def test_an_unknown_event_type_is_refused_with_its_line():
    with pytest.raises(ScenarioError) as refused:
        scenario_from_text(SCENARIO.replace("type: authorization.captured, data", "type: authorisation.captured, data"))
    assert "<scenario>:16" in str(refused.value) and "'authorisation.captured' is not an event type" in str(refused.value)
