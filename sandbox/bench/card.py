"""``cryptocity bench card``: end-to-end card authorizations with a just-in-time crypto sale on the real
exchange, against the raw single-row INSERT+COMMIT rate measured in the same run on the same database."""
from __future__ import annotations

import time

import click
from rich.console import Console
from rich.table import Table

from card import CardService, FundingSettings, SpendControls
from card.authorization import authorize
from exchange import Exchange, Instrument
from ledger import Ledger, ManualClock, move
from ledger.db import count_round_trips

from ..cli_support import db_option
from ..funding import ExchangeFunder
from .common import RawInserts, bench_database, percentile

USDT_KZT = Instrument("USDT/KZT", "USDT", "KZT", 1, 10_000, 100_00, 10, 10, base_decimals=6)
ROUNDS = 5
RAW_PER_AUTH = 8  # a raw insert takes about an eighth of an authorization's time: rounds of similar length
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
            ex.place_order(uow, "mm", "USDT/KZT", side, "limit", qty_minor=depth_usdt * 10**6, price_minor=price)
            uow.commit()
    cards = CardService(ledger, ExchangeFunder(ex), deadline_ms=10_000)
    cards.register_merchant("bench-shop", "Bench Shop", "5411")
    card, _ = cards.issue_card("cust:bench", funding=FundingSettings(order=("USDT",)),
                               controls=SpendControls(daily_limit_minor=None))
    return cards, card.id


def authorization_run(cards: CardService, card_id: int, count: int, first: int = 0) -> tuple[float, list[float]]:
    """``count`` approved JIT-sale authorizations (keys ``bench-{first}``…): (per second, latencies in ms)."""
    latencies_ms: list[float] = []
    started = time.perf_counter()
    for i in range(first, first + count):
        t0 = time.perf_counter()
        result = cards.authorize(card_id=card_id, amount_minor=AMOUNT_MINOR, merchant_id="bench-shop",
                                 idempotency_key=f"bench-{i}")
        latencies_ms.append((time.perf_counter() - t0) * 1000)
        if not result.approved or not result.sold:
            raise click.ClickException(f"authorization {i} was not an approved JIT sale: {result.reason}")
    return count / (time.perf_counter() - started), latencies_ms


def statements_per_authorization(cards: CardService, card_id: int, count: int = 5,
                                 first: int = 0) -> tuple[list[int], list[int]]:
    """The statements each of ``count`` approved JIT-sale authorizations (keys ``count-{first}``…) sends in its
    unit of work (``UnitOfWork.statements``: everything between BEGIN and COMMIT, SAVEPOINT included; an
    executemany counts once; BEGIN and COMMIT themselves are not counted), and the round trips to the
    database each makes (``ledger.db.count_round_trips``: BEGIN and COMMIT included, a pipelined batch once)."""
    counts, trips = [], []
    for i in range(first, first + count):
        with count_round_trips() as meter:
            with cards.ledger.unit_of_work() as uow:
                result = authorize(cards, uow, card_id=card_id, amount_minor=AMOUNT_MINOR,
                                   merchant_id="bench-shop", idempotency_key=f"count-{i}")
                counts.append(uow.statements)
                uow.commit()
        trips.append(meter[0])
        if not result.approved or not result.sold:
            raise click.ClickException(f"counted authorization {i} was not an approved JIT sale: {result.reason}")
    return counts, trips


@click.command("card")
@db_option("a fresh SQLite file", envvar=False)
@click.option("--count", default=2000, show_default=True,
              help="Authorizations to measure in all (spread over the rounds).")
@click.option("--rounds", default=ROUNDS, show_default=True, type=click.IntRange(1, 20),
              help="Interleaved rounds of raw inserts and authorizations; each side's best round is compared.")
@click.option("--gateway", "with_gateway", is_flag=True,
              help="Also measure the decision gateway's overhead with a loopback app that answers at once "
                   "(last line `gateway overhead p99 N ms`).")
def command(db_url: str | None, count: int, rounds: int, with_gateway: bool = False) -> None:
    """Card authorizations/s with a JIT crypto sale vs raw INSERT+COMMIT/s; last line `ratio b/a`.

    The two are measured in interleaved rounds (raw, authorizations, raw, …) of about the same length,
    and each side's best round is compared: on a shared machine a neighbour's burst slows whichever
    run it lands on by up to a third, and the best rounds are the two measured with the least of it.
    Each raw round inserts RAW_PER_AUTH times as many rows as the authorization round runs, so both
    last long enough to include the background WAL checkpoints (every 250 ms). p50/p99 are over all
    authorizations."""
    count = max(10, min(count, 100_000))
    console = Console()
    db = bench_database(db_url)
    db.migrate()
    ledger = Ledger(db, ManualClock())
    gateway_count = max(100, min(count, 1000)) if with_gateway else 0   # purchases each way, with and without
    cards, card_id = _setup(ledger, count + 2 * gateway_count)
    cards.authorize(card_id=card_id, amount_minor=AMOUNT_MINOR, merchant_id="bench-shop", idempotency_key="warm")
    counted, trips = statements_per_authorization(cards, card_id)
    per_round = max(1, count // rounds)
    raw = RawInserts(db)
    raw_rates, auth_rates, latencies = [], [], []
    try:
        for r in range(rounds):
            raw_rates.append(raw.round(per_round * RAW_PER_AUTH))
            rate, lat = authorization_run(cards, card_id, per_round, first=r * per_round)
            auth_rates.append(rate)
            latencies += lat
    finally:
        raw.close()
    best_raw, best_auth = max(raw_rates), max(auth_rates)
    table = Table(title=f"card benchmark on {db.dialect} ({per_round * rounds} authorizations, "
                        f"{per_round * RAW_PER_AUTH * rounds} raw inserts, {rounds} interleaved rounds)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("(a) raw single-row INSERT+COMMIT per second, best round", f"{best_raw:,.0f}")
    table.add_row("(b) authorizations per second (JIT USDT sale + conversion fee + hold), best round",
                  f"{best_auth:,.0f}")
    table.add_row("    every round (a)", " ".join(f"{x:,.0f}" for x in raw_rates))
    table.add_row("    every round (b)", " ".join(f"{x:,.0f}" for x in auth_rates))
    table.add_row("authorization latency p50", f"{percentile(latencies, 50):.2f} ms")
    table.add_row("authorization latency p99", f"{percentile(latencies, 99):.2f} ms")
    table.add_row("statements per authorization (between BEGIN and COMMIT)",
                  " ".join(str(n) for n in sorted(set(counted))))
    table.add_row("round trips per authorization (BEGIN and COMMIT included, a pipelined batch once)",
                  " ".join(str(n) for n in sorted(set(trips))))
    if with_gateway:
        from .gateway_overhead import report
        gateway_report = report(cards, card_id, "bench-shop", AMOUNT_MINOR, gateway_count)
    ledger.verify()
    console.print(table)
    console.print("ledger.verify(): invariants hold")
    db.dispose()
    click.echo(f"statements per authorization {max(counted)}")
    click.echo(f"round trips per authorization {max(trips)}")
    click.echo(f"ratio {best_auth / best_raw:.2f}")
    if with_gateway:
        for line in gateway_report:
            click.echo(line)
