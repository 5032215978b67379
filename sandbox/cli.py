"""The ``cryptocity`` command line."""
from __future__ import annotations

import importlib
import sys

import click

from ledger.errors import DomainError

from .cli_support import DEFAULT_DB_PATH, CliProblem, check_writable, db_option, environment_problem, open_existing

BENCHMARKS = ("ledger", "exchange", "card", "http")


class _FriendlyGroup(click.Group):
    """Turns domain refusals into one clear line and exit code 1, and problems with the input or the
    machine (a database that cannot be reached, a file that cannot be written) into one line and exit
    code 2, instead of a traceback."""

    def invoke(self, ctx: click.Context):
        from .config import ConfigError
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            click.secho(str(error), fg="red", err=True)   # it names the file and each problem
            sys.exit(2)
        except DomainError as error:
            click.secho(f"refused ({error.code}): {error}", fg="red", err=True)
            sys.exit(1)
        except click.ClickException:
            raise
        except Exception as error:
            problem = environment_problem(error, ctx)
            if problem is None:
                raise
            raise CliProblem(problem) from None


# Commands whose modules load only when the command runs (or --help lists them): `cryptocity keys create`
# then starts without Flask, the scenario runner or the benchmarks, about half the start-up time.
LAZY_COMMANDS = {"keys": ("sandbox.apikeys", "keys_command"),
                 "serve": ("sandbox.web.serve", "serve_command"),
                 "webhooks": ("sandbox.webhooks.cli", "webhooks_command"),
                 "listen": ("sandbox.webhooks.listen", "listen_command"),
                 "fuzz": ("sandbox.fuzz.cli", "fuzz_command"),
                 "compare": ("sandbox.scenarios.compare_cli", "compare_command"),
                 "openapi": ("sandbox.web.openapi_cli", "openapi_command"),
                 "workshop": ("sandbox.workshop.cli", "workshop_command")}


class _LazyGroup(click.Group):
    """A group some of whose commands are named by (module, attribute) and imported on first use."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str]] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attribute = self.lazy[cmd_name]
            self.add_command(getattr(importlib.import_module(module_name), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


class _CityGroup(_FriendlyGroup, _LazyGroup):
    """The top-level group: friendly refusals, lazily imported commands."""


@click.group(cls=_CityGroup, lazy=LAZY_COMMANDS)
@click.version_option(package_name="cryptocity")
def main() -> None:
    """Crypto City payments sandbox: an AIFC exchange, custodial wallets, the KZTE
    stablecoin and a crypto card with just-in-time funding, in one regulatory sandbox."""


@main.group(cls=_LazyGroup, lazy={name: (f"sandbox.bench.{name}", "command") for name in BENCHMARKS})
def bench() -> None:
    """Benchmarks that print figures and ratios (never pass/fail)."""


@main.command()
@db_option("a fresh SQLite file under .cryptocity/")
@click.option("--seed", default=7, show_default=True, help="Seed for people and prices: same seed, same story.")
def demo(db_url: str | None, seed: int) -> None:
    """Tell the Crypto City story on the embedded default and print every balance."""
    from .demo import run_demo
    run_demo(db_url, seed)


DEFAULT_DB = str(DEFAULT_DB_PATH)
city_db_option = db_option(f"the SQLite file {DEFAULT_DB}")


@main.command()
def presets() -> None:
    """List the shipped city presets (pass a name or a YAML path to --config)."""
    from rich.console import Console
    from rich.table import Table

    from .config import list_presets, load_config

    table = Table(title="shipped presets")
    table.add_column("preset")
    table.add_column("crypto may pay")
    table.add_column("description")
    for name in list_presets():
        cfg = load_config(name)
        table.add_row(name, "yes" if cfg.crypto_payments_allowed else "no",
                      getattr(cfg.sandbox, "description", "") or cfg.sandbox.name)
    Console().print(table)


@main.command()
@click.option("--customers", default=20, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--merchants", default=5, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--seed", default=7, show_default=True)
@click.option("--config", "config_name", default="crypto-city", show_default=True, help="Preset name or YAML path.")
@city_db_option
def populate(customers: int, merchants: int, seed: int, config_name: str, db_url: str | None) -> None:
    """Add seeded Kazakh customers and zone merchants to the city's database: merchants registered,
    customers onboarded with opening balances (tenge and crypto) and a little history (deposits, trades,
    card purchases). Run it again to add more people; the same seed on the same city adds the same."""
    from .cli_support import serve_hint
    from .config import load_config
    from .populate import populate as populate_city

    load_config(config_name)  # a bad configuration is refused before anything is generated
    db_url = db_url or DEFAULT_DB
    city = _open_city(config_name, db_url, seed)  # and a database that cannot be opened
    try:
        with _progress() as report:
            done = populate_city(city, customers, merchants, seed, progress=report, show=SHOWN)
        city.verify()
        _print_population(done, city.cfg.sandbox.name)
        click.echo(f"ledger verified. Serve this city: cryptocity serve --db {serve_hint(db_url)}"
                   + ("" if config_name == "crypto-city" else f" --config {config_name}"))
    finally:
        city.close()


SHOWN = 20   # rows of each kind populate prints


def _progress():
    """A progress bar on stderr when it is a terminal (stdout stays the same bytes for the same seed)."""
    import contextlib

    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    if not console.is_terminal:
        return contextlib.nullcontext(None)

    @contextlib.contextmanager
    def bar():
        with Progress(console=console, transient=True) as progress:
            tasks: dict[str, int] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)
            yield report
    return bar()


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    """Plain aligned columns (never truncated: every value printed is the stored one, whole)."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in [header] + rows]


def _print_population(done, city_name: str) -> None:
    from ledger import format_amount

    click.echo(f"{city_name}: {_count(done.customers_added, 'customer')} and "
               f"{_count(done.merchants_added, 'merchant')} added (seed {done.seed}); the city now has "
               f"{_count(done.city_customers, 'customer')} and {_count(done.city_merchants, 'merchant')}.")
    click.echo("\nmerchants registered")
    for line in _columns(["id", "name", "MCC", "kind", "in the zone"],
                         [[m.id, m.name, m.mcc, m.kind, "yes" if m.in_zone else "no"] for m in done.merchants]):
        click.echo(line)
    _more(done.merchants_added, len(done.merchants), "merchants")
    click.echo("\ncustomers onboarded, with their balances now")
    rows = []
    for c in done.customers:
        # "KZT@exchange" is tenge on the exchange account (a sale's proceeds): shown there as KZT
        crypto = ", ".join(format_amount(amount, asset.split("@")[0]) for asset, amount in sorted(
                               c.balances.items(), key=lambda item: (item[0].startswith("KZT"), item[0]))
                           if asset != "KZT" and amount)
        rows.append([c.actor, c.full_name or "", c.iban, c.kyc_tier or "none",
                     format_amount(c.balances.get("KZT", 0), "KZT"), crypto or "-"])
    for line in _columns(["id", "name", "IBAN", "KYC", "bank account", "at the exchange"], rows):
        click.echo(line)
    _more(done.customers_added, len(done.customers), "customers")
    click.echo(f"\nhistory: {done.deposits} deposits, {done.trades} trades, {done.purchases_approved} card "
               f"purchases approved and captured ({done.refunds} refunded), {done.purchases_declined} declined.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _more(added: int, shown: int, what: str) -> None:
    if added > shown:
        click.echo(f"... and {added - shown} more {what} (the dashboard lists them).")


def _open_city(config_name: str, db_url: str, seed: int):
    from .city import CryptoCity
    return CryptoCity.from_config(config_name, db=db_url, seed=seed)


@main.command("run")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--junit", "junit_path", default=None, type=click.Path(dir_okay=False), help="Write JUnit XML here.")
@click.option("--html", "html_path", default=None, type=click.Path(dir_okay=False),
              help="Write an HTML report here: each step, the money it moved, each expectation.")
@db_option("a fresh SQLite file per scenario", envvar=False)
@click.option("--server", default=None, metavar="URL",
              help="Drive a running city over its HTTP API instead (e.g. http://127.0.0.1:8000): actors and "
                   "references are namespaced per run, so reruns never clash.")
@click.option("--key", default=None, envvar="CRYPTOCITY_API_KEY", metavar="KEY",
              help="An operator API key of that server (or CRYPTOCITY_API_KEY).")
@click.option("--print-config", is_flag=True,
              help="Print the configuration the scenario asks for, as YAML for `cryptocity serve --config`, "
                   "and run nothing.")
@click.option("--verbose", "-v", is_flag=True, help="Print passing expectations too.")
def run_scenarios(files: tuple[str, ...], junit_path: str | None, html_path: str | None, db_url: str | None,
                  server: str | None,
                  key: str | None, print_config: bool, verbose: bool) -> None:
    """Run scenario files: pass/fail per expectation; exit 1 on a failure, 2 on an invalid scenario (or,
    with --server, one whose configuration is not the server's)."""
    from .scenarios import ScenarioError, load_scenario, run_scenario, write_junit
    from .scenarios.cli_run import check_server, factory_for, print_configuration

    if server and db_url:
        raise click.UsageError("--server drives a running city; --db names a database for an in-process one")
    if server and not key:
        raise click.UsageError("--server needs --key: an operator key of that server (`cryptocity keys create "
                               "operator` on its database)")
    if db_url and len(files) > 1:
        # A city reloads its customers from its database, so scenarios sharing one would collide.
        raise click.UsageError("--db takes one scenario file at a time; without --db each scenario gets a fresh SQLite file")
    for out_path in (junit_path, html_path):
        if out_path:
            check_writable(out_path)  # before the scenarios run, not after
    invalid, results = False, []
    for path in files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as error:
            click.secho(f"INVALID {error}", fg="red")
            invalid = True
            continue
        except OSError as error:
            click.secho(f"INVALID {path}: {error.strerror}", fg="red")
            invalid = True
            continue
        if print_config:
            print_configuration(scenario, path)
            continue
        if server:
            refusal = check_server(server, key, scenario)
            if refusal:
                click.secho(f"REFUSED {scenario.name} ({path}): {refusal}", fg="red")
                invalid = True
                continue
        result = run_scenario(scenario, factory_for(server=server, key=key, db_url=db_url),
                              track_money=html_path is not None)
        results.append(result)
        status = click.style("PASS", fg="green") if result.passed else click.style("FAIL", fg="red")
        click.echo(f"{status} {scenario.name} ({path}, {len(result.results)} expectations)")
        for check in result.results:
            if verbose or not check.passed:
                click.echo(f"    {check.describe()}")
    if print_config:
        sys.exit(2 if invalid else 0)
    if junit_path:
        write_junit(results, junit_path)
        click.echo(f"JUnit XML written to {junit_path}")
    if html_path:
        from .scenarios.html_report import write_html
        write_html(results, html_path)
        click.echo(f"HTML report written to {html_path}")
    failed = sum(not r.passed for r in results)
    click.echo(f"{len(results) - failed} passed, {failed} failed" + (", some files invalid" if invalid else ""))
    sys.exit(2 if invalid else 1 if failed else 0)


@main.command()
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "csv-zip", "html", "pdf"]), default="json",
              show_default=True, help="csv: key,value rows; csv-zip: one CSV per table, zipped; html and pdf: "
                                      "for people, with charts.")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False), help="Write here (default: stdout).")
@click.option("--config", "config_name", default="crypto-city", show_default=True, help="Preset name or YAML path.")
@click.option("--seed", default=7, show_default=True)
@city_db_option
def report(fmt: str, out_path: str | None, config_name: str, seed: int, db_url: str | None) -> None:
    """The regulator report (volumes, declines by reason, AML flags, KZTE reserves, licences, invariants)
    of an existing city; it only reads (a missing or empty database is an error, never a new city)."""
    from pathlib import Path

    from .city import CryptoCity
    from .reports import render

    if out_path:
        check_writable(out_path)
    db_url = db_url or DEFAULT_DB
    open_existing(db_url, need_city=True).dispose()
    city = CryptoCity.from_config(config_name, db=db_url, seed=seed)
    summary = city.regulator_summary()
    charts = []
    if fmt in ("html", "pdf"):  # the same pictures as the dashboard (sandbox/charts/)
        from .charts.gather import report_charts
        charts = report_charts(city, summary)
    text = render(summary, fmt, city.ledger.assets, charts)
    if out_path:
        if isinstance(text, bytes):
            Path(out_path).write_bytes(text)
        else:
            Path(out_path).write_text(text, encoding="utf-8")
        click.echo(f"{fmt.upper()} report written to {out_path}")
    elif isinstance(text, bytes):
        sys.stdout.buffer.write(text)
    else:
        click.echo(text, nl=False)


@main.group()
def audit() -> None:
    """The append-only, hash-chained audit log."""


@audit.command("verify")
@city_db_option
def audit_verify(db_url: str | None) -> None:
    """Recompute the hash chain; exit 1 and name the entries if any was edited, deleted or reordered.
    It only reads: a missing or empty database is an error (exit 2)."""
    from . import audit as audit_log

    db = open_existing(db_url or DEFAULT_DB)
    with db.engine.connect() as conn:
        report = audit_log.verify(conn)
    db.dispose()
    click.secho(str(report), fg="green" if report.ok else "red")
    sys.exit(0 if report.ok else 1)


@main.group()
def schema() -> None:
    """JSON Schemas of the file formats, for editors and validators."""


@schema.command("scenario")
def schema_scenario() -> None:
    """The scenario format as a JSON Schema (draft 2020-12), generated from the models the loader uses.
    Save it and point your editor at it (the YAML extension of VS Code: a
    `# yaml-language-server: $schema=scenario.schema.json` first line)."""
    import json

    from .scenarios.schema import scenario_json_schema
    click.echo(json.dumps(scenario_json_schema(), indent=2, sort_keys=True, ensure_ascii=False))
