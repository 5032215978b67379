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
