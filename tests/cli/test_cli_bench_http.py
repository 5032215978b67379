"""End-to-end through the console script: ``cryptocity bench http`` serves a city and drives POS card
authorizations at it over loopback (SQLite with Flask's server; PostgreSQL with gunicorn, 2 workers)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [str(Path(sys.executable).parent / "cryptocity")]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "140"}
    env.pop("CRYPTOCITY_DATABASE_URL", None)
    return subprocess.run(CLI + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def row(stdout: str, measure: str) -> str:
    """The value cell of the table row whose measure cell starts with ``measure``."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 2 and cells[0].startswith(measure):
            return cells[1]
    raise AssertionError(f"no row {measure!r} in:\n{stdout}")


def number(text: str) -> int:
    return int(re.match(r"[\d,]+", text).group(0).replace(",", ""))


def check_report(result: subprocess.CompletedProcess, requests: int) -> None:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "HTTP card authorizations on" in out
    sent, approved = number(row(out, "authorizations sent")), number(row(out, "approved (00)"))
    assert 0 < sent <= requests
    declines = row(out, "declined, by response code")
    # funded and within every limit, a purchase approves; the only decline a loaded machine may produce
    # is 91, the issuer's own deadline (the authorization took over auth_deadline_ms; nothing moved)
    assert declines == "none" or re.fullmatch(r"91: [\d,]+", declines), declines
    assert approved >= sent * 0.9 and approved + (0 if declines == "none" else number(declines[4:])) == sent
    in_db, with_sale = re.match(r"([\d,]+) \(([\d,]+)\)", row(out, "approvals in the database")).groups()
    assert number(in_db) == approved and number(with_sale) == approved   # each one a JIT crypto sale
    assert row(out, "5xx and dropped connections") == "0"
    assert row(out, "other HTTP statuses") == "none"
    assert "authorizations/s" in row(out, "throughput")
    assert "ledger verify over HTTP: invariants verified" in out
    # the server's own count of round trips per approved authorization, and the ratio to raw inserts last
    trips = re.search(r"^round trips per request (\d+) \(median of ([\d,]+) approved", out, re.M)
    assert trips and 10 < int(trips.group(1)) < 100 and number(trips.group(2)) == approved, out
    assert re.search(r"^raw INSERT\+COMMIT on the same database: [\d,]+/s", out, re.M), out
    assert re.fullmatch(r"ratio \d+\.\d\d", out.strip().splitlines()[-1]), out


def test_bench_http_authorizes_cards_on_sqlite(tmp_path):
    result = run(["bench", "http", "--duration", "2", "--requests", "40", "--concurrency", "4"], tmp_path)
    check_report(result, 40)
    assert "SQLite — Flask threaded server" in result.stdout


@pytest.mark.postgres
def test_bench_http_authorizes_cards_on_postgres_with_two_gunicorn_workers(tmp_path, pg_url):
    result = run(["bench", "http", "--db", pg_url, "--workers", "2", "--duration", "2", "--requests", "40",
                  "--concurrency", "4"], tmp_path)
    check_report(result, 40)
    assert "PostgreSQL — gunicorn, 2 workers" in result.stdout


def test_bench_http_refuses_a_database_that_already_holds_a_city(tmp_path):
    db = f"sqlite:///{tmp_path / 'city.db'}"
    first = run(["bench", "http", "--db", db, "--duration", "1", "--requests", "4", "--concurrency", "2"], tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    again = run(["bench", "http", "--db", db, "--duration", "1", "--requests", "4"], tmp_path)
    assert again.returncode != 0
    assert "fresh database" in again.stderr and "Traceback" not in again.stderr
