"""The ``cryptocity`` command line."""
from __future__ import annotations

import importlib
import sys

import click

from ledger.errors import LedgerError

BENCHMARKS = ("ledger", "exchange", "card", "http")


class _FriendlyGroup(click.Group):
    """Turns domain refusals into one clear line and exit code 1 instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LedgerError as error:
            click.secho(f"refused ({error.code}): {error}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=_FriendlyGroup)
@click.version_option(package_name="cryptocity")
def main() -> None:
    """Crypto City payments sandbox: an AIFC exchange, custodial wallets, the KZTE
    stablecoin and a crypto card with just-in-time funding, in one regulatory sandbox."""


@main.group()
def bench() -> None:
    """Benchmarks that print figures and ratios (never pass/fail)."""


def _register_benchmarks() -> None:
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(f"sandbox.bench.{name}")
        except ModuleNotFoundError:
            continue  # that part of the product has not landed yet
        bench.add_command(module.command, name)


_register_benchmarks()


@main.command()
@click.option("--db", "db_url", default=None, envvar="CRYPTOCITY_DATABASE_URL",
              help="Database URL (default: a fresh SQLite file under .cryptocity/).")
@click.option("--seed", default=7, show_default=True, help="Seed for people and prices: same seed, same story.")
def demo(db_url: str | None, seed: int) -> None:
    """Tell the Crypto City story on the embedded default and print every balance."""
    from .demo import run_demo
    run_demo(db_url, seed)
