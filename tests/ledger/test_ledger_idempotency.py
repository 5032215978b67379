"""uow.idempotent: the generic at-most-once wrapper other packages (cards, API) build on."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger import errors, move
from ledger import tables as t


def _stored(ledger) -> int:
    with ledger.unit_of_work(read_only=True) as uow:
        return uow.conn.execute(select(func.count()).select_from(t.idempotency)).scalar_one()


def test_same_key_same_request_computes_once(ledger, cast):
    calls = []

    def pay(uow):
        def compute():
            calls.append(1)
            result = uow.transfer(move(cast.alice, cast.bob, 2_500))
            return {"transfer_id": result.id, "approved": True}
        return uow.idempotent("card.authorize", "auth-1", {"card": "4242", "amount_minor": 2_500}, compute)

    first = ledger.transaction(pay)
    second = ledger.transaction(pay)
    assert first == second and first["approved"] is True
    assert len(calls) == 1
    assert cast.balance(cast.bob).ledger_minor == 2_500
    ledger.verify()


def test_result_is_stored_as_json(ledger, cast):
    request = {"b": 2, "a": 1}
    first = ledger.transaction(lambda uow: uow.idempotent("api.post", "k", request, lambda: {"n": 1, "l": [1, 2]}))
    # Key order in the request does not make it a different request.
    again = ledger.transaction(lambda uow: uow.idempotent("api.post", "k", {"a": 1, "b": 2}, lambda: 1 / 0))
    assert first == again == {"n": 1, "l": [1, 2]}


def test_same_key_different_request_conflicts(ledger, cast, snapshot):
    ledger.transaction(lambda uow: uow.idempotent("card.authorize", "auth-1", {"amount_minor": 2_500},
                                                  lambda: {"ok": True}))
    before = snapshot(ledger)
    calls = []
    with pytest.raises(errors.IdempotencyConflict) as info:
        ledger.transaction(lambda uow: uow.idempotent("card.authorize", "auth-1", {"amount_minor": 9_999},
                                                      lambda: calls.append(1)))
    assert info.value.code == "idempotency_conflict"
    assert "auth-1" in str(info.value)
    assert calls == [] and snapshot(ledger) == before
    ledger.verify()


def test_scopes_are_separate(ledger, cast):
    a = ledger.transaction(lambda uow: uow.idempotent("scope.a", "k1", {"x": 1}, lambda: "A"))
    b = ledger.transaction(lambda uow: uow.idempotent("scope.b", "k1", {"x": 2}, lambda: "B"))
    assert (a, b) == ("A", "B")


def test_refusal_inside_compute_stores_nothing(ledger, cast, snapshot, counts):
    before, rows = snapshot(ledger), counts(ledger)

    def overspend(uow):
        return uow.idempotent("card.authorize", "auth-9", {"amount_minor": 10**9},
                              lambda: uow.transfer(move(cast.alice, cast.bob, 10**9)).id)

    with pytest.raises(errors.InsufficientFunds):
        ledger.transaction(overspend)
    assert _stored(ledger) == 0
    assert snapshot(ledger) == before and counts(ledger) == rows
    # The key is free again: a retry runs compute for real.
    result = ledger.transaction(lambda uow: uow.idempotent(
        "card.authorize", "auth-9", {"amount_minor": 10**9}, lambda: {"declined": "insufficient_funds"}))
    assert result == {"declined": "insufficient_funds"}
    ledger.verify()


def test_refusal_caught_inside_the_unit_leaves_the_key_usable(ledger, cast):
    # A caller that catches a refusal and commits other work in the same unit (as the transfer
    # API explicitly supports) must not leave a half-claimed key behind.
    def attempt(uow):
        try:
            uow.idempotent("card.authorize", "auth-7", {"amount_minor": 10**9},
                           lambda: uow.transfer(move(cast.alice, cast.bob, 10**9)).id)
        except errors.InsufficientFunds:
            pass
        uow.transfer(move(cast.alice, cast.carol, 100))

    ledger.transaction(attempt)
    result = ledger.transaction(lambda uow: uow.idempotent(
        "card.authorize", "auth-7", {"amount_minor": 10**9}, lambda: {"declined": True}))
    assert result == {"declined": True}
    ledger.verify()


def test_malformed_key_refused(ledger):
    with pytest.raises(errors.InvalidIdempotencyKey):
        ledger.transaction(lambda uow: uow.idempotent("s", "", {}, lambda: 1))
