"""Transfers on SQLite and PostgreSQL: balanced, atomic, idempotent; every refusal changes nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import Posting, errors, move
from ledger.transfers import MAX_POSTINGS


def test_two_posting_transfer_moves_money(ledger, cast):
    with ledger.unit_of_work() as uow:
        result = uow.transfer(move(cast.alice, cast.bob, 30_000), memo="rent")
        uow.commit()
    assert not result.replayed
    assert cast.balance(cast.alice).ledger_minor == 70_000
    assert cast.balance(cast.bob).ledger_minor == 30_000
    ledger.verify()


def test_n_posting_transfer_splits_to_many(ledger, cast):
    with ledger.unit_of_work() as uow:
        result = uow.transfer([Posting(cast.alice, -10_100), Posting(cast.bob, 6_000),
                               Posting(cast.carol, 4_000), Posting(cast.fees, 100)], memo="split + fee")
        uow.commit()
    assert len(result.postings) == 4
    assert [cast.balance(a).ledger_minor for a in (cast.alice, cast.bob, cast.carol, cast.fees)] == [
        89_900, 6_000, 4_000, 100]
    ledger.verify()


def test_multi_asset_transfer_balances_per_asset(ledger, cast):
    with ledger.unit_of_work() as uow:
        uow.transfer([Posting(cast.alice, -50_000), Posting(cast.world, 50_000),
                      Posting(cast.world_btc, -1_000), Posting(cast.alice_btc, 1_000)], memo="buy BTC")
        uow.commit()
    assert cast.balance(cast.alice_btc).ledger_minor == 1_000
    assert cast.balance(cast.alice).ledger_minor == 50_000
    ledger.verify()


def _refused(ledger, snapshot, counts, fn, error_type, code):
    before, rows_before = snapshot(ledger), counts(ledger)
    with pytest.raises(error_type) as info:
        with ledger.unit_of_work() as uow:
            fn(uow)
            uow.commit()
    assert info.value.code == code
    assert str(info.value)
    assert snapshot(ledger) == before, "a refusal must leave every balance unchanged"
    assert counts(ledger) == rows_before, "a refusal must leave no transfer, entry or hold behind"
    ledger.verify()
    return info.value


def test_float_amount_refused_and_nothing_changes(ledger, cast, snapshot, counts):
    _refused(ledger, snapshot, counts, lambda uow: uow.transfer([Posting(cast.alice, -0.5), Posting(cast.bob, 0.5)]),
             errors.InvalidAmount, "amount_is_float")
    with pytest.raises(errors.InvalidAmount) as info:
        move(cast.alice, cast.bob, 10.0)
    assert info.value.code == "amount_is_float"


def test_unbalanced_transfer_refused_and_nothing_changes(ledger, cast, snapshot, counts):
    err = _refused(ledger, snapshot, counts,
                   lambda uow: uow.transfer([Posting(cast.alice, -1_000), Posting(cast.bob, 900)]),
                   errors.UnbalancedTransfer, "unbalanced_transfer")
    assert "KZT" in str(err)


def test_cross_asset_transfer_is_unbalanced(ledger, cast, snapshot, counts):
    _refused(ledger, snapshot, counts,
             lambda uow: uow.transfer([Posting(cast.alice, -1_000), Posting(cast.alice_btc, 1_000)]),
             errors.UnbalancedTransfer, "unbalanced_transfer")


def test_overdraft_refused_and_nothing_changes(ledger, cast, snapshot, counts):
    err = _refused(ledger, snapshot, counts, lambda uow: uow.transfer(move(cast.alice, cast.bob, 100_001)),
                   errors.InsufficientFunds, "insufficient_funds")
    assert "cust:alice" in str(err)


def test_earlier_writes_in_the_unit_are_rolled_back_with_the_refusal(ledger, cast, snapshot, counts):
    def two_steps(uow):
        uow.transfer(move(cast.alice, cast.bob, 50_000))
        uow.transfer(move(cast.bob, cast.carol, 60_000))  # bob only has 50 000.00 -> refused
    _refused(ledger, snapshot, counts, two_steps, errors.InsufficientFunds, "insufficient_funds")


def test_caught_refusal_leaves_no_trace_in_the_same_unit(ledger, cast):
    with ledger.unit_of_work() as uow:
        with pytest.raises(errors.InsufficientFunds):
            uow.transfer(move(cast.alice, cast.bob, 999_999), key="try-1")
        uow.transfer(move(cast.alice, cast.bob, 1_000), key="try-2")
        uow.commit()
    # The refused key was released: it can be used again for a different request.
    with ledger.unit_of_work() as uow:
        assert not uow.transfer(move(cast.alice, cast.carol, 500), key="try-1").replayed
        uow.commit()
    assert cast.balance(cast.alice).ledger_minor == 98_500
    ledger.verify()


def test_reused_key_with_different_body_refused(ledger, cast, snapshot, counts):
    with ledger.unit_of_work() as uow:
        uow.transfer(move(cast.alice, cast.bob, 1_000), key="pay-1")
        uow.commit()
    err = _refused(ledger, snapshot, counts, lambda uow: uow.transfer(move(cast.alice, cast.bob, 2_000), key="pay-1"),
                   errors.IdempotencyConflict, "idempotency_conflict")
    assert "pay-1" in str(err)
    _refused(ledger, snapshot, counts,
             lambda uow: uow.transfer(move(cast.alice, cast.bob, 1_000), key="pay-1", memo="other memo"),
             errors.IdempotencyConflict, "idempotency_conflict")


def test_same_key_same_body_replays_first_result(ledger, cast, snapshot, counts):
    with ledger.unit_of_work() as uow:
        first = uow.transfer(move(cast.alice, cast.bob, 1_000), key="pay-1", memo="coffee")
        uow.commit()
    before, rows = snapshot(ledger), counts(ledger)
    with ledger.unit_of_work() as uow:
        again = uow.transfer(move(cast.alice, cast.bob, 1_000), key="pay-1", memo="coffee")
        uow.commit()
    assert again.replayed and not first.replayed
    assert again.id == first.id
    assert sorted(again.postings) == sorted(first.postings)
    assert snapshot(ledger) == before and counts(ledger) == rows
    assert cast.balance(cast.bob).ledger_minor == 1_000
    ledger.verify()


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\nkey"])
def test_malformed_key_refused(ledger, cast, snapshot, counts, key):
    _refused(ledger, snapshot, counts, lambda uow: uow.transfer(move(cast.alice, cast.bob, 1), key=key),
             errors.InvalidIdempotencyKey, "invalid_idempotency_key")


def test_only_external_accounts_may_go_negative(ledger, cast, snapshot):
    before = snapshot(ledger)
    with ledger.unit_of_work() as uow:
        with pytest.raises(errors.InvalidAccount) as info:
            uow.open_account("cust:eve", "KZT", "customer", allow_negative=True)
        assert info.value.code == "negative_not_allowed"
        ext = uow.open_account("mint", "KZT", "external")
        assert ext.allow_negative
        assert not uow.open_account("cust:dan", "KZT", "customer").allow_negative
        uow.commit()
    assert "customer:cust:eve:KZT" not in snapshot(ledger)
    # An external account goes negative; a customer cannot.
    with ledger.unit_of_work() as uow:
        uow.transfer(move(ext.id, cast.bob, 5_000))
        with pytest.raises(errors.InsufficientFunds):
            uow.transfer(move(cast.carol, cast.bob, 1))
        uow.commit()
    assert cast.balance(ext.id).ledger_minor == -5_000
    assert set(snapshot(ledger)) - set(before) == {"external:mint:KZT", "customer:cust:dan:KZT"}
    ledger.verify()


def test_open_account_is_idempotent_and_refuses_conflicting_settings(ledger, cast):
    with ledger.unit_of_work() as uow:
        again = uow.open_account("cust:alice", "KZT", "customer")
        assert again.id == cast.alice and again.balance_minor == 100_000
        assert uow.account_by_code("customer:cust:alice:KZT").id == cast.alice
        with pytest.raises(errors.UnknownAsset):
            uow.open_account("cust:alice", "DOGE", "customer")
        with pytest.raises(errors.AccountNotFound):
            uow.account_by_code("customer:nobody:KZT")


def test_unknown_account_refused(ledger, cast, snapshot, counts):
    err = _refused(ledger, snapshot, counts, lambda uow: uow.transfer(move(cast.alice, 987_654, 1_000)),
                   errors.AccountNotFound, "account_not_found")
    assert "987654" in str(err)


def test_duplicate_account_refused(ledger, cast, snapshot, counts):
    _refused(ledger, snapshot, counts,
             lambda uow: uow.transfer([Posting(cast.alice, -1_000), Posting(cast.alice, 500), Posting(cast.bob, 500)]),
             errors.InvalidTransfer, "duplicate_account")


def test_too_many_postings_refused(ledger, cast, snapshot, counts):
    with ledger.unit_of_work() as uow:
        ids = [uow.open_account(f"cust:many{i}", "KZT", "customer").id for i in range(MAX_POSTINGS)]
        uow.commit()
    postings = [Posting(cast.alice, -MAX_POSTINGS)] + [Posting(i, 1) for i in ids]
    _refused(ledger, snapshot, counts, lambda uow: uow.transfer(postings), errors.InvalidTransfer,
             "too_many_postings")
    # Exactly the limit is fine.
    with ledger.unit_of_work() as uow:
        uow.transfer([Posting(cast.alice, -(MAX_POSTINGS - 1))] + [Posting(i, 1) for i in ids[:-1]])
        uow.commit()
    ledger.verify()


def test_empty_and_zero_postings_refused(ledger, cast, snapshot, counts):
    _refused(ledger, snapshot, counts, lambda uow: uow.transfer([]), errors.InvalidTransfer, "no_postings")
    _refused(ledger, snapshot, counts, lambda uow: uow.transfer([Posting(cast.alice, 0), Posting(cast.bob, 0)]),
             errors.InvalidTransfer, "zero_amount")


def test_precedence_unbalanced_before_overdraft(ledger, cast, snapshot, counts):
    _refused(ledger, snapshot, counts,
             lambda uow: uow.transfer([Posting(cast.alice, -10**9), Posting(cast.bob, 5)]),
             errors.UnbalancedTransfer, "unbalanced_transfer")


def test_precedence_float_before_unknown_account(ledger, cast, snapshot, counts):
    _refused(ledger, snapshot, counts,
             lambda uow: uow.transfer([Posting(987_654, -1.5), Posting(cast.bob, 1.5)]),
             errors.InvalidAmount, "amount_is_float")


def test_precedence_unknown_account_before_unbalanced(ledger, cast, snapshot, counts):
    _refused(ledger, snapshot, counts,
             lambda uow: uow.transfer([Posting(987_654, -7), Posting(cast.bob, 5)]),
             errors.AccountNotFound, "account_not_found")


def test_unit_of_work_without_commit_rolls_back(ledger, cast, snapshot, counts):
    before, rows = snapshot(ledger), counts(ledger)
    with ledger.unit_of_work() as uow:
        uow.transfer(move(cast.alice, cast.bob, 40_000))
        uow.open_account("cust:ghost", "KZT", "customer")
        assert uow.balance(cast.bob).ledger_minor == 40_000  # visible inside the unit...
    assert snapshot(ledger) == before and counts(ledger) == rows  # ...gone after it
    with pytest.raises(RuntimeError):
        with ledger.unit_of_work() as uow:
            uow.transfer(move(cast.alice, cast.bob, 40_000))
            raise RuntimeError("crash before commit")
    assert snapshot(ledger) == before
    ledger.verify()


def test_transaction_commits_and_returns(ledger, cast):
    result = ledger.transaction(lambda uow: uow.transfer(move(cast.alice, cast.bob, 1_234)))
    assert result.id
    assert cast.balance(cast.bob).ledger_minor == 1_234
    ledger.verify()


def test_balance_as_of_a_past_time(ledger, cast, clock):
    t0 = clock.now()
    clock.advance(timedelta(hours=1))
    with ledger.unit_of_work() as uow:
        uow.transfer(move(cast.alice, cast.bob, 10_000))
        uow.commit()
    t1 = clock.now()
    clock.advance(timedelta(hours=1))
    with ledger.unit_of_work() as uow:
        uow.transfer(move(cast.alice, cast.bob, 20_000))
        uow.commit()
    with ledger.unit_of_work(read_only=True) as uow:
        assert uow.balance(cast.bob, as_of=t0 - timedelta(seconds=1)).ledger_minor == 0
        assert uow.balance(cast.bob, as_of=t0).ledger_minor == 0
        assert uow.balance(cast.bob, as_of=t1).ledger_minor == 10_000
        assert uow.balance(cast.bob, as_of=t1 + timedelta(minutes=30)).ledger_minor == 10_000
        assert uow.balance(cast.bob, as_of=clock.now()).ledger_minor == 30_000
        assert uow.balance(cast.alice, as_of=t1).ledger_minor == 90_000
        assert uow.balance(cast.bob).ledger_minor == 30_000
    ledger.verify()


def test_history_paginates_oldest_first(ledger, cast, clock):
    with ledger.unit_of_work() as uow:
        for i in range(1, 8):
            clock.advance(timedelta(minutes=1))
            uow.transfer(move(cast.alice, cast.bob, i * 100), memo=f"payment {i}")
        uow.commit()
    seen, after = [], None
    with ledger.unit_of_work(read_only=True) as uow:
        while True:
            page = uow.history(cast.bob, after_id=after, limit=3)
            if not page:
                break
            assert len(page) <= 3
            seen.extend(page)
            after = page[-1]["entry_id"]
    assert [e["amount_minor"] for e in seen] == [i * 100 for i in range(1, 8)]
    assert [e["memo"] for e in seen] == [f"payment {i}" for i in range(1, 8)]
    assert [e["entry_id"] for e in seen] == sorted(e["entry_id"] for e in seen)
    with ledger.unit_of_work(read_only=True) as uow:
        alice = uow.history(cast.alice, limit=100)
    assert [e["amount_minor"] for e in alice] == [100_000] + [-i * 100 for i in range(1, 8)]
    ledger.verify()


def test_history_filters_by_time(ledger, cast, clock):
    start = clock.now()
    for i in range(3):
        clock.advance(timedelta(days=1))
        ledger.transaction(lambda uow: uow.transfer(move(cast.alice, cast.bob, 100)))
    with ledger.unit_of_work(read_only=True) as uow:
        page = uow.history(cast.bob, since=start + timedelta(days=2))
        assert len(page) == 2
        page = uow.history(cast.bob, until=start + timedelta(days=1))
        assert len(page) == 1
    ledger.verify()


def test_a_snapshot_reads_one_state_of_the_database_while_others_commit(ledger, cast):
    """A report's unit of work (``snapshot=True``) sees the same balances in every statement, even after
    another unit of work commits a transfer between two of its reads; a plain read-only one on PostgreSQL
    (READ COMMITTED) would see the new balance in its second statement."""
    alice, bob = cast.alice, cast.bob
    with ledger.unit_of_work(snapshot=True) as report:
        first = report.balance(alice).ledger_minor
        ledger.transaction(lambda uow: uow.transfer(move(alice, bob, 1_00)))
        assert report.balance(alice).ledger_minor == first
    with ledger.unit_of_work(read_only=True) as later:
        assert later.balance(alice).ledger_minor == first - 1_00
    ledger.verify()
