"""The scenario format's JSON Schema: generated from the loader's models, it accepts every shipped scenario
and every example in the docs, refuses what the loader refuses, and the docs describe all of it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema_rs
import pytest
import yaml
from click.testing import CliRunner

from sandbox.cli import main
from sandbox.scenarios.model import STEP_MODELS, ExpectBlock, StepExpect, TaxExpect
from sandbox.scenarios.schema import scenario_json_schema

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
DOC_EXAMPLES = [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", DOC, re.S)]


@pytest.fixture(scope="module")
def validator():
    return jsonschema_rs.Draft202012Validator(scenario_json_schema())


def test_the_cli_prints_the_schema_as_json():
    result = CliRunner().invoke(main, ["schema", "scenario"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["title"] == "cryptocity scenario"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_is_valid_under_the_schema(validator, path):
    errors = [e.message[:300] for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
    assert not errors


def test_every_scenario_example_in_the_docs_is_valid_under_the_schema(validator):
    examples = [e for e in DOC_EXAMPLES if isinstance(e, dict) and "steps" in e]
    assert len(examples) >= 2
    for example in examples:
        assert validator.is_valid(example), [e.message[:300] for e in validator.iter_errors(example)]


@pytest.mark.parametrize("mistake", [
    lambda s: s["steps"][0]["pay"].update(amont="1 KZT"),           # a misspelt key
    lambda s: s["steps"].append({"paay": {}}),                         # an unknown verb
    lambda s: s["steps"][0]["expect"].update(status="approvd"),       # not a status
    lambda s: s["steps"][0]["pay"].update(amount="1500"),             # an amount without its asset
    lambda s: s.pop("actors"),                                         # a required key missing
])
def test_what_the_loader_refuses_the_schema_refuses(validator, mistake):
    scenario = yaml.safe_load(SHIPPED[0].read_text(encoding="utf-8"))
    mistake(scenario)
    assert not validator.is_valid(scenario)


def test_the_docs_describe_every_verb_and_expectation_key_of_the_schema():
    verbs = set(STEP_MODELS) | {"matrix"}
    undocumented = sorted(v for v in verbs if f"`{v}`" not in DOC)
    assert not undocumented, f"verbs missing from docs/scenarios.md: {undocumented}"
    keys = (set(StepExpect.model_fields) | set(ExpectBlock.model_fields) | set(TaxExpect.model_fields)) - {"year"}
    undocumented = sorted(k for k in keys if not re.search(rf"`{k}[`:]", DOC))
    assert not undocumented, f"expectation keys missing from docs/scenarios.md: {undocumented}"
