"""pytest plugin (entry point ``pytest11``): scenario files as tests, and a city for testers' own tests.

- ``pytest scenarios/`` collects every YAML file whose top level has ``actors:`` and ``steps:``; each
  step of a scenario is one test item (``file.yaml::step 3 (pay: coffee, line 14)``), and a failing
  one reports each of its failed expectations on a line. The scenario runs once, on a fresh SQLite city,
  when its first step is reached.
- fixture ``city``: a fresh, seeded ``CryptoCity`` on a temporary SQLite file (the ``crypto-city`` preset,
  seed 7; ``@pytest.mark.cryptocity(config="aifc-classic", seed=3)`` changes them).
- fixture ``live_city``: the same served over HTTP by ``cryptocity serve`` on a free port, with an
  operator key (``live_city.url``, ``live_city.key``, ``live_city.request(method, path, body)``).

Imports stay inside the hooks: the plugin loads in every pytest run of an environment with cryptocity in it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

_SCENARIO_SHAPE = (re.compile(r"^actors:", re.M), re.compile(r"^steps:", re.M))
_SNIFF_BYTES = 256 * 1024


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cryptocity(config='crypto-city', seed=7): the city the `city` and "
                                       "`live_city` fixtures build")


def _looks_like_scenario(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            text = handle.read(_SNIFF_BYTES)
    except OSError:
        return False
    return all(pattern.search(text) for pattern in _SCENARIO_SHAPE)


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml") and _looks_like_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario file: its steps as items, run once (on the first item) on a fresh city."""

    def collect(self):
        from sandbox.scenarios import ScenarioError, load_scenario
        try:
            self.scenario = load_scenario(self.path)
        except ScenarioError as error:
            raise self.CollectError(str(error)) from None
        self._result: Any = None
        yield ScenarioStep.from_parent(self, name="setup", label="setup")
        for step in self.scenario.steps:
            yield ScenarioStep.from_parent(self, name=step.label, label=step.label)

    def result(self, tmp_dir: Path):
        if self._result is None:
            from sandbox.city import CryptoCity
            from sandbox.scenarios import run_scenario
            cities = []

            def factory(cfg, seed):
                cities.append(CryptoCity.from_config(cfg, db=f"sqlite:///{tmp_dir / 'city.db'}", seed=seed))
                return cities[-1]
            try:
                self._result = run_scenario(self.scenario, factory)
            finally:
                for city in cities:
                    city.close()
        return self._result


class ScenarioFailed(Exception):
    pass


class ScenarioStep(pytest.Item):
    def __init__(self, *, label: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label

    def runtest(self) -> None:
        import tempfile
        parent: ScenarioFile = self.parent  # type: ignore[assignment]
        if parent._result is None:
            parent._tmp = tempfile.TemporaryDirectory(prefix="cryptocity-scenario-")
        result = parent.result(Path(parent._tmp.name))
        mine = [r for r in result.results if r.step == self.label]
        for check in mine:
            self.user_properties.append((check.expectation, "PASS" if check.passed else check.describe()))
        failed = [r for r in mine if not r.passed]
        if failed:
            raise ScenarioFailed("\n".join(r.describe() for r in failed))
        if not mine and self.label != "setup" and not result.passed:
            ran = {r.step for r in result.results}
            if self.label not in ran and any(not r.passed for r in result.results):
                pytest.skip("not run: the scenario stopped at an earlier step's unexpected error")

    def repr_failure(self, excinfo, style=None):  # noqa: ANN001
        if isinstance(excinfo.value, ScenarioFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, self.label


def _marker(request: pytest.FixtureRequest) -> tuple[str, int]:
    marker = request.node.get_closest_marker("cryptocity")
    options = dict(marker.kwargs) if marker else {}
    return options.get("config", "crypto-city"), int(options.get("seed", 7))


@pytest.fixture
def city(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, seeded CryptoCity on a temporary SQLite file, closed afterwards."""
    from sandbox.city import CryptoCity
    config, seed = _marker(request)
    the_city = CryptoCity.from_config(config, db=f"sqlite:///{tmp_path / 'city.db'}", seed=seed)
    yield the_city
    the_city.close()


@pytest.fixture
def live_city(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh city served over HTTP on a free loopback port, with an operator key; stopped afterwards."""
    from sandbox.scenarios.live import LiveCity
    config, seed = _marker(request)
    with LiveCity.start(tmp_path / "live-city", config=config, seed=seed) as served:
        yield served
