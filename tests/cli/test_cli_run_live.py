"""``cryptocity run --server``: the same scenario files driven through the HTTP API of a running city give
the same pass/fail as in process, reruns never clash, and a server running other rules is refused."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sandbox.cli import main
from sandbox.scenarios import load_scenario
from sandbox.scenarios.live import LiveCity

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def run(*args: str):
    return CliRunner(env={"CRYPTOCITY_API_KEY": None}).invoke(main, ["run", *args])


def serve_for(scenario_path: Path, directory: Path) -> LiveCity:
    """A server running exactly the configuration and seed the scenario asks for."""
    printed = run("--print-config", str(scenario_path))
    assert printed.exit_code == 0, printed.output
    (directory / "city.yaml").parent.mkdir(parents=True, exist_ok=True)
    (directory / "city.yaml").write_text(printed.output, encoding="utf-8")
    return LiveCity.start(directory, config=str(directory / "city.yaml"), seed=load_scenario(scenario_path).seed)


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_passes_against_a_running_city(path, tmp_path):
    with serve_for(path, tmp_path) as live:
        result = run(str(path), "--server", live.url, "--key", live.key)
        assert result.exit_code == 0, result.output
        assert result.output.startswith("PASS "), result.output
        status, body = live.request("GET", "/api/v1/ledger/verify")
        assert status == 200 and body["ok"], body


COFFEE = ROOT / "scenarios" / "01-coffee-btc-in-zone.yaml"


@pytest.fixture(scope="module")
def crypto_city(tmp_path_factory):
    with serve_for(COFFEE, tmp_path_factory.mktemp("live")) as live:
        yield live


@pytest.mark.slow
def test_a_rerun_on_the_same_city_never_clashes_and_its_actors_are_namespaced(crypto_city):
    for _ in range(2):
        result = run(str(COFFEE), "--server", crypto_city.url, "--key", crypto_city.key)
        assert result.exit_code == 0 and result.output.startswith("PASS "), result.output
    status, page = crypto_city.request("GET", "/api/v1/customers?limit=200")
    runs = [c["actor"] for c in page["items"] if c["actor"].endswith("-aigerim")]
    assert status == 200 and len(runs) == 2 and len({name.split("-")[0] for name in runs}) == 2, runs


@pytest.mark.slow
def test_a_failing_expectation_fails_live_as_in_process_with_the_decline_reason(crypto_city, tmp_path):
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(COFFEE.read_text(encoding="utf-8").replace("""amount: "1 500.00 KZT", ref: coffee}""",
                                                                """amount: "9 000 000.00 KZT", ref: coffee}"""))
    in_process = run(str(wrong))
    live = run(str(wrong), "--server", crypto_city.url, "--key", crypto_city.key)
    assert in_process.exit_code == live.exit_code == 1, (in_process.output, live.output)
    for output in (in_process.output, live.output):
        assert "status — expected approved, got declined [declined 61:" in output, output


@pytest.mark.slow
def test_a_scenario_for_other_rules_is_refused_naming_how_to_serve_them(crypto_city):
    other = ROOT / "scenarios" / "13-aifc-classic-refusal.yaml"
    result = run(str(other), "--server", crypto_city.url, "--key", crypto_city.key)
    assert result.exit_code == 2, result.output
    assert "REFUSED AIFC classic" in result.output
    assert "cryptocity run --print-config" in result.output and "cryptocity serve --config city.yaml" in result.output


def test_server_needs_a_key_and_excludes_db(tmp_path):
    assert "--server needs --key" in run(str(COFFEE), "--server", "http://127.0.0.1:9").output
    both = run(str(COFFEE), "--server", "http://127.0.0.1:9", "--key", "k", "--db", str(tmp_path / "x.db"))
    assert both.exit_code == 2 and "--server drives a running city; --db names a database" in both.output


def test_an_unreachable_server_is_refused_in_words():
    result = run(str(COFFEE), "--server", "http://127.0.0.1:9", "--key", "k")
    assert result.exit_code == 2
    assert "REFUSED" in result.output and "cannot reach http://127.0.0.1:9" in result.output
