"""Scenario files: all shipped ones load; errors carry the line; expectations match; JUnit XML."""
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.scenarios import ScenarioError, junit_xml, load_scenario, run_scenario, scenario_from_text

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))

GOOD = """\
name: demo
config: crypto-city
actors:
  aigerim: {kyc: full, deposits: ["0.01 BTC"]}
steps:
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: coffee}
    expect: {status: approved, response_code: "00"}
  - advance: 2h30m
  - expect:
      balances: {aigerim: {KZT: "0.00 KZT", BTC: {at_most: "0.01 BTC"}}}
      flags: {aigerim: []}
      verify: true
"""


class FakeCity:
    """A stand-in facade recording calls; the real one is sandbox.city.CryptoCity."""

    def __init__(self, cfg, seed):
        self.calls, self.kzt, self.moved = [], 0, timedelta()

    def onboard(self, **kw):
        self.calls.append(("onboard", kw))

    def pay(self, actor, merchant, amount_minor, ref):
        self.calls.append(("pay", ref))
        if merchant == "shady-casino":
            return {"status": "declined", "response_code": "59", "reason": "blocklist", "flags": [("blocklist_merchant", "x")]}
        return {"status": "approved", "response_code": "00", "flags": []}

    def advance(self, delta):
        self.moved += delta

    def balances(self, actor):
        return {"KZT": 0, "BTC": 999_000}

    def flags(self, actor):
        return []

    def verify(self):
        return None


def test_all_shipped_scenarios_load():
    assert len(SHIPPED) >= 10
    for path in SHIPPED:
        s = load_scenario(path)
        assert s.steps and s.name


@pytest.mark.parametrize("text,line,words", [
    (GOOD.replace("merchant: alatau-coffee", "merchant: alatau-coffee, tip: 5"), 6, "unknown key 'tip'"),
    (GOOD.replace("  - advance: 2h30m", "  - advance: soon"), 8, "not a duration"),
    (GOOD.replace("  - advance: 2h30m", "  - teleport: {to: mars}"), 8, "unknown step verb 'teleport'"),
    (GOOD.replace('"1 500.00 KZT"', '"1 500.00 KZX"'), 6, "unknown asset"),
    (GOOD.replace("actor: aigerim,", "actor: bob,"), 6, "unknown actor 'bob'"),
    (GOOD.replace("status: approved", "status: maybe"), 7, "steps[0].expect.status"),
    (GOOD.replace("kyc: full", "kyc: gold"), 4, "actors.aigerim.kyc"),
    (GOOD.replace("config: crypto-city", "config: atlantis"), 2, "no preset or file named 'atlantis'"),
    (GOOD.replace("verify: true", "verify: true\n   bad: [\n"), 13, "not valid YAML"),
])
def test_errors_name_the_line(text, line, words):
    with pytest.raises(ScenarioError) as info:
        scenario_from_text(text, "s.yaml")
    message = str(info.value)
    assert f"s.yaml:{line}:" in message and words in message, message


def test_config_override_errors_name_the_key():
    text = GOOD.replace("config: crypto-city", "config: crypto-city\nconfig_overrides: {card: {mdr: 5}}")
    with pytest.raises(ScenarioError, match=r"(?s)s.yaml:3: config: .*card.mdr: unknown key"):
        scenario_from_text(text, "s.yaml")


def test_runner_calls_the_facade_and_matches_expectations():
    s = scenario_from_text(GOOD, "s.yaml")
    res = run_scenario(s, FakeCity)
    assert res.passed, [r.describe() for r in res.failures]
    names = [r.expectation for r in res.results]
    assert "status" in names and "aigerim balance KZT =" in names and "ledger invariants hold" in names


def test_wrong_expectation_fails_with_expected_actual_and_step():
    s = scenario_from_text(GOOD.replace('KZT: "0.00 KZT"', 'KZT: "5.00 KZT"'), "s.yaml")
    res = run_scenario(s, FakeCity)
    [fail] = res.failures
    assert fail.expected == "5.00 KZT" and fail.actual == "0.00 KZT"
    assert fail.step == "step 3 (expect, line 9)"
    xml = ET.fromstring(junit_xml([res]))
    suite = xml.find("testsuite")
    assert suite.get("failures") == "1" and suite.find("testcase/failure").get("message") == "expected 5.00 KZT, got 0.00 KZT"


def test_unexpected_error_stops_the_scenario_and_is_reported():
    s = scenario_from_text(GOOD.replace("  - advance: 2h30m", "  - capture: {ref: coffee}"), "s.yaml")
    res = run_scenario(s, FakeCity)   # FakeCity has no capture()
    assert not res.passed and res.failures[0].expectation == "completes without error"
    assert "AttributeError" in res.failures[0].actual and len(res.results) == 3


@pytest.mark.parametrize("key", ["daily_limit", "daily_limit_minor"])
def test_a_config_override_may_use_a_limit_s_old_name_or_its_new_one(key):
    text = GOOD.replace("config: crypto-city", f"config: crypto-city\nconfig_overrides: {{card: {{{key}: 300000000}}}}")
    assert scenario_from_text(text, "s.yaml").config.card.daily_limit_minor == 300_000_000
