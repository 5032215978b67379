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
and ``GET /api/v1/ledger/verify``; exits non-zero on a failed verify, any 5xx or dropped connection,
or approvals the database does not match. ``--target transfers`` drives POST /api/v1/transfers instead.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

import click
from rich.console import Console
from rich.table import Table

from ledger import Database, Ledger, ManualClock, move
from sandbox.apikeys import create_key
from sandbox.cli_support import db_option

from .common import percentile

HOST = "127.0.0.1"  # loopback only, always
MAX_DURATION_S = 300
MAX_REQUESTS = 200_000
POOL_ACCOUNTS = 32
PRESET = "crypto-city"
MAX_CUSTOMERS = 2_000
AMOUNT_RANGE_MINOR = (600_00, 1_000_00)        # 600–1 000 KZT: more than a sale's leftover (< 1 lot, ~530 KZT)
SPEND_PER_CUSTOMER_MINOR = 400_000_00          # plan at most this per card and day (the limit is 510 000 KZT)
FUNDING_ASSETS = ("USDT", "BTC", "ETH")
DEPOSITS_MINOR = {"USDT": 2_400 * 10**6, "BTC": 25 * 10**5, "ETH": 10**9}   # each worth ~1.2M KZT
BENCH_LIMIT = 10_000                            # the configuration's maximum for the count rules
MM_SIZE_FACTOR = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def is_sqlite(db_url: str) -> bool:
    return db_url.startswith("sqlite") or "://" not in db_url


# ---------------------------------------------------------------------------------- set-up
def write_bench_config(folder: Path) -> Path:
    """The ``crypto-city`` preset with the bench's settings (module docstring), validated, as a YAML file."""
    import yaml

    from sandbox.config.loader import load_config, preset_path, read_yaml
    data = read_yaml(preset_path(PRESET))
    data["sandbox"]["name"] = f"{data['sandbox']['name']} — HTTP bench"
    data["card"]["daily_count_limit"] = BENCH_LIMIT
    data["aml"]["velocity_count"] = BENCH_LIMIT
    for mm in data.get("market_makers", []):
        mm["size"] = str(Decimal(str(mm["size"])) * MM_SIZE_FACTOR)
    path = folder / "bench-city.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    load_config(path)  # fails here, not in the server, if the preset changed shape
    return path


def holds_a_city(db_url: str) -> bool:
    from sqlalchemy import inspect

    from sandbox import city_state
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            return inspect(conn).has_table("sandbox_city") and city_state.head(conn) is not None
    finally:
        db.dispose()


@dataclass
class CityPool:
    pans: list[str]
    merchant_tokens: dict[str, str]
    operator_token: str
    in_zone: list[str] = field(default_factory=list)


def prepare_city(db_url: str, config_path: Path, seed: int, customers: int) -> CityPool:
    """Build the city on ``db_url``, onboard ``customers`` crypto-only cardholders, mint the API keys."""
    from sandbox.city import CryptoCity
    from sandbox.config.loader import load_config
    city = CryptoCity.from_config(load_config(config_path), db=db_url, seed=seed)
    try:
        if not city.set_up_here:
            raise click.ClickException("the database already held a city: give the bench a fresh one")
        pans = []
        for i in range(customers):
            asset = FUNDING_ASSETS[i % len(FUNDING_ASSETS)]
            done = city.onboard(actor=f"bench-{i:04d}", kyc_tier="full", resident=True,
                                deposits={asset: DEPOSITS_MINOR[asset]})
            pans.append(done["pan"])
        merchants = [m.id for m in city.cfg.merchants
                     if m.in_zone and m.licences and m.id not in city.cfg.aml.blocklists.merchants]
        with city.ledger.unit_of_work() as uow:
            tokens = {m: create_key(uow.conn, "merchant", m, now=uow.now(), label="bench http POS").token
                      for m in merchants}
            operator = create_key(uow.conn, "operator", None, now=uow.now(), label="bench http").token
            uow.commit()
        return CityPool(pans, tokens, operator, merchants)
    finally:
        city.close()


def prepare_transfers(db_url: str) -> tuple[list[int], str]:
    """``--target transfers``: a pool of funded KZT accounts and an operator key; return (account ids, key)."""
    db = Database(db_url)
    db.migrate()
    ledger = Ledger(db, ManualClock())
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external")
        ids = []
        for i in range(POOL_ACCOUNTS):
            account = uow.open_account(f"bench:{i}", "KZT", "customer")
            if account.balance_minor == 0:
                uow.transfer(move(world.id, account.id, 10**12), memo="bench funding")
            ids.append(account.id)
        token = create_key(uow.conn, "operator", None, now=uow.now(), label="bench http").token
        uow.commit()
    db.dispose()
    return ids, token


def recorded_approvals(db_url: str) -> tuple[int, int]:
    """(approved authorizations of the bench's cardholders in the database, those that sold crypto)."""
    from sqlalchemy import case, func, select

    from card.tables import authorizations as a
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            row = conn.execute(select(func.count(), func.coalesce(func.sum(case((a.c.shortfall_minor > 0, 1),
                                                                               else_=0)), 0))
                               .where(a.c.cardholder_id.like("bench-%"), a.c.response_code == "00")).one()
            return int(row[0]), int(row[1])
    finally:
        db.dispose()


# ---------------------------------------------------------------------------------- the server
def start_server(db_url: str, port: int, workers: int, config_path: Path | None = None,
                 seed: int | None = None, log_path: Path | None = None) -> subprocess.Popen:
    """``cryptocity serve`` in its own session. Its output goes to ``log_path`` (a file, never a pipe:
    Flask's server logs every request, and a pipe nobody reads fills up and stalls the server)."""
    code = "from sandbox.web.serve import serve_command; serve_command()"
    args = [sys.executable, "-c", code, "--db", db_url, "--host", HOST, "--port", str(port), "--workers",
            str(workers), "--closed"]
    if config_path is not None:
        args += ["--config", str(config_path)]
    if seed is not None:
        args += ["--seed", str(seed)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_path = log_path or Path(tempfile.mkdtemp(prefix="cryptocity-bench-http-")) / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server.log_path = log_path  # type: ignore[attr-defined]
    return server


def _log_tail(server: subprocess.Popen, chars: int = 2000) -> str:
    try:
        return Path(server.log_path).read_text(errors="replace")[-chars:]  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return ""


def wait_ready(port: int, server: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise click.ClickException("the server exited: " + _log_tail(server))
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"the server was not ready within {timeout_s:.0f} s: " + _log_tail(server))


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # the child's own session: itself and its workers only
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


# ---------------------------------------------------------------------------------- the load
# One request of a client thread: (path, JSON body, bearer token) from (rng, thread index, request number).
RequestMaker = Callable[[random.Random, int, int], tuple[str, dict, str]]


def authorization_requests(pool: CityPool, concurrency: int) -> RequestMaker:
    """Thread ``i`` buys with the cards ``i, i + C, i + 2C, …`` of the pool (all of them if the pool is
    smaller than C), at a random in-zone merchant, 600–1 000 KZT."""
    slices = [pool.pans[i::concurrency] if len(pool.pans) >= concurrency else pool.pans
              for i in range(concurrency)]

    def make(rng: random.Random, index: int, n: int) -> tuple[str, dict, str]:
        merchant = rng.choice(pool.in_zone)
        body = {"pan": rng.choice(slices[index]), "amount_minor": rng.randint(*AMOUNT_RANGE_MINOR)}
        return f"/api/v1/merchants/{merchant}/authorizations", body, pool.merchant_tokens[merchant]
    return make


def transfer_requests(accounts: list[int], token: str) -> RequestMaker:
    def make(rng: random.Random, index: int, n: int) -> tuple[str, dict, str]:
        src, dst = rng.sample(accounts, 2)
        return "/api/v1/transfers", {"from_account_id": src, "to_account_id": dst, "amount_minor": 1,
                                     "memo": "bench"}, token
    return make


class Driver:
    """C client threads, one keep-alive connection each, posting until time or count runs out."""

    def __init__(self, port: int, make_request: RequestMaker, seed: int) -> None:
        self.port, self.make_request, self.seed = port, make_request, seed
        self.latencies_ms: list[float] = []
        self.statuses: Counter = Counter()    # HTTP status (0: connection error)
        self.answers: Counter = Counter()     # ISO response code of each 201 authorization answer
        self.lock = threading.Lock()
        self.issued = 0
        self.run_id = f"{seed}-{os.getpid()}-{int(time.time())}"

    def _next(self, limit: int) -> int | None:
        with self.lock:
            if self.issued >= limit:
                return None
            self.issued += 1
            return self.issued

    def worker(self, index: int, deadline: float, limit: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        lat, statuses, answers = [], Counter(), Counter()
        while time.monotonic() < deadline:
            n = self._next(limit)
            if n is None:
                break
            path, body, token = self.make_request(rng, index, n)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": f"bench-{self.run_id}-{index}-{n}"}
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=json.dumps(body), headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                status, payload = 0, b""
            lat.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
            if status == 201 and path.endswith("/authorizations"):
                try:
                    answers[json.loads(payload).get("response_code", "??")] += 1
                except (ValueError, AttributeError):
                    answers["unreadable"] += 1
        conn.close()
        with self.lock:
            self.latencies_ms += lat
            self.statuses.update(statuses)
            self.answers.update(answers)

    def run(self, concurrency: int, duration_s: float, limit: int) -> float:
        deadline = time.monotonic() + duration_s
        threads = [threading.Thread(target=self.worker, args=(i, deadline, limit), daemon=True)
                   for i in range(concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(duration_s + 60)
        return time.perf_counter() - started


def verify_over_http(port: int, token: str, attempts: int = 3) -> dict:
    """GET /api/v1/ledger/verify; a dropped connection (the server may still be draining) is retried."""
    error: Exception | None = None
    for _ in range(attempts):
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            conn.request("GET", "/api/v1/ledger/verify", headers={"Authorization": f"Bearer {token}"})
            return json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError) as failure:
            error = failure
            time.sleep(0.5)
        finally:
            conn.close()
    return {"ok": False, "problem": f"verify over HTTP failed: {type(error).__name__}: {error}"}


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
    declines, throughput, p50/p99 latency and a ledger verify (stops by itself)."""
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
    if failed:
        console.print(f"the server's log: {folder / 'server.log'}")
        raise SystemExit(1)
