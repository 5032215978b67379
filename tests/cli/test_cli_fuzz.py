"""``cryptocity fuzz``: property runs over the scenario verbs (docs/scenarios.md, "Property runs")."""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from sandbox.cli import main
from sandbox.scenarios.loader import load_scenario

FAULT = "skip_conversion_fee:USDT"


def fuzz(tmp_path: Path, *args: str, fault: str | None = None):
    env = {"CRYPTOCITY_FAULT": fault} if fault else {"CRYPTOCITY_FAULT": ""}
    return CliRunner().invoke(main, ["fuzz", "--out", str(tmp_path), *args], env=env)


def test_a_small_run_breaks_no_invariant_and_the_same_seed_prints_the_same(tmp_path):
    first = fuzz(tmp_path, "--steps", "60", "--example-steps", "20", "--seed", "3")
    assert first.exit_code == 0, first.output
    assert "PASS: no invariant broken" in first.output
    steps = int(re.search(r": (\d+) steps in (\d+) cities", first.output).group(1))
    assert steps >= 60
    checks = int(re.search(r"(\d+) invariant checks", first.output).group(1))
    assert checks == 3 * steps    # verify, the fee account, the events: after every step
    again = fuzz(tmp_path, "--steps", "60", "--example-steps", "20", "--seed", "3")
    assert again.output == first.output


def test_an_injected_fault_is_found_shrunk_to_a_few_steps_and_reproduced_by_run(tmp_path):
    # short examples: the failure is found within the budget and shrinks quickly
    found = fuzz(tmp_path, "--steps", "60", "--example-steps", "5", "--seed", "1", fault=FAULT)
    assert found.exit_code == 1, found.output
    assert "FAIL: InvariantBroken" in found.output and "conversion fees" in found.output
    path = Path(re.search(r"shrunk to \d+ steps: (\S+)", found.output).group(1))
    assert f"reproduce: CRYPTOCITY_FAULT={FAULT} cryptocity run {path}" in found.output
    scenario = load_scenario(path)     # a valid scenario file
    verbs = [step.verb for step in scenario.steps]
    assert verbs[-1] == "expect" and len(verbs) - 1 <= 10
    assert "pay" in verbs
    assert yaml.safe_load(path.read_text())["steps"][-1]["expect"]["verify"] is True
    # the file fails under the fault and passes without it
    runner = CliRunner()
    broken = runner.invoke(main, ["run", str(path)], env={"CRYPTOCITY_FAULT": FAULT})
    assert broken.exit_code == 1, broken.output
    assert "fees:card-programme:KZT" in broken.output
    healthy = runner.invoke(main, ["run", str(path)], env={"CRYPTOCITY_FAULT": ""})
    assert healthy.exit_code == 0, healthy.output
