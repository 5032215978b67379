"""Run a scenario (YAML text) and get pass/fail per expectation — without touching the server's city.

A scenario builds its own city from its ``config`` (a preset name, with optional ``config_overrides``)
and its seed, and its steps onboard people, move money and advance time. Running that on the server's
city would mutate shared state and move the clock under everybody's feet, so the server runs it in a
FRESH city on a temporary SQLite file that is deleted afterwards, and returns the results. The response
is what ``cryptocity run`` prints: one line per expectation, with expected and actual values.

Safety: the YAML arrives inside the request body (so the body limit applies), is parsed within the
bounds of ``sandbox.yamlsafe`` (size, depth, aliases: an alias bomb is a 422 in milliseconds), and
``config`` must name a bundled preset — a path would let a client make the server read its files. Running costs CPU (a city starts in about half a second; KZTE steps start an EVM), so this is an
operator endpoint. The Idempotency-Key replays a stored run instead of running again.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import marshmallow as ma
from flask_smorest import Blueprint

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, idempotent_write, stored_response
from ..problems import Problem
from ..responses import json_response
from . import PREFIX
from .schemas import Strict

blp = Blueprint("scenarios", __name__, url_prefix=f"{PREFIX}/scenarios", description="Scenario runs")
PRESET_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class ScenarioRequest(Strict):
    scenario = ma.fields.String(required=True, validate=ma.validate.Length(1, 60_000),
                                metadata={"description": "the scenario file's YAML text"})


class ExpectationSchema(Strict):
    step = ma.fields.String(required=True)
    expectation = ma.fields.String(required=True)
    expected = ma.fields.String(required=True)
    actual = ma.fields.String(required=True)
    passed = ma.fields.Boolean(required=True)


class RunSchema(Strict):
    name = ma.fields.String(required=True)
    passed = ma.fields.Boolean(required=True)
    expectations = ma.fields.Integer(required=True)
    failures = ma.fields.Integer(required=True)
    seconds = ma.fields.Float(required=True, metadata={"description": "wall-clock time of the run"})
    results = ma.fields.List(ma.fields.Nested(ExpectationSchema), required=True)


def _check_config(text: str) -> None:
    from sandbox.config import preset_path
    from sandbox.scenarios.loader import parse_with_lines
    data, _ = parse_with_lines(text, "<request>")  # bounded (sandbox.yamlsafe); ScenarioError -> 422
    if not isinstance(data, dict):
        raise Problem(422, "invalid_scenario", "a scenario is a mapping with name, config, actors and steps")
    name = data.get("config", "crypto-city")
    if not isinstance(name, str) or not PRESET_NAME.match(name) or not preset_path(name).is_file():
        raise Problem(422, "invalid_scenario", f"config must name a bundled preset (e.g. crypto-city), got {name!r}; "
                      "over the API a scenario cannot read files — use config_overrides to change settings")


def run_text(text: str) -> dict:
    from sandbox.city import CryptoCity
    from sandbox.scenarios.loader import scenario_from_text
    from sandbox.scenarios.runner import run_scenario
    _check_config(text)
    scenario = scenario_from_text(text, source="<request>")  # ScenarioError (invalid_scenario) -> 422
    workdir = Path(tempfile.mkdtemp(prefix="cryptocity-scenario-"))
    cities = []

    def factory(cfg, seed):
        cities.append(CryptoCity.from_config(cfg, db=f"sqlite:///{workdir / 'city.db'}", seed=seed))
        return cities[-1]
    try:
        result = run_scenario(scenario, factory)
    finally:
        for city in cities:
            city.close()
        shutil.rmtree(workdir, ignore_errors=True)
    rows = [{"step": r.step, "expectation": r.expectation, "expected": str(r.expected), "actual": str(r.actual),
             "passed": r.passed} for r in result.results]
    return {"name": scenario.name, "passed": result.passed, "expectations": len(rows),
            "failures": len(result.failures), "seconds": round(result.seconds, 3), "results": rows}


@blp.route("/runs", methods=["POST"])
@access()
@blp.arguments(ScenarioRequest)
@blp.response(200, RunSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def run(body: dict):
    """Run a scenario in a fresh, temporary city (operator) and return pass/fail per expectation. The
    server's own city is not touched. An invalid scenario is a 422 naming the line."""
    # The run touches no server state and takes seconds: done before the (short) write that stores its
    # answer, never inside it; a retry that finds the answer stored does not run it again.
    done = stored_response()
    if done is not None:
        return json_response(*done)
    result = run_text(body["scenario"])
    return json_response(*idempotent_write(lambda uow: (result, 200)))
