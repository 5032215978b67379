"""The pytest plugin, as a tester meets it: ``pytest scenarios/`` in their own project collects scenario
files (one item per step, failures naming each failed expectation), and their own tests get ``city``
and ``live_city``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CRYPTOCITY_TEST"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
                          cwd=directory, env=env, capture_output=True, text=True, timeout=600, check=False)


GOOD = """
name: coffee
config: crypto-city
actors:
  aigerim: {kyc: full, deposits: ["0.01 BTC"]}
steps:
  - pay: {actor: aigerim, merchant: alatau-coffee, amount: "1 500.00 KZT", ref: c}
    expect: {status: approved}
  - expect: {verify: true}
"""


@pytest.mark.slow
def test_pytest_collects_scenario_files_one_item_per_step_and_reports_failed_expectations(tmp_path):
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "coffee.yaml").write_text(GOOD)
    (tmp_path / "scenarios" / "wrong.yaml").write_text(GOOD.replace("status: approved", "status: declined"))
    (tmp_path / "scenarios" / "not-a-scenario.yaml").write_text("just: a mapping\n")
    run = pytest_in(tmp_path, "scenarios", "-v")
    assert "coffee.yaml::step 1 (pay, line 7) PASSED" in run.stdout, run.stdout
    assert "wrong.yaml::step 1 (pay, line 7) FAILED" in run.stdout
    assert "FAIL step 1 (pay, line 7): status — expected declined, got approved" in run.stdout
    assert "not-a-scenario" not in run.stdout
    assert "1 failed, 5 passed" in run.stdout, run.stdout
    assert run.returncode == 1


@pytest.mark.slow
def test_an_invalid_scenario_is_a_collection_error_naming_its_line(tmp_path):
    (tmp_path / "bad.yaml").write_text(GOOD.replace("amount:", "amont:"))
    run = pytest_in(tmp_path, "bad.yaml")
    assert "bad.yaml:7: steps[0].pay.amont: unknown key 'amont'" in run.stdout, run.stdout
    assert run.returncode == 2


TESTER_TESTS = '''
import pytest


def test_a_purchase_on_the_city_fixture(city):
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 1_000_000})
    assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=150_000, ref="c").status == "approved"
    city.verify()


@pytest.mark.cryptocity(config="aifc-classic")
def test_the_marker_chooses_the_regime(city):
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 1_000_000})
    assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=150_000, ref="c").status == "declined"


def test_the_live_city_fixture_serves_the_api(live_city):
    status, body = live_city.request("POST", "/api/v1/customers", {"actor": "dana", "kyc_tier": "full"},
                                     idempotency_key="onboard-dana")
    assert status == 201, body
    status, body = live_city.request("GET", "/api/v1/ledger/verify")
    assert status == 200 and body["ok"] is True, body
'''


@pytest.mark.slow
def test_a_testers_own_tests_get_city_and_live_city(tmp_path):
    (tmp_path / "test_mine.py").write_text(TESTER_TESTS)
    run = pytest_in(tmp_path, "test_mine.py")
    assert "3 passed" in run.stdout, run.stdout + run.stderr
