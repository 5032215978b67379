"""Concurrent writers on SQLite and PostgreSQL: no overdraft, no lost update, one effect per key."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from ledger import errors, move

THREADS = 8


def race(n, work):
    """Run ``work(i)`` in ``n`` threads released at once; return each result or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return results


def _open(ledger, balance_minor):
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external").id
        payer = uow.open_account("cust:payer", "KZT", "customer").id
        payees = [uow.open_account(f"cust:payee{i}", "KZT", "customer").id for i in range(THREADS)]
        if balance_minor:
            uow.transfer(move(world, payer, balance_minor))
        uow.commit()
    return world, payer, payees


def _balance(ledger, account_id):
    with ledger.unit_of_work(read_only=True) as uow:
        return uow.balance(account_id)


@pytest.mark.parametrize("can_afford", [3, 5])
def test_threads_spending_one_balance(ledger, can_afford):
    amount = 7_000
    _, payer, payees = _open(ledger, amount * can_afford + 500)
    results = race(THREADS, lambda i: ledger.transaction(
        lambda uow: uow.transfer(move(payer, payees[i], amount), memo=f"spend {i}")))
    ok = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(ok) == can_afford
    assert all(isinstance(r, errors.InsufficientFunds) for r in refused), refused
    assert _balance(ledger, payer).ledger_minor == 500  # exact: no overdraft, no lost update
    assert sum(_balance(ledger, p).ledger_minor for p in payees) == amount * can_afford
    ledger.verify()


def test_threads_paying_each_other_lose_no_update(ledger):
    _, payer, payees = _open(ledger, 0)
    with ledger.unit_of_work() as uow:
        world = uow.account_by_code("external:world:KZT").id
        for p in payees:
            uow.transfer(move(world, p, 10_000))
        uow.commit()

    def ring(i):
        for step in range(5):
            ledger.transaction(lambda uow: uow.transfer(move(payees[i], payees[(i + 1) % THREADS], 100 + step)))

    results = race(THREADS, ring)
    assert not any(isinstance(r, Exception) for r in results), results
    # Everyone paid and received the same amounts: every balance is back where it started.
    assert [_balance(ledger, p).ledger_minor for p in payees] == [10_000] * THREADS
    ledger.verify()


def test_threads_retrying_one_idempotency_key(ledger):
    _, payer, payees = _open(ledger, 50_000)
    results = race(THREADS, lambda i: ledger.transaction(
        lambda uow: uow.transfer(move(payer, payees[0], 20_000), key="pay-once", memo="once")))
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(not r.replayed for r in results) == 1
    assert len({r.id for r in results}) == 1
    assert _balance(ledger, payer).ledger_minor == 30_000
    assert _balance(ledger, payees[0]).ledger_minor == 20_000
    ledger.verify()


def test_threads_retrying_one_generic_idempotency_key(ledger):
    _, payer, payees = _open(ledger, 50_000)
    calls = []
    lock = threading.Lock()

    def authorize(uow):
        def compute():
            with lock:
                calls.append(1)
            return {"transfer_id": uow.transfer(move(payer, payees[0], 20_000)).id}
        return uow.idempotent("card.authorize", "auth-once", {"amount_minor": 20_000}, compute)

    results = race(THREADS, lambda i: ledger.transaction(authorize))
    assert not any(isinstance(r, Exception) for r in results), results
    assert len({r["transfer_id"] for r in results}) == 1
    assert _balance(ledger, payer).ledger_minor == 30_000
    ledger.verify()


def test_threads_placing_holds_on_one_account(ledger):
    amount = 10_000
    _, payer, _ = _open(ledger, amount * 3 + 1)
    results = race(THREADS, lambda i: ledger.transaction(lambda uow: uow.hold(payer, amount, memo=f"auth {i}")))
    ok = [r for r in results if not isinstance(r, Exception)]
    assert len(ok) == 3
    assert all(isinstance(r, errors.InsufficientFunds) for r in results if isinstance(r, Exception)), results
    bal = _balance(ledger, payer)
    assert (bal.ledger_minor, bal.held_minor, bal.available_minor) == (30_001, 30_000, 1)
    ledger.verify()


def test_threads_racing_holds_and_transfers(ledger):
    _, payer, payees = _open(ledger, 40_000)

    def work(i):
        if i % 2:
            return ledger.transaction(lambda uow: uow.hold(payer, 10_000))
        return ledger.transaction(lambda uow: uow.transfer(move(payer, payees[i], 10_000)))

    results = race(THREADS, work)
    assert sum(not isinstance(r, Exception) for r in results) == 4
    bal = _balance(ledger, payer)
    assert bal.available_minor == 0 and bal.ledger_minor >= 0
    ledger.verify()


def test_threads_posting_and_voiding_one_hold(ledger):
    _, payer, payees = _open(ledger, 50_000)
    hold = ledger.transaction(lambda uow: uow.hold(payer, 30_000))

    def work(i):
        if i % 2:
            return ledger.transaction(lambda uow: uow.void_hold(hold.id))
        return ledger.transaction(lambda uow: uow.post_hold(hold.id, to=[(payees[i], 30_000)]))

    results = race(THREADS, work)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, errors.HoldNotPending) for r in results if isinstance(r, Exception)), results
    bal = _balance(ledger, payer)
    assert bal.held_minor == 0 and bal.ledger_minor in (20_000, 50_000)
    ledger.verify()


def test_threads_expiring_the_same_holds(ledger, clock):
    _, payer, _ = _open(ledger, 50_000)
    with ledger.unit_of_work() as uow:
        for _ in range(4):
            uow.hold(payer, 5_000, expires_at=clock.now() + timedelta(minutes=5))
        uow.hold(payer, 7_000)  # no expiry: must stay held
        uow.commit()
    clock.advance(timedelta(minutes=10))
    results = race(THREADS, lambda i: ledger.transaction(lambda uow: uow.expire_holds()))
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(results) == 4, "each expired hold is released exactly once"
    assert _balance(ledger, payer).held_minor == 7_000
    ledger.verify()
