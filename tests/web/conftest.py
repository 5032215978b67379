"""Fixtures for the web layer: a migrated ledger with two customers, an app, keys per role."""
from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import pytest

from ledger import Database, Ledger, ManualClock, move
from sandbox.apikeys import create_key
from sandbox.web import create_app


@dataclass
class City:
    ledger: Ledger
    world: int
    alice: int  # cust:1's KZT account
    bob: int    # cust:2's KZT account
    shop: int   # merchant m1's KZT settlement account
    keys: dict[str, str]


def seed(ledger: Ledger) -> City:
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external")
        alice = uow.open_account("cust:1", "KZT", "customer")
        bob = uow.open_account("cust:2", "KZT", "customer")
        shop = uow.open_account("merchant:m1", "KZT", "merchant")
        uow.transfer(move(world.id, alice.id, 500_000_00), memo="salary")
        uow.transfer(move(world.id, bob.id, 120_000_00), memo="salary")
        uow.transfer(move(alice.id, shop.id, 4_500_00), memo="coffee")
        keys = {name: create_key(uow.conn, role, subject, now=uow.now()).token for name, role, subject in (
            ("operator", "operator", None), ("regulator", "regulator", None), ("alice", "customer", "cust:1"),
            ("bob", "customer", "cust:2"), ("merchant", "merchant", "merchant:m1"))}
        uow.commit()
    return City(ledger, world.id, alice.id, bob.id, shop.id, keys)


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


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}
