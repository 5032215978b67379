"""What ``cryptocity run`` needs besides the runner: the city each scenario runs on (a fresh SQLite file,
a database, or a running server), the check that a server runs the configuration a scenario asks for,
and the configuration as YAML for ``cryptocity serve --config``."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable

import click
import yaml

from .loader import Scenario


def factory_for(*, server: str | None, key: str | None, db_url: str | None) -> Callable[[Any, int], Any]:
    """The runner's facade factory: the HTTP API of ``server``, or a city on ``db_url`` (default: a fresh
    SQLite file in a temporary directory)."""
    if server:
        from .http_facade import HttpFacade
        return lambda cfg, seed: HttpFacade(server, key or "")
    from ..city import CryptoCity
    workdir = Path(tempfile.mkdtemp(prefix="cryptocity-scenario-"))
    return lambda cfg, seed: CryptoCity.from_config(cfg, db=db_url or f"sqlite:///{workdir / 'city.db'}", seed=seed)


def check_server(server: str, key: str | None, scenario: Scenario) -> str | None:
    """Why ``scenario`` cannot run on ``server`` (its configuration is not the server's), or None."""
    from ..config import config_fingerprint
    from .http_facade import LiveRunError, city_info
    try:
        city = city_info(server, key or "")
    except LiveRunError as error:
        return f"the server at {server} does not answer as a city: {error}"
    wanted = config_fingerprint(scenario.config)
    if city["config_fingerprint"] != wanted:
        return (f"it needs the configuration {scenario.config.sandbox.name!r} (fingerprint {wanted[:12]}…) with "
                f"what the file changes; the server runs {city['name']!r} ({city['config_fingerprint'][:12]}…). "
                f"Serve the same rules: `cryptocity run --print-config {scenario.source} > city.yaml`, then "
                f"`cryptocity serve --config city.yaml`")
    if city["seed"] != scenario.seed:
        click.echo(f"note: {scenario.name}: the server's seed is {city['seed']}, the scenario's {scenario.seed}: "
                   "prices may differ from an in-process run")
    return None


def print_configuration(scenario: Scenario, path: str) -> None:
    """The configuration ``scenario`` asks for, as YAML ``cryptocity serve --config`` reads."""
    from ..config import preset_path
    if scenario.config_data is not None:
        data = scenario.config_data
    else:
        name = scenario.config_name
        file = Path(path).parent / name if name.endswith((".yaml", ".yml")) else preset_path(name)
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    click.echo(f"# the configuration of {scenario.source}: cryptocity serve --config THIS_FILE --seed {scenario.seed}")
    click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
