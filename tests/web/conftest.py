"""Fixtures for the web layer: a migrated ledger with two customers, an app, keys per role."""
from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from ledger import Database, Ledger, ManualClock
from sandbox.web import create_app
from web_support import City, seed


@pytest.fixture
def db_city(ledger) -> City:
    """Seeded city on every database of ``db_url`` (SQLite; PostgreSQL when configured)."""
    return seed(ledger)


@pytest.fixture(scope="session")
def _seeded_sqlite(tmp_path_factory):
    """Migrate and seed once per session; each test gets a copy of the file (migrations take ~1 s)."""
    path = tmp_path_factory.mktemp("web-template") / "city.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    template = seed(Ledger(db, ManualClock(datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc))))
    db.dispose()  # the last connection closing checkpoints the WAL into the file
    return path, template


@pytest.fixture
def city(_seeded_sqlite, tmp_path, clock) -> City:
    """Seeded city on SQLite (most tests: the HTTP layer does not differ by database)."""
    template_path, template = _seeded_sqlite
    path = tmp_path / "city.db"
    shutil.copyfile(template_path, path)
    db = Database(f"sqlite:///{path}")
    yield replace(template, ledger=Ledger(db, clock))
    db.dispose()


@pytest.fixture
def app(city):
    return create_app(city.ledger, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db_client(db_city):
    return create_app(db_city.ledger, {"TESTING": True}).test_client()
