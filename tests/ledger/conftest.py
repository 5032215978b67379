"""Helpers for the ledger tests: a funded cast of accounts and a snapshot of every balance."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ledger import move
from ledger import tables as t


def all_balances(ledger) -> dict[str, tuple[int, int]]:
    """Every account's (balance_minor, held_minor) by code: what a refusal must leave unchanged."""
    with ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(select(t.accounts.c.code, t.accounts.c.balance_minor, t.accounts.c.held_minor))
        return {code: (int(b), int(h)) for code, b, h in rows}


def table_counts(ledger) -> tuple[int, int, int]:
    """(transfers, entries, holds): a refused request must not add rows either."""
    from sqlalchemy import func
    with ledger.unit_of_work(read_only=True) as uow:
        return tuple(int(uow.conn.execute(select(func.count()).select_from(tab)).scalar_one())
                     for tab in (t.transfers, t.entries, t.holds))


class Cast:
    """World (external), alice, bob, carol (customers) and fees, in KZT; plus a BTC pair."""

    def __init__(self, ledger, alice_minor: int = 100_000):
        self.ledger = ledger
        with ledger.unit_of_work() as uow:
            self.world = uow.open_account("world", "KZT", "external").id
            self.alice = uow.open_account("cust:alice", "KZT", "customer").id
            self.bob = uow.open_account("cust:bob", "KZT", "customer").id
            self.carol = uow.open_account("cust:carol", "KZT", "customer").id
            self.fees = uow.open_account("bank", "KZT", "fees").id
            self.world_btc = uow.open_account("world", "BTC", "external").id
            self.alice_btc = uow.open_account("cust:alice", "BTC", "customer").id
            if alice_minor:
                uow.transfer(move(self.world, self.alice, alice_minor), memo="salary")
            uow.commit()

    def balance(self, account_id: int):
        with self.ledger.unit_of_work(read_only=True) as uow:
            return uow.balance(account_id)


@pytest.fixture
def cast(ledger) -> Cast:
    return Cast(ledger)


@pytest.fixture
def snapshot():
    return all_balances


@pytest.fixture
def counts():
    return table_counts
