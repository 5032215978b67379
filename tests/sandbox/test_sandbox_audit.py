"""Audit log: appends chain; edits, deletions and reorderings are detected and named (SQLite and PostgreSQL)."""
from sqlalchemy import text

from sandbox import audit


def fill(ledger, n=5):
    for i in range(n):
        with ledger.unit_of_work() as uow:
            audit.append(uow, "operator", "licence.suspend" if i == 2 else "customer.onboard", f"subject-{i + 1}",
                         {"i": i, "amount_minor": 1000 * i})
            uow.commit()


def report(ledger):
    with ledger.db.engine.connect() as conn:
        return audit.verify(conn)


def test_intact_chain_verifies(ledger):
    fill(ledger)
    r = report(ledger)
    assert r.ok and r.entries == 5 and "intact" in str(r)


def test_rolled_back_append_leaves_no_entry(ledger):
    with ledger.unit_of_work() as uow:
        audit.append(uow, "op", "x", "y", {})   # no commit
    assert report(ledger).entries == 0


def test_edited_entry_is_named(ledger):
    fill(ledger)
    with ledger.db.engine.begin() as conn:
        conn.execute(text("UPDATE sandbox_audit_log SET details = :d WHERE seq = 3"), {"d": '{"amount_minor":1,"i":2}'})
    r = report(ledger)
    assert not r.ok and r.first_bad_seq == 3 and "entry 3 (licence.suspend subject-3) was edited" in str(r)


def test_deleted_entry_is_named(ledger):
    fill(ledger)
    with ledger.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM sandbox_audit_log WHERE seq = 2"))
    r = report(ledger)
    assert not r.ok and r.first_bad_seq == 2 and "entry 2 is missing (deleted)" in str(r)


def test_deleted_newest_entry_is_detected(ledger):
    fill(ledger)
    with ledger.db.engine.begin() as conn:
        conn.execute(text("DELETE FROM sandbox_audit_log WHERE seq = 5"))
    r = report(ledger)
    assert not r.ok and "newest entries were deleted" in str(r)


def test_reordered_entries_are_detected(ledger):
    fill(ledger)
    with ledger.db.engine.begin() as conn:   # swap the content of entries 2 and 4 (keeping their seq)
        conn.execute(text("UPDATE sandbox_audit_log SET seq = 99 WHERE seq = 2"))
        conn.execute(text("UPDATE sandbox_audit_log SET seq = 2 WHERE seq = 4"))
        conn.execute(text("UPDATE sandbox_audit_log SET seq = 4 WHERE seq = 99"))
    r = report(ledger)
    assert not r.ok and r.first_bad_seq == 2


def test_entries_chained_at_commit_verify_even_from_racing_writers(ledger):
    """An entry queued for the COMMIT (a purchase's) is numbered and hashed there — on PostgreSQL by the
    database itself, under the head's lock held for the commit alone — and chains exactly like one written
    at once: in one unit of work after and before others, with non-ASCII text and over-long fields (stored
    cut, and hashed as stored), and from eight threads at once."""
    from racing import race

    fill(ledger, 2)
    long_subject = "покупка · " + "x" * 300
    with ledger.unit_of_work() as uow:
        audit.append(uow, "оператор", "card.approved", long_subject, {"сумма": "1 000,00 ₸", "n": 1.5},
                     at_commit=True)
        audit.append(uow, "operator", "card.freeze", "7", {"after": "the queued one"})
        uow.commit()

    def purchase(i):
        with ledger.unit_of_work() as uow:
            audit.append(uow, f"cust:{i}", "card.approved", f"ref-{i}", {"i": i}, at_commit=True)
            uow.commit()

    assert race(8, purchase) == [None] * 8
    with ledger.unit_of_work() as uow:   # rolled back: neither entry, nor a gap in the seqs
        audit.append(uow, "op", "card.approved", "gone", {}, at_commit=True)
    r = report(ledger)
    assert r.ok and r.entries == 12, str(r)
    with ledger.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, actor, subject FROM sandbox_audit_log ORDER BY seq")).all()
    assert [row.seq for row in rows] == list(range(1, 13))
    assert rows[2].actor == "оператор" and rows[2].subject == long_subject[:200]
    assert rows[3].subject == "7" and sorted(row.subject for row in rows[4:]) == sorted(f"ref-{i}" for i in range(8))
