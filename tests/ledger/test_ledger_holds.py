"""Two-phase holds on SQLite and PostgreSQL: reserve, post all or part, void, expire by the clock."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import errors, move


def _hold(ledger, account_id, amount_minor, **kw):
    with ledger.unit_of_work() as uow:
        hold = uow.hold(account_id, amount_minor, **kw)
        uow.commit()
    return hold


def test_hold_lowers_available_not_ledger_balance(ledger, cast):
    hold = _hold(ledger, cast.alice, 30_000, memo="hotel")
    assert hold.status == "pending" and hold.remaining_minor == 30_000
    bal = cast.balance(cast.alice)
    assert (bal.ledger_minor, bal.held_minor, bal.available_minor) == (100_000, 30_000, 70_000)
    ledger.verify()


def test_held_money_cannot_be_transferred(ledger, cast, snapshot):
    _hold(ledger, cast.alice, 30_000)
    before = snapshot(ledger)
    with pytest.raises(errors.InsufficientFunds) as info:
        ledger.transaction(lambda uow: uow.transfer(move(cast.alice, cast.bob, 70_001)))
    assert info.value.code == "insufficient_funds"
    assert snapshot(ledger) == before
    ledger.transaction(lambda uow: uow.transfer(move(cast.alice, cast.bob, 70_000)))
    assert cast.balance(cast.alice).available_minor == 0
    ledger.verify()


def test_hold_beyond_available_refused(ledger, cast, snapshot, counts):
    _hold(ledger, cast.alice, 60_000)
    before, rows = snapshot(ledger), counts(ledger)
    with pytest.raises(errors.InsufficientFunds) as info:
        _hold(ledger, cast.alice, 40_001)
    assert info.value.code == "insufficient_funds"
    assert snapshot(ledger) == before and counts(ledger) == rows
    _hold(ledger, cast.alice, 40_000)
    ledger.verify()


def test_bad_hold_amounts_refused(ledger, cast, snapshot):
    before = snapshot(ledger)
    for amount, code in [(0, "zero_amount"), (-5, "zero_amount"), (1.5, "amount_is_float")]:
        with pytest.raises(errors.LedgerError) as info:
            _hold(ledger, cast.alice, amount)
        assert info.value.code == code
    with pytest.raises(errors.AccountNotFound):
        _hold(ledger, 987_654, 100)
    assert snapshot(ledger) == before
    ledger.verify()


def test_post_all_moves_money_and_resolves(ledger, cast):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        result = uow.post_hold(hold.id, to=[(cast.bob, 29_000), (cast.fees, 1_000)])
        posted = uow.get_hold(hold.id)
        uow.commit()
    assert result.kind == "hold_post"
    assert posted.status == "posted" and posted.posted_minor == 30_000 and posted.remaining_minor == 0
    alice = cast.balance(cast.alice)
    assert (alice.ledger_minor, alice.held_minor) == (70_000, 0)
    assert cast.balance(cast.bob).ledger_minor == 29_000 and cast.balance(cast.fees).ledger_minor == 1_000
    ledger.verify()


def test_partial_post_releases_the_rest(ledger, cast):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        uow.post_hold(hold.id, to=[(cast.bob, 12_000)], amount_minor=12_000)
        after = uow.get_hold(hold.id)
        uow.commit()
    assert after.status == "posted" and after.posted_minor == 12_000
    alice = cast.balance(cast.alice)
    assert (alice.ledger_minor, alice.held_minor, alice.available_minor) == (88_000, 0, 88_000)
    ledger.verify()


def test_non_final_post_keeps_the_rest_held(ledger, cast):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        uow.post_hold(hold.id, to=[(cast.bob, 10_000)], amount_minor=10_000, final=False)
        uow.commit()
    alice = cast.balance(cast.alice)
    assert (alice.ledger_minor, alice.held_minor) == (90_000, 20_000)
    with ledger.unit_of_work() as uow:
        uow.post_hold(hold.id, to=[(cast.bob, 20_000)])
        assert uow.get_hold(hold.id).status == "posted"
        uow.commit()
    assert cast.balance(cast.alice).held_minor == 0 and cast.balance(cast.bob).ledger_minor == 30_000
    ledger.verify()


def test_void_releases_everything(ledger, cast):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        voided = uow.void_hold(hold.id)
        uow.commit()
    assert voided.status == "voided"
    alice = cast.balance(cast.alice)
    assert (alice.ledger_minor, alice.held_minor) == (100_000, 0)
    ledger.verify()


def test_partial_void(ledger, cast):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        after = uow.void_hold(hold.id, amount_minor=10_000)
        uow.commit()
    assert after.status == "pending" and after.remaining_minor == 20_000
    assert cast.balance(cast.alice).held_minor == 20_000
    ledger.verify()


def test_post_over_remaining_refused(ledger, cast, snapshot, counts):
    hold = _hold(ledger, cast.alice, 30_000)
    before, rows = snapshot(ledger), counts(ledger)
    with pytest.raises(errors.HoldExceeded) as info:
        with ledger.unit_of_work() as uow:
            uow.post_hold(hold.id, to=[(cast.bob, 30_001)], amount_minor=30_001)
            uow.commit()
    assert info.value.code == "hold_exceeded"
    with pytest.raises(errors.UnbalancedTransfer):
        with ledger.unit_of_work() as uow:
            uow.post_hold(hold.id, to=[(cast.bob, 9_000)], amount_minor=10_000)
            uow.commit()
    assert snapshot(ledger) == before and counts(ledger) == rows
    with ledger.unit_of_work() as uow:
        assert uow.get_hold(hold.id).status == "pending"
    ledger.verify()


@pytest.mark.parametrize("resolve", ["post", "void"])
def test_post_or_void_of_resolved_hold_refused(ledger, cast, snapshot, resolve):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        if resolve == "post":
            uow.post_hold(hold.id, to=[(cast.bob, 30_000)])
        else:
            uow.void_hold(hold.id)
        uow.commit()
    before = snapshot(ledger)
    for action in (lambda uow: uow.post_hold(hold.id, to=[(cast.bob, 1)], amount_minor=1),
                   lambda uow: uow.void_hold(hold.id)):
        with pytest.raises(errors.HoldNotPending) as info:
            with ledger.unit_of_work() as uow:
                action(uow)
                uow.commit()
        assert info.value.code == "hold_not_pending"
        assert ("posted" if resolve == "post" else "voided") in str(info.value)
    assert snapshot(ledger) == before
    ledger.verify()


def test_unknown_hold(ledger, cast):
    with ledger.unit_of_work() as uow:
        with pytest.raises(errors.HoldNotFound) as info:
            uow.post_hold(424_242, to=[(cast.bob, 1)])
        assert info.value.code == "hold_not_found"
        with pytest.raises(errors.HoldNotFound):
            uow.void_hold(424_242)


def test_hold_expires_by_the_clock(ledger, cast, clock, snapshot):
    hold = _hold(ledger, cast.alice, 30_000, expires_at=clock.now() + timedelta(days=7))
    clock.advance(timedelta(days=6, hours=23))
    assert ledger.transaction(lambda uow: uow.expire_holds()) == 0
    assert cast.balance(cast.alice).held_minor == 30_000
    clock.advance(timedelta(hours=1))
    # Past expiry, a post is refused even before the sweep runs.
    before = snapshot(ledger)
    with pytest.raises(errors.HoldExpired) as info:
        ledger.transaction(lambda uow: uow.post_hold(hold.id, to=[(cast.bob, 30_000)]))
    assert info.value.code == "hold_expired"
    assert snapshot(ledger) == before
    assert ledger.transaction(lambda uow: uow.expire_holds()) == 1
    with ledger.unit_of_work() as uow:
        assert uow.get_hold(hold.id).status == "expired"
    alice = cast.balance(cast.alice)
    assert (alice.ledger_minor, alice.held_minor, alice.available_minor) == (100_000, 0, 100_000)
    assert ledger.transaction(lambda uow: uow.expire_holds()) == 0
    with pytest.raises(errors.HoldNotPending):
        ledger.transaction(lambda uow: uow.void_hold(hold.id))
    ledger.verify()


def test_expired_hold_no_longer_blocks_a_new_hold(ledger, cast, clock):
    _hold(ledger, cast.alice, 100_000, expires_at=clock.now() + timedelta(hours=1))
    with pytest.raises(errors.InsufficientFunds):
        _hold(ledger, cast.alice, 50_000)
    clock.advance(timedelta(hours=1))
    # No explicit sweep: placing the hold sweeps this account's expired holds itself.
    hold = _hold(ledger, cast.alice, 50_000)
    assert hold.status == "pending"
    assert cast.balance(cast.alice).held_minor == 50_000
    ledger.verify()


def test_expired_hold_no_longer_blocks_a_transfer(ledger, cast, clock):
    _hold(ledger, cast.alice, 100_000, expires_at=clock.now() + timedelta(hours=1))
    clock.advance(timedelta(hours=2))
    ledger.transaction(lambda uow: uow.transfer(move(cast.alice, cast.bob, 50_000)))
    ledger.verify()


def test_balance_as_of_before_and_after_a_hold(ledger, cast, clock):
    t0 = clock.now()
    clock.advance(timedelta(minutes=1))
    hold = _hold(ledger, cast.alice, 30_000, expires_at=clock.now() + timedelta(hours=1))
    t1 = clock.now()
    with ledger.unit_of_work(read_only=True) as uow:
        assert uow.balance(cast.alice, as_of=t0).held_minor == 0
        then = uow.balance(cast.alice, as_of=t1)
        assert (then.ledger_minor, then.held_minor, then.available_minor) == (100_000, 30_000, 70_000)
    clock.advance(timedelta(minutes=1))
    ledger.transaction(lambda uow: uow.post_hold(hold.id, to=[(cast.bob, 10_000)], amount_minor=10_000))
    t2 = clock.now()
    with ledger.unit_of_work(read_only=True) as uow:
        now = uow.balance(cast.alice, as_of=t2)
        assert (now.ledger_minor, now.held_minor) == (90_000, 0)
        assert uow.balance(cast.alice, as_of=t1 + timedelta(hours=2)).held_minor == 0
    ledger.verify()


def test_balance_as_of_is_not_rewritten_by_a_later_post(ledger, cast, clock):
    clock.advance(timedelta(minutes=1))
    hold = _hold(ledger, cast.alice, 30_000, expires_at=clock.now() + timedelta(hours=1))
    t1 = clock.now()
    clock.advance(timedelta(minutes=1))
    ledger.transaction(lambda uow: uow.post_hold(hold.id, to=[(cast.bob, 10_000)], amount_minor=10_000))
    with ledger.unit_of_work(read_only=True) as uow:
        then = uow.balance(cast.alice, as_of=t1)
    assert (then.ledger_minor, then.held_minor, then.available_minor) == (100_000, 30_000, 70_000)
    ledger.verify()


def test_idempotent_hold_key(ledger, cast, snapshot):
    first = _hold(ledger, cast.alice, 30_000, key="auth-1")
    before = snapshot(ledger)
    again = _hold(ledger, cast.alice, 30_000, key="auth-1")
    assert again.replayed and again.id == first.id
    assert snapshot(ledger) == before
    with pytest.raises(errors.IdempotencyConflict) as info:
        _hold(ledger, cast.alice, 31_000, key="auth-1")
    assert info.value.code == "idempotency_conflict"
    assert snapshot(ledger) == before
    assert cast.balance(cast.alice).held_minor == 30_000
    ledger.verify()


def test_idempotent_post_key(ledger, cast, snapshot):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        first = uow.post_hold(hold.id, to=[(cast.bob, 10_000)], amount_minor=10_000, key="clear-1", final=False)
        uow.commit()
    before = snapshot(ledger)
    with ledger.unit_of_work() as uow:
        again = uow.post_hold(hold.id, to=[(cast.bob, 10_000)], amount_minor=10_000, key="clear-1", final=False)
        uow.commit()
    assert again.replayed and again.id == first.id
    assert snapshot(ledger) == before
    with pytest.raises(errors.IdempotencyConflict):
        ledger.transaction(lambda uow: uow.post_hold(hold.id, to=[(cast.bob, 5_000)], amount_minor=5_000,
                                                     key="clear-1"))
    # the same key, hold and amount paying someone else is a different request too, not a replay
    with pytest.raises(errors.IdempotencyConflict):
        ledger.transaction(lambda uow: uow.post_hold(hold.id, to=[(cast.alice, 10_000)], amount_minor=10_000,
                                                     key="clear-1", final=False))
    assert snapshot(ledger) == before
    assert cast.balance(cast.bob).ledger_minor == 10_000
    ledger.verify()


def test_a_refused_non_final_post_leaves_the_hold_as_it_was(ledger, cast, snapshot, counts):
    """A post that keeps part of the hold updates the hold in its first statement (a guarded UPDATE …
    RETURNING); when its transfer then refuses, the hold is put back and the unit of work goes on."""
    hold = _hold(ledger, cast.alice, 30_000)
    before, rows = snapshot(ledger), counts(ledger)
    with ledger.unit_of_work() as uow:
        with pytest.raises(errors.InsufficientFunds):   # carol has nothing to pay the other leg with
            uow.post_hold(hold.id, to=[(cast.bob, 10_000)], amount_minor=10_000, final=False,
                          also=[(cast.carol, -5_000), (cast.fees, 5_000)])
        again = uow.get_hold(hold.id)
        assert (again.status, again.remaining_minor, again.posted_minor) == ("pending", 30_000, 0)
        uow.commit()
    assert snapshot(ledger) == before and counts(ledger) == rows
    with ledger.unit_of_work() as uow:
        uow.post_hold(hold.id, to=[(cast.bob, 10_000)], amount_minor=10_000, final=False)
        after = uow.get_hold(hold.id)
        uow.commit()
    assert (after.status, after.remaining_minor, after.posted_minor) == ("pending", 20_000, 10_000)
    assert cast.balance(cast.alice).held_minor == 20_000
    ledger.verify()


def test_non_final_posts_that_use_up_overrun_or_come_late_as_before(ledger, cast, clock):
    hold = _hold(ledger, cast.alice, 30_000)
    with ledger.unit_of_work() as uow:
        with pytest.raises(errors.HoldExceeded):
            uow.post_hold(hold.id, to=[(cast.bob, 30_001)], amount_minor=30_001, final=False)
        uow.post_hold(hold.id, to=[(cast.bob, 30_000)], amount_minor=30_000, final=False)
        used = uow.get_hold(hold.id)
        uow.commit()
    assert (used.status, used.remaining_minor, used.posted_minor) == ("posted", 0, 30_000)
    with ledger.unit_of_work() as uow, pytest.raises(errors.HoldNotPending):
        uow.post_hold(hold.id, to=[(cast.bob, 1)], amount_minor=1, final=False)
    late = _hold(ledger, cast.alice, 10_000, expires_at=clock.now() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=5))
    with ledger.unit_of_work() as uow, pytest.raises(errors.HoldExpired):
        uow.post_hold(late.id, to=[(cast.bob, 1_000)], amount_minor=1_000, final=False)
    ledger.verify()


def test_hold_events_together_write_one_statement_or_none(ledger, cast, counts):
    from sqlalchemy import select

    from ledger import tables as t

    def events():
        with ledger.unit_of_work(read_only=True) as uow:
            return uow.conn.execute(select(t.hold_events.c.kind, t.hold_events.c.delta_minor)
                                    .order_by(t.hold_events.c.id)).all()

    first = _hold(ledger, cast.alice, 10_000)
    with ledger.unit_of_work() as uow:
        with pytest.raises(RuntimeError), uow.savepoint(), uow.hold_events_together():
            uow.hold(cast.alice, 1_000)
            raise RuntimeError("undone")   # its event dropped, and the savepoint undoes the hold
        with pytest.raises(errors.InsufficientFunds), uow.hold_events_together():
            uow.post_hold(first.id, to=[(cast.bob, 1_000)], amount_minor=1_000, final=False)
            uow.hold(cast.alice, 10**9)    # a refusal: what went before stays, with its event
        with uow.hold_events_together():
            pass
        start = uow.statements
        with uow.hold_events_together():
            uow.post_hold(first.id, to=[(cast.bob, 4_000)], amount_minor=4_000, final=False)
            uow.hold(cast.alice, 2_000)
            before_end = uow.statements
        assert uow.statements == before_end + 1 and uow.statements - start > 1
        uow.commit()
    assert [tuple(e) for e in events()] == [("placed", 10_000), ("posted", -1_000), ("posted", -4_000),
                                            ("placed", 2_000)]
    assert cast.balance(cast.alice).held_minor == 7_000
    assert counts(ledger)[2] == 2
    ledger.verify()
