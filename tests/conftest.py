"""Shared fixtures: databases (SQLite always; PostgreSQL when configured, mandatory under CI)."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_URL = os.environ.get("CRYPTOCITY_TEST_DATABASE_URL") or (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test" if CI else None)
PG_HOW = ("PostgreSQL tests skipped: set CRYPTOCITY_TEST_DATABASE_URL="
          "postgresql+psycopg://postgres@127.0.0.1:5432/test to run them (they are mandatory under CI=true)")


def _pg_admin_engine():
    from ledger.db import normalize_url
    return create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT", pool_size=1)


def pytest_sessionstart(session: pytest.Session) -> None:
    if not PG_URL:
        return
    try:
        engine = _pg_admin_engine()
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001
        if CI:
            pytest.exit(f"CI=true requires PostgreSQL at {PG_URL}, which is unreachable: {error}", returncode=3)
        raise


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'cryptocity.db'}"


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    if not PG_URL:
        pytest.skip(PG_HOW)
    from ledger.db import normalize_url
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = _pg_admin_engine()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = normalize_url(PG_URL)
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote('-csearch_path=' + schema)}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def clock():
    from ledger import ManualClock
    return ManualClock(datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc))


@pytest.fixture
def ledger(db_url, clock):
    """A ledger on ``db_url`` with every package's migrations applied."""
    from ledger import Database, Ledger
    db = Database(db_url)
    db.migrate()
    yield Ledger(db, clock)
    db.dispose()


BOMB_LEVELS = 9  # 10 ** 9 "lol"s once written out: the old loaders walked every one of them


def alias_bomb(head: str = "") -> tuple[str, int]:
    """A billion laughs in ~550 bytes (each level lists the previous one ten times) after ``head``, and
    the line of its first value that expands past sandbox.yamlsafe.MAX_NODES (l4: 111 111 values)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * 10)}]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, BOMB_LEVELS)]
    return head + "\n".join(lines) + "\n", head.count("\n") + 5


@pytest.fixture
def yaml_bomb():
    """``alias_bomb``: (text, line of the refusal), for the loaders' callers (CLI, API) to feed it."""
    return alias_bomb
