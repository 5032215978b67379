"""The scenario format's richer constructs on a real city: each one passes when true, fails naming what it
saw when false, and a mistake in the file is refused at load time with its line."""
from __future__ import annotations

import itertools

import pytest

from sandbox.scenarios import ScenarioError, run_scenario, scenario_from_text

from tests.city.test_city_scenarios import factory_for

HEADER = """
name: say more
config: crypto-city
actors:
  aigerim: {kyc: full, resident: true, deposits: ["0.02 BTC"]}
  dias: {kyc: full, resident: true, deposits: ["1 000.00 KZT"]}
steps:
"""


_runs = itertools.count()


def run(tmp_path, steps: str, header: str = HEADER):
    """Run the steps in a fresh city (a new database per run)."""
    directory = tmp_path / f"run-{next(_runs)}"
    directory.mkdir()
    result = run_scenario(scenario_from_text(header + steps, "s.yaml"), factory_for(directory))
    return result, "\n".join(r.describe() for r in result.results)


def refused(steps: str, header: str = HEADER) -> str:
    with pytest.raises(ScenarioError) as caught:
        scenario_from_text(header + steps, "s.yaml")
    return str(caught.value)


def test_a_failure_line_shows_the_decline_code_and_reason(tmp_path):
    result, text = run(tmp_path, """
  - pay: {actor: dias, merchant: zone-market, amount: "50 000.00 KZT", ref: big}
    expect: {status: approved}
""")
    assert not result.passed
    (failure,) = result.failures
    assert "expected approved, got declined [declined 51: tenge plus crypto (KZTE, USDT, BTC, ETH) cannot cover" in failure.describe()


def test_crypto_sold_and_the_conversion_fee_are_checked_by_range(tmp_path):
    result, text = run(tmp_path, """
  - pay: {actor: aigerim, merchant: zone-market, amount: "10 000.00 KZT", ref: p}
    expect:
      conversion_fee: {at_least: "100.00 KZT", at_most: "101.00 KZT"}
      sold: [{asset: BTC, qty: {at_most: "0.001 BTC"}, slippage_bps: {at_most: 200}}]
  - expect: {verify: true}
""")
    assert result.passed, text
    result, text = run(tmp_path, """
  - pay: {actor: aigerim, merchant: zone-market, amount: "10 000.00 KZT", ref: p}
    expect:
      sold: [{asset: USDT}]
      conversion_fee: {at_most: "1.00 KZT"}
""")
    assert not result.passed
    assert "assets sold, in order — expected ['USDT'], got ['BTC']" in text
    assert "conversion fee <= — expected 1.00 KZT, got 1" in text


def test_one_of_passes_on_either_outcome_and_fails_on_neither(tmp_path):
    result, text = run(tmp_path, """
  - pay: {actor: dias, merchant: zone-market, amount: "50 000.00 KZT", ref: big}
    expect:
      one_of: [{status: approved}, {status: declined, response_code: "51"}]
  - expect: {verify: true}
""")
    assert result.passed, text
    result, text = run(tmp_path, """
  - pay: {actor: dias, merchant: zone-market, amount: "50 000.00 KZT", ref: big}
    expect:
      one_of: [{status: approved}, {status: declined, response_code: "61"}]
""")
    assert not result.passed
    assert "one of 2 outcomes — expected status=approved | status=declined, response_code=61, got declined 51" in text


def test_flags_as_an_exact_set_or_contained(tmp_path):
    steps = """
  - pay: {actor: aigerim, merchant: steppe-electronics, amount: "220 000.00 KZT", ref: laptop}
    expect: {status: approved, flags: FLAGS}
  - expect: {verify: true}
"""
    assert run(tmp_path, steps.replace("FLAGS", "[large_transaction]"))[0].passed
    assert run(tmp_path, steps.replace("FLAGS", "{exactly: [large_transaction]}"))[0].passed
    result, text = run(tmp_path, steps.replace("FLAGS", "{exactly: []}"))
    assert "flags on this step are exactly — expected none, got ['large_transaction']" in text


def test_merchant_and_fee_accounts_and_tax_as_a_rate_of_the_gain(tmp_path):
    result, text = run(tmp_path, """
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: c}
  - capture: {ref: c, key: cap-1}
  - capture: {ref: c, key: cap-1}
    expect: {status: captured}
  - expect:
      merchants: {alatau-coffee: {at_least: "1 470.00 KZT", at_most: "1 480.00 KZT"}}
      accounts: {"fees:card-programme:KZT": {at_least: "15.00 KZT", at_most: "16.00 KZT"}}
      tax:
        aigerim:
          disposals: 1
          pit: {at_least: "0.00 KZT"}
          tax_of_gain_pct: {at_most: 10}
          lines: [{asset: BTC, source: card, qty: {at_most: "0.0001 BTC"}}]
      verify: true
""")
    assert result.passed, text
    assert "merchant alatau-coffee balance >=" in text


def test_absolute_times_with_a_zone_and_the_clock_only_moves_forward(tmp_path):
    result, text = run(tmp_path, """
  - at: "2025-06-02 00:30 Asia/Almaty"
    pay: {actor: aigerim, merchant: zone-market, amount: "1 000.00 KZT", ref: late}
    expect: {status: approved}
  - advance_to: "2025-06-01T10:00:00Z"
    expect: {status: error, error: clock_moves_forward}
  - expect: {verify: true}
""")
    assert result.passed, text
    problem = refused("""
  - at: "2025-06-02T09:00:00"
    pay: {actor: aigerim, merchant: zone-market, amount: "1 000.00 KZT", ref: late}
""")
    assert "s.yaml:9: steps[0].at: a time needs its zone" in problem


def test_a_matrix_expands_its_steps_once_per_row(tmp_path):
    result, text = run(tmp_path, """
  - matrix:
      rows: [{amount: "1 000.00 KZT", code: "00"}, {amount: "90 000 000.00 KZT", code: "61"}]
      steps:
        - pay: {actor: aigerim, merchant: zone-market, amount: "${amount}", ref: "m-${case}"}
          expect: {response_code: "${code}"}
  - expect: {verify: true}
""")
    assert result.passed, text
    assert "[case 2: amount=90 000 000.00 KZT, code=61]" in text
    problem = refused("""
  - matrix:
      rows: [{amount: "1 000.00 KZT"}]
      steps:
        - pay: {actor: aigerim, merchant: zone-market, amount: "${amt}", ref: m}
""")
    assert "${amt} is not a column; columns: amount (and case)" in problem


def test_a_saved_result_is_read_by_a_later_step_and_an_unknown_one_is_refused(tmp_path):
    result, text = run(tmp_path, """
  - pay: {actor: aigerim, merchant: zone-market, amount: "1 000.00 KZT", ref: p}
    save: first
  - reverse: {ref: p, key: "void-${first.authorization_id}"}
    expect: {status: reversed}
  - pay: {actor: aigerim, merchant: zone-market, amount: "1 000.00 KZT", ref: "again-${first.response_code}"}
    expect: {status: approved}
  - expect: {verify: true}
""")
    assert result.passed, text
    assert "steps[1]: ${nope.…} reads a result no earlier step saved; saved so far: none" in refused("""
  - pay: {actor: aigerim, merchant: zone-market, amount: "1 000.00 KZT", ref: p}
  - reverse: {ref: p, key: "void-${nope.authorization_id}"}
""")
    result, text = run(tmp_path, """
  - pay: {actor: aigerim, merchant: zone-market, amount: "1 000.00 KZT", ref: p}
    save: first
  - reverse: {ref: p, key: "void-${first.no_such_field}"}
""")
    assert not result.passed and "the result saved as 'first' has no 'no_such_field'" in text


def test_kyc_licence_whitelist_and_withdraw_verbs(tmp_path):
    result, text = run(tmp_path, """
  - set_kyc: {actor: dias, tier: none, reason: documents expired}
  - pay: {actor: dias, merchant: zone-market, amount: "100.00 KZT", ref: after-kyc}
    expect: {status: declined}
  - renew_licence: {licence: AFSA-TF-001, valid_until: "2029-01-01T00:00:00+05:00", exit_plan: orderly wind-down}
  - whitelist: {actor: aigerim, to: dias}
  - withdraw: {actor: aigerim, address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", amount: "0.001 BTC"}
    expect: {status: error, error: address_not_whitelisted}
  - withdraw: {actor: aigerim, to: dias, amount: "0.001 BTC", key: w1}
    expect: {status: confirmed}
  - expect:
      balances: {aigerim: {BTC: {at_most: "0.019 BTC"}}}
      verify: true
""")
    assert result.passed, text


def test_merchants_add_adds_one_merchant_and_refuses_a_clash(tmp_path):
    header = HEADER.replace("steps:", """merchants_add:
  - {id: zone-kiosk, name: Zone Kiosk, mcc: "5499", in_zone: false}
steps:""")
    result, text = run(tmp_path, """
  - pay: {actor: aigerim, merchant: zone-kiosk, amount: "100.00 KZT", ref: k}
    expect: {status: declined, response_code: "57"}
""", header)
    assert result.passed, text
    clash = HEADER.replace("steps:", """merchants_add:
  - {id: zone-market, name: Again, mcc: "5411", in_zone: false}
steps:""")
    assert "zone-market already in the configuration" in refused("  - advance: 1h\n", clash)
