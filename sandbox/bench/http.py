"""``cryptocity bench http``: concurrent HTTP writes against a real server on loopback.

Starts ``cryptocity serve`` in a child process on 127.0.0.1 (gunicorn with N workers on
PostgreSQL, Flask's threaded server on SQLite), drives POST /api/v1/transfers from C client
threads for a bounded time or count, then prints throughput and p50/p99 latency, checks the
ledger over HTTP, and stops the server. Card authorizations join once the card module lands.
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
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ledger import Database, Ledger, ManualClock, move
from sandbox.apikeys import create_key

from .common import percentile

HOST = "127.0.0.1"  # loopback only, always
MAX_DURATION_S = 300
MAX_REQUESTS = 200_000
POOL_ACCOUNTS = 32


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def prepare(db_url: str) -> tuple[list[int], str]:
    """Migrate, open a pool of funded accounts and an operator key; return (account ids, key)."""
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


def start_server(db_url: str, port: int, workers: int) -> subprocess.Popen:
    code = "from sandbox.web.serve import serve_command; serve_command()"
    args = [sys.executable, "-c", code, "--db", db_url, "--host", HOST, "--port", str(port), "--workers",
            str(workers), "--closed"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)


def wait_ready(port: int, server: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise click.ClickException("the server exited: " + server.stderr.read().decode()[-2000:])
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"the server was not ready within {timeout_s:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # the child's own session: itself and its workers only
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)


class Driver:
    """C client threads posting transfers between random pool accounts until time or count runs out."""

    def __init__(self, port: int, token: str, accounts: list[int], seed: int) -> None:
        self.port, self.token, self.accounts, self.seed = port, token, accounts, seed
        self.latencies_ms: list[float] = []
        self.statuses: Counter = Counter()
        self.lock = threading.Lock()
        self.issued = 0

    def _next(self, limit: int) -> int | None:
        with self.lock:
            if self.issued >= limit:
                return None
            self.issued += 1
            return self.issued

    def worker(self, index: int, deadline: float, limit: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        lat, statuses = [], Counter()
        while time.monotonic() < deadline:
            n = self._next(limit)
            if n is None:
                break
            src, dst = rng.sample(self.accounts, 2)
            body = json.dumps({"from_account_id": src, "to_account_id": dst, "amount_minor": 1, "memo": "bench"})
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
                       "Idempotency-Key": f"bench-{self.seed}-{index}-{n}"}
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/transfers", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                status = 0
            lat.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
        conn.close()
        with self.lock:
            self.latencies_ms += lat
            self.statuses.update(statuses)

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
        conn = http.client.HTTPConnection(HOST, port, timeout=120)
        try:
            conn.request("GET", "/api/v1/ledger/verify", headers={"Authorization": f"Bearer {token}"})
            return json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError) as failure:
            error = failure
            time.sleep(0.5)
        finally:
            conn.close()
    return {"ok": False, "problem": f"verify over HTTP failed: {type(error).__name__}: {error}"}


@click.command("http")
@click.option("--db", "db_url", default=None, help="Database URL (default: a fresh SQLite file). "
              "PostgreSQL runs gunicorn with --workers.")
@click.option("--workers", default=None, type=click.IntRange(1, 32),
              help="Server worker processes (default: 2 on PostgreSQL, 1 on SQLite).")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Client threads.")
@click.option("--duration", "duration_s", default=10.0, show_default=True,
              type=click.FloatRange(0.5, MAX_DURATION_S), help="Seconds to drive load (bounded).")
@click.option("--requests", "max_requests", default=20_000, show_default=True,
              type=click.IntRange(1, MAX_REQUESTS), help="Stop after this many requests.")
@click.option("--seed", default=7, show_default=True)
def command(db_url: str | None, workers: int | None, concurrency: int, duration_s: float, max_requests: int,
            seed: int) -> None:
    """Concurrent HTTP transfers on 127.0.0.1: throughput and p50/p99 latency (stops by itself)."""
    console = Console()
    if db_url is None:
        db_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='cryptocity-bench-http-')) / 'bench.db'}"
    sqlite = db_url.startswith("sqlite") or "://" not in db_url
    workers = workers or (1 if sqlite else 2)
    if sqlite and workers > 1:
        raise click.UsageError("SQLite serves with one worker; pass --db postgresql+psycopg://… for --workers > 1")
    accounts, token = prepare(db_url)
    port = _free_port()
    server = start_server(db_url, port, workers)
    try:
        wait_ready(port, server)
        driver = Driver(port, token, accounts, seed)
        elapsed = driver.run(concurrency, duration_s, max_requests)
        report = verify_over_http(port, token)
    finally:
        stop_server(server)
    lat = driver.latencies_ms
    ok = driver.statuses.get(201, 0)
    server_kind = "Flask threaded server" if workers == 1 else f"gunicorn, {workers} workers (gthread x4)"
    table = Table(title=f"HTTP transfers on {'SQLite' if sqlite else 'PostgreSQL'} — {server_kind}, "
                        f"{concurrency} client threads, {os.cpu_count()} CPUs")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("requests (201 created)", f"{len(lat):,} ({ok:,})")
    table.add_row("other statuses", ", ".join(f"{s or 'conn error'}: {c}" for s, c in sorted(driver.statuses.items())
                                              if s != 201) or "none")
    table.add_row("elapsed", f"{elapsed:.1f} s")
    table.add_row("throughput", f"{len(lat) / elapsed:,.0f} req/s")
    table.add_row("latency p50", f"{percentile(lat, 50):.1f} ms")
    table.add_row("latency p99", f"{percentile(lat, 99):.1f} ms")
    table.add_row("latency max", f"{max(lat, default=0):.1f} ms")
    console.print(table)
    console.print(f"ledger verify over HTTP: {'ok — ' + report['summary'] if report.get('ok') else report}")
