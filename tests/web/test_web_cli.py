"""The command objects the lead registers: `cryptocity keys …` and `cryptocity serve`."""
from __future__ import annotations

import hashlib

from click.testing import CliRunner
from sqlalchemy import select

from ledger import Database, Ledger
from ledger.db import KNOWN_PACKAGES
from sandbox.apikeys import api_keys, keys_command, resolve_key
from sandbox.web.serve import GunicornServer, gunicorn_options, serve_command


def test_keys_create_shows_the_secret_once_and_stores_only_its_hash(sqlite_url):
    ledger = Ledger.open(sqlite_url, packages=KNOWN_PACKAGES)
    with ledger.unit_of_work() as uow:
        uow.open_account("cust:1", "KZT", "customer")  # a customer key belongs to a customer that exists
        uow.commit()
    ledger.db.dispose()
    runner = CliRunner()
    created = runner.invoke(keys_command, ["create", "customer", "--for", "cust:1", "--db", sqlite_url])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("cck_")
    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        stored = conn.execute(select(api_keys.c.secret_sha256, api_keys.c.role, api_keys.c.subject)).one()
        assert stored == (hashlib.sha256(token.encode()).hexdigest(), "customer", "cust:1")
        assert token not in str(conn.execute(select(api_keys)).all())
        assert resolve_key(conn, token).subject == "cust:1"
    listed = runner.invoke(keys_command, ["list", "--db", sqlite_url])
    assert "customer" in listed.output and token not in listed.output
    assert runner.invoke(keys_command, ["revoke", "1", "--db", sqlite_url]).exit_code == 0
    with db.engine.connect() as conn:
        assert resolve_key(conn, token) is None
    db.dispose()


def test_keys_create_refuses_a_customer_key_without_its_customer(sqlite_url):
    result = CliRunner().invoke(keys_command, ["create", "customer", "--db", sqlite_url])
    assert result.exit_code != 0 and "--for" in str(result.exception or result.output)
    bad_role = CliRunner().invoke(keys_command, ["create", "admin", "--db", sqlite_url])
    assert bad_role.exit_code == 2 and "operator" in bad_role.output


def test_serve_refuses_several_workers_on_sqlite(sqlite_url):
    result = CliRunner().invoke(serve_command, ["--db", sqlite_url, "--workers", "3"])
    assert result.exit_code == 2 and "PostgreSQL" in result.output


def test_gunicorn_application_is_configured_in_code():
    made = []
    server = GunicornServer(lambda: made.append(1) or "app", gunicorn_options("127.0.0.1", 8123, 3))
    assert server.cfg.bind == ["127.0.0.1:8123"] and server.cfg.workers == 3
    assert server.load() == "app" and made == [1]
