"""Two processes (two cities on two engines) over one database write ONE event log: ids unique, gap-free
and in commit order, so a reader paging by the last id it saw — while writers in both processes race —
never skips an event that commits after it (PostgreSQL when CRYPTOCITY_TEST_DATABASE_URL is set)."""
from __future__ import annotations

import threading
import time

from sandbox.city import CryptoCity

WRITERS_PER_CITY = 3
DEPOSITS_PER_WRITER = 15


def test_writers_in_two_processes_make_one_ordered_log_that_a_paging_reader_sees_whole(db_url):
    a = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    b = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    try:
        a.onboard(actor="aigerim", kyc_tier="full")
        b.onboard(actor="bob", kyc_tier="full")
        done = threading.Event()
        seen: list[str] = []
        failures: list[BaseException] = []

        def write(city, actor):
            try:
                for n in range(DEPOSITS_PER_WRITER):
                    city.deposit(actor=actor, asset="KZT", amount_minor=100 + n)
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)

        def read():
            after = None
            while True:
                finished = done.is_set()          # read once more after the writers are done
                page = b.events(after=after)
                seen.extend(e["id"] for e in page)
                after = page[-1]["id"] if page else after
                if finished and not page:
                    return

        reader = threading.Thread(target=read)
        writers = [threading.Thread(target=write, args=(city, actor))
                   for city, actor in ((a, "aigerim"), (b, "bob")) for _ in range(WRITERS_PER_CITY)]
        reader.start()
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(timeout=300)
        done.set()
        reader.join(timeout=60)
        assert not failures, failures
        total = 2 * 2 + 2 * WRITERS_PER_CITY * DEPOSITS_PER_WRITER   # onboarding: customer.created, card.created
        numbers = [int(i.removeprefix("evt_")) for i in seen]
        assert numbers == list(range(1, len(numbers) + 1)), "the reader skipped or repeated an event"
        whole_a = _whole(a)
        assert [e["id"] for e in whole_a] == seen and whole_a == _whole(b)
        assert len(seen) == total, (len(seen), total)
        deposits = [e for e in whole_a if e["type"] == "deposit.confirmed"]
        assert len(deposits) == 2 * WRITERS_PER_CITY * DEPOSITS_PER_WRITER
        a.verify()
    finally:
        a.close()
        b.close()


def _whole(city) -> list[dict]:
    out, after = [], None
    while page := city.events(after=after):
        out += page
        after = page[-1]["id"]
    return out


def test_an_event_id_is_drawn_at_commit_so_a_later_writer_waits_and_never_overtakes(db_url):
    """Even with no other lock in common (no audit entry), a unit of work that drew event ids holds them
    until it commits: another one that wants ids waits, then draws the next ones. A reader never sees a
    later id while an earlier one is still uncommitted.

    On PostgreSQL the event INSERT goes out in the COMMIT's pipelined batch, so the first writer is held
    between the two by one more queued statement that waits on an advisory lock this test holds."""
    from sqlalchemy import text

    from sandbox import events
    a = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    b = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    pg = not a.ledger.db.is_sqlite
    gate = a.ledger.db.engine.connect() if pg else None
    try:
        start = events.parse_id(a.last_event_id())
        flushed, release = threading.Event(), threading.Event()
        order: list[str] = []
        if pg:
            gate.execute(text("SELECT pg_advisory_lock(424242)"))

        def hold(uow):
            if pg:   # queued after the event INSERT: the batch stops here, the head's row lock held
                uow.write_at_commit("SELECT pg_advisory_xact_lock(424242)", {})
            else:    # the INSERT is sent before the COMMIT: wait right there
                flushed.set()
                release.wait(30)

        def slow():
            with a.ledger.unit_of_work() as uow:
                events.emit(uow, "clock.advanced", {"object": "clock", "who": "slow"})
                uow.before_commit(lambda: hold(uow))   # registered after the event log's own hook
                uow.commit()
                order.append("slow")

        def fast():
            with b.ledger.unit_of_work() as uow:
                events.emit(uow, "clock.advanced", {"object": "clock", "who": "fast"})
                uow.commit()
                order.append("fast")

        first = threading.Thread(target=slow)
        first.start()
        if pg:
            waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND query LIKE '%pg_advisory_xact_lock(424242)%'")
            for _ in range(300):
                with b.ledger.db.engine.connect() as probe:
                    if probe.execute(waiting).scalar_one():
                        break
                time.sleep(0.05)
            else:
                raise AssertionError("the first writer never reached its COMMIT's batch")
        else:
            assert flushed.wait(30)
        second = threading.Thread(target=fast)
        second.start()
        second.join(timeout=0.5)
        assert second.is_alive() and order == []      # it waits for the first to commit
        assert b.events(after=events.format_id(start)) == []
        release.set()
        if pg:
            gate.execute(text("SELECT pg_advisory_unlock(424242)"))
        first.join(timeout=30)
        second.join(timeout=30)
        assert order == ["slow", "fast"]
        found = b.events(after=events.format_id(start))
        assert [(e["id"], e["data"]["who"]) for e in found] == [(events.format_id(start + 1), "slow"),
                                                               (events.format_id(start + 2), "fast")]
    finally:
        if gate is not None:
            gate.close()
        a.close()
        b.close()
