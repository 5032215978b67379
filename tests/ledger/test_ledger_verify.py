"""verify(): passes on an honest ledger, and names what was broken when someone tampers with the tables."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from ledger import Posting, errors, move


@pytest.fixture
def busy(ledger, cast):
    """A ledger with transfers, a posted hold and a pending hold."""
    with ledger.unit_of_work() as uow:
        transfer = uow.transfer(move(cast.alice, cast.bob, 20_000), memo="rent")
        uow.transfer([Posting(cast.bob, -5_000), Posting(cast.carol, 4_900), Posting(cast.fees, 100)])
        hold = uow.hold(cast.alice, 10_000)
        uow.post_hold(hold.id, to=[(cast.carol, 6_000)], amount_minor=6_000)
        uow.hold(cast.alice, 3_000)
        uow.commit()
    cast.transfer_id = transfer.id
    return cast


def _tamper(ledger, sql, **params):
    with ledger.db.engine.begin() as conn:
        conn.execute(text(sql), params)


def _violation(ledger) -> errors.InvariantViolation:
    with pytest.raises(errors.InvariantViolation) as info:
        ledger.verify()
    assert isinstance(info.value, errors.LedgerError)
    return info.value


def test_verify_passes_and_reports_what_it_checked(ledger, busy):
    report = ledger.verify()
    assert report.accounts == 7 and report.transfers == 4 and report.entries == 9
    assert report.assets["KZT"] == 0
    assert len(report.checks) >= 6
    assert "invariants hold" in report.summary()


def test_verify_on_an_empty_ledger(ledger):
    assert ledger.verify().accounts == 0


def test_changed_balance_is_reported(ledger, busy):
    _tamper(ledger, "UPDATE ledger_accounts SET balance_minor = balance_minor + 1 WHERE id = :id", id=busy.bob)
    err = _violation(ledger)
    assert err.code == "asset_not_zero_sum"
    assert "KZT" in str(err) and "0.01 KZT" in str(err)


def test_balance_moved_without_entries_is_reported_by_account(ledger, busy):
    # Zero-sum tampering keeps every asset at zero; the entries still tell the truth.
    _tamper(ledger, "UPDATE ledger_accounts SET balance_minor = balance_minor - 700 WHERE id = :id", id=busy.alice)
    _tamper(ledger, "UPDATE ledger_accounts SET balance_minor = balance_minor + 700 WHERE id = :id", id=busy.bob)
    err = _violation(ledger)
    assert err.code == "balance_mismatch"
    assert "cust:alice" in str(err) or "cust:bob" in str(err)


def test_deleted_entry_is_reported_by_transfer(ledger, busy):
    _tamper(ledger, "DELETE FROM ledger_entries WHERE transfer_id = :t AND account_id = :a",
            t=busy.transfer_id, a=busy.bob)
    err = _violation(ledger)
    assert err.code == "transfer_unbalanced"
    assert f"transfer {busy.transfer_id}" in str(err)


def test_inserted_unbalanced_entry_is_reported_by_transfer(ledger, busy):
    _tamper(ledger, "INSERT INTO ledger_entries (transfer_id, account_id, asset, amount_minor, created_at) "
                    "VALUES (:t, :a, 'KZT', 12345, 0)", t=busy.transfer_id, a=busy.carol)
    err = _violation(ledger)
    assert err.code == "transfer_unbalanced"
    assert f"transfer {busy.transfer_id}" in str(err) and "123.45 KZT" in str(err)


def test_changed_held_amount_is_reported_by_account(ledger, busy):
    _tamper(ledger, "UPDATE ledger_accounts SET held_minor = 0 WHERE id = :id", id=busy.alice)
    err = _violation(ledger)
    assert err.code == "held_mismatch"
    assert "cust:alice" in str(err) and "30.00 KZT" in str(err)


def test_voided_hold_that_kept_its_reservation_is_reported(ledger, busy):
    _tamper(ledger, "UPDATE ledger_holds SET status = 'voided' WHERE status = 'pending'")
    err = _violation(ledger)
    assert err.code == "held_mismatch" and "cust:alice" in str(err)


def test_entry_in_the_wrong_asset_is_reported(ledger, busy):
    _tamper(ledger, "UPDATE ledger_entries SET asset = 'BTC' WHERE transfer_id = :t", t=busy.transfer_id)
    err = _violation(ledger)
    assert err.code == "entry_asset_mismatch"
    assert "cust:" in str(err)


def test_extra_check_is_run_and_reported(ledger, busy):
    seen = []

    def supply_matches(conn):
        seen.append(conn)
        total = conn.execute(text("SELECT balance_minor FROM ledger_accounts WHERE id = :id"),
                             {"id": busy.carol}).scalar_one()
        return None if total == 10_900 else f"carol holds {total}, the chain says 10900"

    ledger.add_check("KZTE supply matches the chain", supply_matches)
    report = ledger.verify()
    assert "KZTE supply matches the chain" in report.checks and seen
    ledger.transaction(lambda uow: uow.transfer(move(busy.alice, busy.carol, 1)))
    err = _violation(ledger)
    assert err.code == "check_failed"
    assert "KZTE supply matches the chain" in str(err) and "carol holds 10901" in str(err)
