"""``cryptocity bench card``: end-to-end card authorizations with a just-in-time crypto sale on the real
exchange, against the raw single-row INSERT+COMMIT rate measured in the same run on the same database."""
from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table

from card import CardService, FundingSettings, SpendControls
from exchange import Exchange, Instrument
from ledger import Ledger, ManualClock, move

from ..funding import ExchangeFunder
from .common import bench_database, percentile, raw_insert_rate

USDT_KZT = Instrument("USDT/KZT", "USDT", "KZT", 1, 10_000, 100_00, 10, 10, base_decimals=6)
AMOUNT_MINOR = 1_000_00  # 1 000 KZT a purchase: every one needs a USDT sale (the bank account starts empty)


def _setup(ledger: Ledger, count: int) -> tuple[CardService, int]:
    ex = Exchange(ledger, [USDT_KZT])
    with ledger.unit_of_work() as uow:
        for asset, owner, amount in (("KZT", "mm", 10**13), ("USDT", "mm", 10**12), ("USDT", "cust:bench", 10**12)):
            world = uow.find_account(f"external:world:{asset}") or uow.open_account("world", asset, "external")
            acct = uow.open_account(owner, asset, "customer")
            uow.transfer(move(world.id, acct.id, amount), memo="bench funding")
        uow.commit()
    depth_usdt = (count * AMOUNT_MINOR // 500_00 + 1_000) * 2
    for side, price in (("buy", 500_00), ("sell", 500_10)):
        with ledger.unit_of_work() as uow:
            ex.place_order(uow, "mm", "USDT/KZT", side, "limit", qty_minor=depth_usdt * 10**6, price=price)
            uow.commit()
    cards = CardService(ledger, ExchangeFunder(ex), deadline_ms=10_000)
    cards.register_merchant("bench-shop", "Bench Shop", "5411")
    card, _ = cards.issue_card("cust:bench", funding=FundingSettings(order=("USDT",)),
                               controls=SpendControls(daily_limit_minor=None))
    return cards, card.id


def authorization_run(cards: CardService, card_id: int, count: int) -> tuple[float, list[float]]:
    latencies_ms: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        t0 = time.perf_counter()
        result = cards.authorize(card_id=card_id, amount_minor=AMOUNT_MINOR, merchant_id="bench-shop",
                                 idempotency_key=f"bench-{i}")
        latencies_ms.append((time.perf_counter() - t0) * 1000)
        if not result.approved or not result.sold:
            raise click.ClickException(f"authorization {i} was not an approved JIT sale: {result.reason}")
    return count / (time.perf_counter() - started), latencies_ms


@click.command("card")
@click.option("--db", "db_url", default=None, help="Database URL (default: a fresh SQLite file).")
@click.option("--count", default=500, show_default=True, help="Authorizations (and raw inserts) to measure.")
def command(db_url: str | None, count: int) -> None:
    """Card authorizations/s with a JIT crypto sale vs raw INSERT+COMMIT/s; last line `ratio b/a`."""
    count = max(10, min(count, 100_000))
    console = Console()
    db = bench_database(db_url)
    db.migrate()
    ledger = Ledger(db, ManualClock())
    cards, card_id = _setup(ledger, count)
    cards.authorize(card_id=card_id, amount_minor=AMOUNT_MINOR, merchant_id="bench-shop", idempotency_key="warm")
    raw = raw_insert_rate(db, count)
    rate, latencies = authorization_run(cards, card_id, count)
    ledger.verify()
    table = Table(title=f"card benchmark on {db.dialect} ({count} operations each)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("(a) raw single-row INSERT+COMMIT per second", f"{raw:,.0f}")
    table.add_row("(b) authorizations per second (JIT USDT sale + conversion fee + hold)", f"{rate:,.0f}")
    table.add_row("authorization latency p50", f"{percentile(latencies, 50):.2f} ms")
    table.add_row("authorization latency p99", f"{percentile(latencies, 99):.2f} ms")
    console.print(table)
    console.print("ledger.verify(): invariants hold")
    db.dispose()
    click.echo(f"ratio {rate / raw:.2f}")
