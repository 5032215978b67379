"""Ids reserved ahead (``ledger.ids``, ``UnitOfWork.reserve_ids``): on PostgreSQL a key-less transfer or hold
whose id was reserved goes out with a later statement instead of waiting for its ``INSERT … RETURNING id``;
on SQLite nothing is reserved and nothing changes. Either way the rows, balances and refusals are the ones
the ledger always wrote."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from ledger import Posting, errors, move
from ledger import tables as t
from ledger.db import count_round_trips


def _is_pg(ledger) -> bool:
    return not ledger.db.is_sqlite


def test_reserved_ids_are_the_ids_the_rows_get(ledger, cast):
    with ledger.unit_of_work() as uow:
        ids = uow.reserve_ids(transfers=2, holds=1)
        first = uow.transfer(move(cast.alice, cast.bob, 1_000), memo="one")
        second = uow.transfer(move(cast.bob, cast.carol, 400), memo="two")
        third = uow.transfer(move(cast.alice, cast.carol, 100), memo="three")   # none left: RETURNING
        hold = uow.hold(cast.alice, 2_000, memo="reserved hold")
        uow.commit()
    if _is_pg(ledger):
        reserved = ids()
        assert [first.id, second.id] == reserved["ledger_transfers_id_seq"]
        assert [hold.id] == reserved["ledger_holds_id_seq"]
        assert third.id > second.id
    else:
        assert ids is None   # SQLite: nothing to save, every id from its INSERT
    with ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(select(t.transfers.c.id, t.transfers.c.memo).order_by(t.transfers.c.id)).all()
        assert [(first.id, "one"), (second.id, "two"), (third.id, "three")] == [r for r in rows if r[0] >= first.id]
        entries = uow.conn.execute(select(t.entries.c.account_id, t.entries.c.amount_minor)
                                   .where(t.entries.c.transfer_id == second.id).order_by(t.entries.c.id)).all()
        assert [tuple(e) for e in entries] == [(cast.bob, -400), (cast.carol, 400)]
        assert uow.get_hold(hold.id).remaining_minor == 2_000
    assert cast.balance(cast.alice).available_minor == 100_000 - 1_000 - 100 - 2_000
    assert cast.balance(cast.carol).ledger_minor == 500
    ledger.verify()


def test_a_refused_transfer_with_a_reserved_id_writes_nothing(ledger, cast, snapshot, counts):
    before, rows_before = snapshot(ledger), counts(ledger)
    with ledger.unit_of_work() as uow:
        uow.reserve_ids(transfers=1)
        with pytest.raises(errors.InsufficientFunds) as info:
            uow.transfer([Posting(cast.bob, -5), Posting(cast.alice, 5)])   # bob has nothing
        assert info.value.code == "insufficient_funds"
        uow.commit()   # the caller goes on and commits: the refusal left nothing behind
    assert snapshot(ledger) == before and counts(ledger) == rows_before
    ledger.verify()


def test_a_savepoint_rolled_back_gives_its_reserved_id_back(ledger, cast):
    with ledger.unit_of_work() as uow:
        ids = uow.reserve_ids(transfers=1)
        with pytest.raises(RuntimeError):
            with uow.savepoint():
                uow.transfer(move(cast.alice, cast.bob, 300), memo="rolled back")
                raise RuntimeError("undo")
        kept = uow.transfer(move(cast.alice, cast.bob, 200), memo="kept")
        uow.commit()
    if ids is not None:
        assert kept.id == ids()["ledger_transfers_id_seq"][0]   # the rolled-back row's id, free again
    assert cast.balance(cast.bob).ledger_minor == 200
    ledger.verify()


def test_a_reserved_transfer_costs_no_round_trip_of_its_own(ledger, cast):
    def trips(reserve: bool) -> int:
        with count_round_trips() as meter:
            with ledger.unit_of_work() as uow:
                if reserve:
                    uow.reserve_ids(transfers=1)
                uow.transfer(move(cast.alice, cast.bob, 10), memo="counted")
                uow.commit()
        return meter[0]
    plain, reserved = trips(False), trips(True)
    if _is_pg(ledger):
        # BEGIN with the claim's INSERT … RETURNING id, the accounts' locks, the entries with the COMMIT:
        # with the id reserved (sent with the locks) the INSERT goes out with the entries.
        assert (plain, reserved) == (3, 2)
    else:
        assert reserved == plain
    assert cast.balance(cast.bob).ledger_minor == 20
    ledger.verify()


def test_a_second_reservation_adds_to_what_the_first_left(ledger, cast):
    with ledger.unit_of_work() as uow:
        first = uow.reserve_ids(transfers=2)
        one = uow.transfer(move(cast.alice, cast.bob, 1), memo="1")
        second = uow.reserve_ids(transfers=1)
        two = uow.transfer(move(cast.alice, cast.bob, 2), memo="2")
        three = uow.transfer(move(cast.alice, cast.bob, 3), memo="3")
        four = uow.transfer(move(cast.alice, cast.bob, 4), memo="4")   # none left: RETURNING
        uow.commit()
    ids = [one.id, two.id, three.id, four.id]
    if first is not None:
        left, added = first()["ledger_transfers_id_seq"], second()["ledger_transfers_id_seq"]
        assert ids[:3] == [left[0], left[1], added[0]]   # what the first left, then the second's
    assert len(set(ids)) == 4
    assert cast.balance(cast.bob).ledger_minor == 10
    ledger.verify()
