"""Fixtures for the web layer: a migrated ledger with two customers, an app, keys per role."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from ledger import Database, Ledger, ManualClock
from sandbox.web import create_app
from databases import copy_sqlite
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
    copy_sqlite(template_path, path)
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


# ---------------------------------------------------------------------------------------------
# A real CryptoCity (the facade's endpoints): built once per session on a SQLite file, copied per test.
# KZTE (an in-process EVM, ~5 s) and the BTC regtest node are NOT started here; tests that need them
# start them lazily on their own copy.
# ---------------------------------------------------------------------------------------------
CITY_PRESET, CITY_SEED = "crypto-city", 7


@pytest.fixture(scope="session")
def _city_template(tmp_path_factory):
    from sandbox.apikeys import create_key
    from sandbox.city import CryptoCity
    path = tmp_path_factory.mktemp("city-template") / "city.db"
    city = CryptoCity.from_config(CITY_PRESET, db=f"sqlite:///{path}", seed=CITY_SEED)
    info = {}
    for actor, tier, deposits in (("aigerim", "full", {"KZT": 100_000_00, "USDT": 500_000_000, "BTC": 1_000_000}),
                                  ("bob", "basic", {"KZT": 20_000_00, "USDT": 100_000_000})):
        info[actor] = city.onboard(actor=actor, kyc_tier=tier, deposits=deposits)
    with city.ledger.unit_of_work() as uow:
        keys = {name: create_key(uow.conn, role, subject, now=uow.now()).token for name, role, subject in (
            ("operator", "operator", None), ("regulator", "regulator", None),
            ("aigerim", "customer", "aigerim"), ("bob", "customer", "bob"),
            ("coffee", "merchant", "alatau-coffee"), ("market", "merchant", "zone-market"))}
        uow.commit()
    city.close()
    return path, keys, info


@pytest.fixture
def cc(_city_template, tmp_path):
    """A CryptoCity with customers aigerim (full KYC, KZT+USDT+BTC) and bob (basic, KZT+USDT); ``cc.keys``."""
    from sandbox.city import CryptoCity
    template, keys, info = _city_template
    path = tmp_path / "city.db"
    copy_sqlite(template, path)
    city = CryptoCity.from_config(CITY_PRESET, db=f"sqlite:///{path}", seed=CITY_SEED)
    city.keys, city.info = keys, info
    yield city
    city.close()


@pytest.fixture
def cc_app(cc):
    return create_app(cc, {"TESTING": True})


@pytest.fixture
def cc_client(cc_app):
    return cc_app.test_client()
