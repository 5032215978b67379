"""``cryptocity serve``: the API and dashboard on Flask's server (one worker) or gunicorn (several).

SQLite has a single writer and a file lock; several gunicorn workers on it would only queue
behind each other, so ``--workers`` above 1 requires PostgreSQL. Every worker builds its own
app and its own CryptoCity after the fork (engines are never shared across ``fork``); the database
is the only shared state: the city is set up once, whichever worker gets there first, and the
clock, licences and customers every worker sees are the database's.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
from typing import Any, Callable

import click

# the same file as populate, keys and audit use, so `populate` then `serve` shows the populated city
from sandbox.cli_support import (DEFAULT_DB_URL, check_reachable, db_option, redact,  # noqa: F401 - re-exported
                                 resolve_db_url)

DEFAULT_CONFIG = "crypto-city"
MAX_WORKERS = 64


def is_sqlite(db_url: str) -> bool:
    return "://" not in db_url or db_url.startswith("sqlite")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_city_config(preset_or_path: str | None):
    """Validate ``--config`` with the sandbox config loader (when it is installed); None without one."""
    if preset_or_path is None:
        return None
    try:
        from sandbox.config import ConfigError, load_config
    except ImportError:  # the config package has not landed in this checkout
        raise click.UsageError("--config needs the sandbox.config package, which is not installed") from None
    try:
        return load_config(preset_or_path)
    except ConfigError as error:
        raise click.UsageError(f"--config {preset_or_path}: {error}") from None


def build_services(db_url: str, city_config: Any = None, seed: int | None = None, *,
                   evm_url: str | None = None):
    """What the app runs on: the whole CryptoCity from ``city_config`` (a CityConfig; default the
    ``crypto-city`` preset) on ``db_url``. Opening a database that already holds a city joins it
    (nothing is set up or funded again); ``seed`` only matters for a new city. The Bitcoin chain is in the
    database; with ``evm_url`` (the shared EVM node) every worker's ETH, USDT and KZTE are on that one node;
    without one, ETH and USDT custody answers 503 ``chain_not_shared``."""
    from sandbox.city import CryptoCity
    cfg = city_config if city_config is not None else load_city_config(DEFAULT_CONFIG)
    return CryptoCity.from_config(cfg, db=db_url, seed=seed, evm_url=evm_url)


def app_factory(db_url: str, app_config: dict, city_config: Any = None, seed: int | None = None, *,
                webhooks: bool = True, evm_url: str | None = None,
                btc_rpc: dict | None = None) -> Callable[[], Any]:
    def make():
        from .app import create_app
        city = build_services(db_url, city_config, seed, evm_url=evm_url)
        if btc_rpc:   # bitcoind's JSON-RPC over the city's chain (every worker, one port)
            from sandbox.btc_rpc_server import start_for_city
            start_for_city(city, **btc_rpc)
        if webhooks:  # this process's webhook dispatcher (each worker starts its own, after the fork)
            from sandbox.webhooks import background
            background.start(city.ledger)
        return create_app(city, app_config)
    return make


try:
    from gunicorn.app.base import BaseApplication
except ImportError:  # pragma: no cover - gunicorn is a dependency; Windows has no fork
    BaseApplication = object  # type: ignore[assignment,misc]


class GunicornServer(BaseApplication):  # type: ignore[misc,valid-type]
    """gunicorn configured in code: each worker calls ``factory()`` after the fork."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]) -> None:
        self.factory = factory
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        return self.factory()


def gunicorn_options(host: str, port: int, workers: int, **extra: Any) -> dict[str, Any]:
    """gunicorn's threaded worker, answering what it refuses itself (414, 431, 400) as problem+json."""
    from .server_errors import gunicorn_options as problem_worker
    return {"bind": f"{host}:{port}", "workers": workers, "threads": 4, **problem_worker(),
            "timeout": 60, "graceful_timeout": 10, "accesslog": None, "errorlog": "-", "loglevel": "warning",
            "preload_app": False, **extra}


def check_workers(db_url: str, workers: int) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise click.UsageError(f"--workers must be between 1 and {MAX_WORKERS}")
    if workers > 1 and is_sqlite(db_url):
        raise click.UsageError(
            f"--workers {workers} needs PostgreSQL: SQLite has a single writer, so extra workers would only queue. "
            "Use --workers 1, or --db postgresql+psycopg://USER@HOST/DB (or CRYPTOCITY_DATABASE_URL).")


@click.command("serve")
@click.option("--config", "config_name", default=None, metavar="PRESET_OR_PATH",
              help=f"Sandbox preset name or a YAML file (default: {DEFAULT_CONFIG}).")
@db_option(DEFAULT_DB_URL)
@click.option("--seed", default=None, type=int, help="Seed for a new city (default: the configuration's).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=int,
              help="1: Flask's threaded server. More: gunicorn (PostgreSQL only).")
@click.option("--open/--closed", "open_dashboard", default=None,
              help="--open: the dashboard acts as operator without a key (default on a loopback host); "
                   "--closed: it asks for an API key.")
@click.option("--webhooks/--no-webhooks", "webhooks", default=True, show_default=True,
              help="Deliver webhooks from this server's processes (--no-webhooks: leave it to "
                   "`cryptocity webhooks dispatch` elsewhere).")
@click.option("--anvil", "start_anvil", is_flag=True, default=False,
              help="Start the shared EVM node (anvil, installed by `make chains`) for this server's processes, "
                   "supervise it (restarted if it dies) and stop it with the server.")
@click.option("--anvil-host", default="127.0.0.1", show_default=True,
              help="With --anvil: the interface the node listens on (0.0.0.0: participants' wallets on other "
                   "machines can reach it).")
@click.option("--anvil-port", default=8545, show_default=True, type=click.IntRange(0, 65535),
              help="With --anvil: the node's port (0: any free one). Wallets connect to http://HOST:PORT.")
@click.option("--state", "anvil_state", default=".cryptocity/evm-state.json", show_default=True,
              metavar="FILE", help="With --anvil: the node's state file, loaded at start, written every "
                                   "--state-interval seconds and at stop.")
@click.option("--state-interval", "state_interval_s", default=5, show_default=True, type=click.IntRange(1, 3600),
              help="With --anvil: seconds between state dumps; a crash (kill -9) loses at most this much "
                   "of the chain, which the ledger's verify (GET /api/v1/ledger/verify, the regulator report) then "
                   "reports as a difference with the ledger.")
@click.option("--evm-url", default=None, envvar="CRYPTOCITY_EVM_URL", metavar="URL",
              help="Use a shared EVM node already running at URL (anvil started once elsewhere) "
                   "[env: CRYPTOCITY_EVM_URL].")
@click.option("--count-round-trips", is_flag=True, default=False,
              help="Answer every request with an X-Round-Trips header: the statements, BEGINs and COMMITs "
                   "it sent to the database (what `cryptocity bench http` reports).")
@click.option("--btc-rpc-port", default=None, type=click.IntRange(1, 65535),
              help="Also answer bitcoind's JSON-RPC on this port (the city's regtest chain; see docs/wallet.md).")
@click.option("--btc-rpc-user", default="cryptocity", show_default=True, help="The RPC's basic-auth user.")
@click.option("--btc-rpc-password", envvar="CRYPTOCITY_BTC_RPC_PASSWORD", default=None,
              help="The RPC's basic-auth password (or CRYPTOCITY_BTC_RPC_PASSWORD); required with --btc-rpc-port.")
def serve_command(config_name: str | None, db_url: str | None, seed: int | None, host: str, port: int,
                  workers: int, open_dashboard: bool | None, webhooks: bool, start_anvil: bool, anvil_host: str, anvil_port: int,
                  anvil_state: str, state_interval_s: int, evm_url: str | None, count_round_trips: bool,
                  btc_rpc_port: int | None, btc_rpc_user: str, btc_rpc_password: str | None) -> None:
    """Serve the JSON API (/docs, /openapi.json) and the dashboard (/)."""
    db_url = resolve_db_url(db_url)
    if btc_rpc_port and not btc_rpc_password:
        raise click.UsageError("--btc-rpc-port needs a password: --btc-rpc-password or CRYPTOCITY_BTC_RPC_PASSWORD")
    btc_rpc = (dict(port=btc_rpc_port, user=btc_rpc_user, password=btc_rpc_password, host=host)
               if btc_rpc_port else None)
    check_workers(db_url, workers)
    if open_dashboard is None:
        open_dashboard = is_loopback(host)
    if open_dashboard and not is_loopback(host):
        click.secho(f"warning: --open on {host}: anyone who reaches this port is the operator", fg="yellow",
                    err=True)
    city_config = load_city_config(config_name or DEFAULT_CONFIG)
    check_reachable(db_url)  # one line here, not a traceback (or every gunicorn worker failing to boot)
    app_config = {"OPEN_DASHBOARD": open_dashboard, "ROUND_TRIPS_HEADER": count_round_trips,
                  "SECRET_KEY": os.environ.get("CRYPTOCITY_SECRET_KEY") or secrets.token_hex(32)}
    if workers > 1:
        app_config["EVENTS_MAX_STREAMS"] = 2   # event streams per worker: 2 of its 4 threads keep serving requests
    if start_anvil and evm_url:
        raise click.UsageError("--anvil starts a node; --evm-url uses one already running: give one of them")
    node = start_evm_node(anvil_host, anvil_port, anvil_state, state_interval_s) if start_anvil else None
    try:
        evm_url = node.url if node is not None else evm_url
        factory = app_factory(db_url, app_config, city_config, seed, webhooks=webhooks,
                              evm_url=evm_url, btc_rpc=btc_rpc)
        run_server(factory, host, port, workers, open_dashboard, db_url, evm_url, btc_rpc)
    finally:
        if node is not None:
            node.stop()   # a final state dump, then exit


def start_evm_node(host: str, port: int, state_path: str, state_interval_s: int):
    """anvil for this server, supervised; refused in words when it is not installed."""
    from sandbox.anvil import AnvilMissing, AnvilNode
    try:
        node = AnvilNode(state_path=state_path, host=host, port=port or None,
                         state_interval_s=state_interval_s).start()
    except AnvilMissing as error:
        raise click.UsageError(str(error)) from None
    except RuntimeError as error:
        raise click.ClickException(f"the EVM node did not start: {error}") from None
    click.echo(f"EVM node (anvil) on {node.url}  chain id {node.chain_id}  state: {state_path} "
               f"(every {state_interval_s} s)")
    return node.supervise()


def run_server(factory, host: str, port: int, workers: int, open_dashboard: bool, db_url: str,
               evm_url: str | None, btc_rpc: dict | None = None) -> None:
    shown = "localhost" if is_loopback(host) else host
    mode = "open: you are the operator" if open_dashboard else "sign in with an API key"
    click.echo(f"Crypto City on http://{shown}:{port}/  (dashboard, {mode})  API docs: /docs  "
               f"database: {redact(db_url)}  workers: {workers}"
               + (f"  EVM: {evm_url}" if evm_url else ""))
    if btc_rpc:
        click.echo(f"bitcoind JSON-RPC on http://{shown}:{btc_rpc['port']}/  (regtest; user {btc_rpc['user']})")
    if workers == 1:
        from .server_errors import ProblemRequestHandler
        app = factory()
        app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False,
                request_handler=ProblemRequestHandler)
    else:
        GunicornServer(factory, gunicorn_options(host, port, workers)).run()
