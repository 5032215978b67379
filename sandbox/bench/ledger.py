"""``cryptocity bench ledger``: guarded ledger transfers against the raw INSERT+COMMIT rate."""
from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table

from ledger import Ledger, ManualClock, move

from ..cli_support import db_option
from .common import bench_database, raw_insert_rate


def transfer_rate(ledger: Ledger, count: int) -> float:
    """2-posting transfers per second through the public API, each with an idempotency key and overdraft guard."""
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external")
        alice = uow.open_account("bench:alice", "KZT", "customer")
        bob = uow.open_account("bench:bob", "KZT", "customer")
        uow.transfer(move(world.id, alice.id, 10**12), key="bench-funding")
        uow.commit()
    started = time.perf_counter()
    for i in range(count):
        src, dst = (alice.id, bob.id) if i % 2 == 0 else (bob.id, alice.id)
        with ledger.unit_of_work() as uow:
            uow.transfer(move(src, dst, 1_00), key=f"bench-{i}")
            uow.commit()
    return count / (time.perf_counter() - started)


@click.command("ledger")
@db_option("a fresh SQLite file", envvar=False)
@click.option("--count", default=3000, show_default=True, help="Operations per measurement.")
def command(db_url: str | None, count: int) -> None:
    """Raw INSERT+COMMIT/s vs guarded 2-posting transfers/s on one database; last line `ratio b/a`."""
    console = Console()
    db = bench_database(db_url)
    db.migrate(["ledger"])
    ledger = Ledger(db, ManualClock())
    raw = raw_insert_rate(db, count)
    guarded = transfer_rate(ledger, count)
    ledger.verify()
    table = Table(title=f"ledger benchmark on {db.dialect} ({count} operations each)")
    table.add_column("measure")
    table.add_column("per second", justify="right")
    table.add_row("(a) raw single-row INSERT+COMMIT (SQLAlchemy Core)", f"{raw:,.0f}")
    table.add_row("(b) guarded 2-posting transfers with idempotency keys (ledger API)", f"{guarded:,.0f}")
    console.print(table)
    console.print("ledger.verify(): invariants hold")
    click.echo(f"ratio {guarded / raw:.2f}")
