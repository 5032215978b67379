"""A seeded city for the event-log tests: built once per session on SQLite, copied per test."""
from __future__ import annotations

import pytest

from databases import copy_sqlite

ACTORS = {"aigerim": ("full", {"KZT": 100_000_00, "USDT": 500_000_000, "BTC": 1_000_000}),
          "bob": ("basic", {"KZT": 20_000_00})}


@pytest.fixture(scope="session")
def _events_template(tmp_path_factory):
    from sandbox.city import CryptoCity
    path = tmp_path_factory.mktemp("events-template") / "city.db"
    city = CryptoCity.from_config("crypto-city", db=f"sqlite:///{path}", seed=7)
    for actor, (tier, deposits) in ACTORS.items():
        city.onboard(actor=actor, kyc_tier=tier, deposits=deposits)
    city.close()
    return path


@pytest.fixture
def city(_events_template, tmp_path):
    """A CryptoCity with aigerim (full KYC: KZT, USDT, BTC) and bob (basic: KZT)."""
    from sandbox.city import CryptoCity
    path = tmp_path / "city.db"
    copy_sqlite(_events_template, path)
    built = CryptoCity.from_config("crypto-city", db=f"sqlite:///{path}", seed=7)
    yield built
    built.close()
