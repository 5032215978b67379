"""``cryptocity bench http``: concurrent card authorizations over HTTP against a real server on loopback.

Set-up (in this process, before the server starts) builds a Crypto City on a fresh database, onboards a
pool of cardholders (KYC tier ``full``) holding only crypto — USDT, BTC or ETH in turn, no tenge — and
creates a merchant API key for each in-zone merchant. Then it starts ``cryptocity serve`` in a child
process on 127.0.0.1 (gunicorn with N workers on PostgreSQL, Flask's threaded server on SQLite; every
worker joins the city already in the database, nothing is set up twice) and C client threads POST
``/api/v1/merchants/{merchant}/authorizations`` (card by PAN, 600–1 000 KZT, a unique Idempotency-Key
each) for a bounded time or count. Every purchase finds the bank account short (what a sale leaves
over, under one lot or the minimum order, is less than the next purchase), so each approval is a
just-in-time crypto sale on the exchange plus a hold, in one transaction. Thread ``i`` draws its cards
from its own slice of the pool, so two threads hit the same card only when the pool is smaller than the
thread count (correctness does not depend on it).

The city is the ``crypto-city`` preset with three bench settings, written to a YAML file the server
loads too: the card's 20-purchases-a-day count and the AML velocity rule (5 purchases in 10 min) are
raised to 10 000 (the sandbox clock stands still during a run, so every purchase of a card falls in the
same 10 minutes), and the market makers quote ten times the preset's size so the books do not run dry.
The amount limits (250 000 KZT a purchase, 510 000 KZT a day per card and KYC tier) stay as they are;
the pool grows with ``--requests`` so they are not reached.

Prints the requests, approvals and declines by ISO response code (from the JSON answers), other HTTP
statuses, throughput, p50/p99 latency, the approvals the database recorded (and how many sold crypto)
and ``GET /api/v1/ledger/verify``; then ``round trips per request N`` — the median of the server's own
count (``serve --count-round-trips`` answers each request with ``X-Round-Trips``: every statement
it sent, each transaction's BEGIN and COMMIT or ROLLBACK, the API key check included; statements
sent together in one psycopg pipeline count once) over the approved authorizations — and, last,
``ratio 0.NN``: authorizations/s over the raw single-row INSERT+COMMIT rate measured on the same
database in the same run (``common.RawInserts``, before and after the load, the better of the two).
Exits non-zero on a failed verify, any 5xx or dropped connection, or approvals the database does not
match. ``--target transfers`` drives POST /api/v1/transfers instead.

The parts: ``http_setup`` (the city and the pools), ``http_server`` (the child server), ``http_load``
(the client threads); this module is the command and its report.
"""
from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ledger import Database
from sandbox.cli_support import db_option

from .common import percentile, raw_insert_rate
from .http_load import Driver, authorization_requests, transfer_requests, verify_over_http
from .http_server import HOST, _free_port, start_server, stop_server, wait_ready  # noqa: F401 - tests use them
from .http_setup import (AMOUNT_RANGE_MINOR, MAX_CUSTOMERS, SPEND_PER_CUSTOMER_MINOR, holds_a_city, prepare_city,
                         prepare_transfers, recorded_approvals, write_bench_config)

MAX_DURATION_S = 300
MAX_REQUESTS = 200_000
RAW_INSERTS = 500   # per round of the raw INSERT+COMMIT baseline (best of common.RAW_ROUNDS)


def is_sqlite(db_url: str) -> bool:
    return db_url.startswith("sqlite") or "://" not in db_url


def raw_rate(db_url: str) -> float:
    """Raw single-row INSERT+COMMIT per second on ``db_url`` (its own scratch table, dropped after)."""
    db = Database(db_url)
    try:
        return raw_insert_rate(db, RAW_INSERTS)
    finally:
        db.dispose()


def median(values: list[int]) -> int | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def _declines(answers: Counter) -> str:
    declined = {code: n for code, n in answers.items() if code != "00"}
    return ", ".join(f"{code}: {n:,}" for code, n in sorted(declined.items())) or "none"


@click.command("http")
@db_option("a new SQLite file; any database given must be FRESH. PostgreSQL runs gunicorn with --workers; "
           "the recommended run is --db postgresql+psycopg://… --workers 2", envvar=False)
@click.option("--workers", default=None, type=click.IntRange(1, 32),
              help="Server worker processes (default: 2 on PostgreSQL, 1 on SQLite).")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Client threads.")
@click.option("--duration", "duration_s", default=10.0, show_default=True,
              type=click.FloatRange(0.5, MAX_DURATION_S), help=f"Seconds to drive load (at most {MAX_DURATION_S}).")
@click.option("--requests", "max_requests", default=20_000, show_default=True,
              type=click.IntRange(1, MAX_REQUESTS), help="Stop after this many requests.")
@click.option("--customers", default=32, show_default=True, type=click.IntRange(1, MAX_CUSTOMERS),
              help="Cardholders in the pool (raised to keep each card under its daily amount limit).")
@click.option("--target", type=click.Choice(["authorizations", "transfers"]), default="authorizations",
              show_default=True, help="authorizations: POS card purchases with a JIT crypto sale; "
                                      "transfers: POST /api/v1/transfers between KZT accounts.")
@click.option("--seed", default=7, show_default=True)
@click.option("--webhook", is_flag=True, help="Register one webhook endpoint (a loopback receiver that verifies "
                                               "signatures) and report its deliveries.")
def command(db_url: str | None, workers: int | None, concurrency: int, duration_s: float, max_requests: int,
            customers: int, target: str, seed: int, webhook: bool = False) -> None:
    """Concurrent HTTP card authorizations on 127.0.0.1 against `cryptocity serve`: approvals and
    declines, throughput, p50/p99 latency, a ledger verify, the round trips per request and, last, the
    ratio to raw INSERT+COMMIT on the same database (stops by itself)."""
    console = Console()
    folder = Path(tempfile.mkdtemp(prefix="cryptocity-bench-http-"))
    if db_url is None:
        db_url = f"sqlite:///{folder / 'bench.db'}"
    sqlite = is_sqlite(db_url)
    workers = workers or (1 if sqlite else 2)
    if sqlite and workers > 1:
        raise click.UsageError("SQLite serves with one worker; pass --db postgresql+psycopg://… for --workers > 1")
    config_path = None
    if target == "authorizations":
        if holds_a_city(db_url):
            raise click.ClickException("the database already holds a city; the bench needs a fresh database "
                                       "(or PostgreSQL schema) so that its figures start from the same state")
        per_customer = SPEND_PER_CUSTOMER_MINOR // AMOUNT_RANGE_MINOR[1]
        customers = min(MAX_CUSTOMERS, max(customers, -(-max_requests // per_customer)))
        config_path = write_bench_config(folder)
        started = time.perf_counter()
        pool = prepare_city(db_url, config_path, seed, customers)
        setup_s = time.perf_counter() - started
        make_request, token = authorization_requests(pool, concurrency), pool.operator_token
    else:
        accounts, token = prepare_transfers(db_url)
        make_request, setup_s = transfer_requests(accounts, token), 0.0
    raw_before = raw_rate(db_url)   # same database, same run: the ratio's denominator (and again after)
    port = _free_port()
    from .webhook import WebhookSink
    sink = WebhookSink(db_url) if webhook else None
    server = start_server(db_url, port, workers, config_path, seed if config_path else None,
                          folder / "server.log")
    try:
        wait_ready(port, server)
        driver = Driver(port, make_request, seed)
        elapsed = driver.run(concurrency, duration_s, max_requests)
        report = verify_over_http(port, token)
        webhook_rows = sink.drain() if sink is not None else []
    finally:
        stop_server(server)
    # The best of before and after the load: a shared server's commit rate swings with its neighbours,
    # and the higher denominator can only make the ratio smaller.
    raw_per_s = max(raw_before, raw_rate(db_url))
    lat, statuses = driver.latencies_ms, driver.statuses
    server_kind = "Flask threaded server" if workers == 1 else f"gunicorn, {workers} workers (gthread x4)"
    what = "card authorizations" if target == "authorizations" else "transfers"
    table = Table(title=f"HTTP {what} on {'SQLite' if sqlite else 'PostgreSQL'} — {server_kind}, "
                        f"{concurrency} client threads, {os.cpu_count()} CPUs")
    table.add_column("measure")
    table.add_column("value", justify="right")
    server_errors = sum(c for s, c in statuses.items() if s >= 500 or s == 0)
    failed = not report.get("ok") or server_errors > 0
    if target == "authorizations":
        approved = driver.answers.get("00", 0)
        in_db, sold = recorded_approvals(db_url)
        table.add_row("set-up", f"{len(pool.pans)} cardholders (USDT/BTC/ETH, no tenge), "
                                f"{len(pool.in_zone)} merchants, {setup_s:.1f} s")
        table.add_row("authorizations sent", f"{len(lat):,}")
        table.add_row("approved (00)", f"{approved:,}")
        table.add_row("declined, by response code", _declines(driver.answers))
        table.add_row("approvals in the database (with a JIT crypto sale)", f"{in_db:,} ({sold:,})")
        # every answered approval is in the database exactly once; a dropped connection may hide one
        failed |= in_db < approved or (in_db != approved and statuses.get(0, 0) == 0)
    else:
        table.add_row("requests (201 created)", f"{len(lat):,} ({statuses.get(201, 0):,})")
    table.add_row("other HTTP statuses", ", ".join(f"{s or 'connection error'}: {c:,}"
                                                  for s, c in sorted(statuses.items()) if s != 201) or "none")
    table.add_row("5xx and dropped connections", f"{server_errors:,}")
    table.add_row("elapsed", f"{elapsed:.1f} s")
    unit = "authorizations/s" if target == "authorizations" else "req/s"
    table.add_row("throughput", f"{len(lat) / elapsed:,.1f} {unit}" if elapsed else "-")
    table.add_row("latency p50", f"{percentile(lat, 50):.1f} ms")
    table.add_row("latency p99", f"{percentile(lat, 99):.1f} ms")
    table.add_row("latency max", f"{max(lat, default=0):.1f} ms")
    for name, value in webhook_rows:
        table.add_row(name, value)
    console.print(table)
    if report.get("ok"):
        console.print(f"ledger verify over HTTP: invariants verified — {report['summary']}")
    else:
        console.print(f"ledger verify over HTTP: FAILED — {report.get('problem') or report}")
    trips = driver.round_trips
    which = "approved authorizations" if target == "authorizations" else "transfers"
    rate = len(lat) / elapsed if elapsed else 0.0
    click.echo(f"raw INSERT+COMMIT on the same database: {raw_per_s:,.0f}/s; {unit}: {rate:,.1f}")
    if trips:
        click.echo(f"round trips per request {median(trips)} (median of {len(trips):,} {which}; min {min(trips)}, "
                   f"max {max(trips)}; each statement, BEGIN and COMMIT, a pipelined batch once)")
    else:
        click.echo("round trips per request - (no request was answered with a count)")
    click.echo(f"ratio {rate / raw_per_s:.2f}")
    if failed:
        console.print(f"the server's log: {folder / 'server.log'}")
        raise SystemExit(1)
