"""A Hypothesis state machine drives the ledger (SQLite) against a plain-Python model of balances.

Random transfers (some overdrawing), holds, partial and final posts, voids, clock advances and
expiry sweeps, and idempotency keys retried with the same and with a different body. After
every step verify() must pass and every balance must equal the model's.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ledger import Database, Ledger, ManualClock, errors, move

CUSTOMERS = ("cust:a", "cust:b", "cust:c")


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # RAM-backed when available: the machine checks behaviour, not fsync speed.
        self.tmp = tempfile.mkdtemp(prefix="ledger-stateful-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        db = Database(f"sqlite:///{self.tmp}/s.db")
        db.migrate(["ledger"])
        self.clock = ManualClock(datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc))
        self.ledger = Ledger(db, self.clock)
        with self.ledger.unit_of_work() as uow:
            self.world = uow.open_account("world", "KZT", "external").id
            self.fees = uow.open_account("bank", "KZT", "fees").id
            self.customers = [uow.open_account(c, "KZT", "customer").id for c in CUSTOMERS]
            uow.commit()
        self.balance = {a: 0 for a in [self.world, self.fees, *self.customers]}
        self.held = {a: 0 for a in self.balance}
        self.holds: dict[int, dict] = {}     # id -> account, remaining, expires_at, status
        self.transfer_keys: dict[str, tuple] = {}
        self.hold_keys: dict[str, tuple] = {}
        self.counter = 0

    def teardown(self):
        self.ledger.db.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------
    def available(self, account_id):
        return self.balance[account_id] - self.held[account_id]

    def new_key(self, prefix):
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def run(self, fn):
        with self.ledger.unit_of_work() as uow:
            result = fn(uow)
            uow.commit()
            return result

    def refused(self, fn, error_type):
        try:
            self.run(fn)
        except error_type as error:
            return error
        raise AssertionError(f"expected {error_type.__name__}")

    def sweep_model(self, account_id=None):
        now = self.clock.now()
        for hold in self.holds.values():
            if (hold["status"] == "pending" and hold["expires_at"] is not None and hold["expires_at"] <= now
                    and account_id in (None, hold["account"])):
                self.held[hold["account"]] -= hold["remaining"]
                hold["remaining"], hold["status"] = 0, "expired"

    def sweep_if_it_helps(self, account_id, needed):
        """A transfer or hold that would overdraw first sweeps the account's expired holds; a refusal
        rolls that sweep back with everything else, so the model sweeps only when the request then fits."""
        now = self.clock.now()
        expired_held = sum(h["remaining"] for h in self.holds.values() if h["account"] == account_id
                           and h["status"] == "pending" and h["expires_at"] is not None and h["expires_at"] <= now)
        if self.available(account_id) < needed <= self.available(account_id) + expired_held:
            self.sweep_model(account_id)

    def usable(self, hold):
        return hold["status"] == "pending" and (hold["expires_at"] is None or hold["expires_at"] > self.clock.now())

    # -- rules --------------------------------------------------------------------------
    @rule(who=st.integers(0, 2), amount=st.integers(1, 50_000))
    def fund(self, who, amount):
        dst = self.customers[who]
        self.run(lambda uow: uow.transfer(move(self.world, dst, amount), memo="salary"))
        self.balance[self.world] -= amount
        self.balance[dst] += amount

    @rule(src=st.integers(0, 2), dst=st.integers(0, 3), amount=st.integers(1, 60_000), fee=st.integers(0, 500),
          keyed=st.booleans())
    def transfer(self, src, dst, amount, fee, keyed):
        src_id = self.customers[src]
        dst_id = (self.customers + [self.fees])[dst]
        if dst_id == src_id:
            dst_id = self.fees
        postings = [(src_id, -(amount + fee)), (dst_id, amount)] + ([(self.world, fee)] if fee else [])
        key = self.new_key("t") if keyed else None
        self.sweep_if_it_helps(src_id, amount + fee)
        if self.available(src_id) >= amount + fee:
            result = self.run(lambda uow: uow.transfer(postings, key=key))
            assert not result.replayed
            for account, delta in postings:
                self.balance[account] += delta
            if key:
                self.transfer_keys[key] = (postings, result.id)
        else:
            error = self.refused(lambda uow: uow.transfer(postings, key=key), errors.InsufficientFunds)
            assert error.code == "insufficient_funds"

    @precondition(lambda self: self.transfer_keys)
    @rule(data=st.data(), same=st.booleans())
    def retry_transfer_key(self, data, same):
        key = data.draw(st.sampled_from(sorted(self.transfer_keys)))
        postings, transfer_id = self.transfer_keys[key]
        if same:
            result = self.run(lambda uow: uow.transfer(postings, key=key))
            assert result.replayed and result.id == transfer_id
        else:
            changed = [(postings[0][0], postings[0][1] - 1), (postings[1][0], postings[1][1] + 1)] + postings[2:]
            error = self.refused(lambda uow: uow.transfer(changed, key=key), errors.IdempotencyConflict)
            assert error.code == "idempotency_conflict"

    @rule(who=st.integers(0, 2), amount=st.integers(1, 40_000), ttl_min=st.one_of(st.none(), st.integers(1, 120)),
          keyed=st.booleans())
    def hold(self, who, amount, ttl_min, keyed):
        account = self.customers[who]
        expires_at = None if ttl_min is None else self.clock.now() + timedelta(minutes=ttl_min)
        key = self.new_key("h") if keyed else None
        self.sweep_if_it_helps(account, amount)
        if self.available(account) >= amount:
            hold = self.run(lambda uow: uow.hold(account, amount, expires_at=expires_at, key=key))
            self.holds[hold.id] = {"account": account, "remaining": amount, "expires_at": expires_at,
                                   "status": "pending"}
            self.held[account] += amount
            if key:
                self.hold_keys[key] = (account, amount, expires_at, hold.id)
        else:
            self.refused(lambda uow: uow.hold(account, amount, expires_at=expires_at, key=key),
                         errors.InsufficientFunds)

    @precondition(lambda self: self.hold_keys)
    @rule(data=st.data(), same=st.booleans())
    def retry_hold_key(self, data, same):
        key = data.draw(st.sampled_from(sorted(self.hold_keys)))
        account, amount, expires_at, hold_id = self.hold_keys[key]
        if same:
            hold = self.run(lambda uow: uow.hold(account, amount, expires_at=expires_at, key=key))
            assert hold.replayed and hold.id == hold_id
        else:
            self.refused(lambda uow: uow.hold(account, amount + 1, expires_at=expires_at, key=key),
                         errors.IdempotencyConflict)

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), share=st.integers(1, 120), final=st.booleans(), to_fee=st.booleans())
    def post(self, data, share, final, to_fee):
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        hold = self.holds[hold_id]
        dst = self.fees if to_fee else self.world
        if not self.usable(hold):
            expected = errors.HoldNotPending if hold["status"] != "pending" else errors.HoldExpired
            self.refused(lambda uow: uow.post_hold(hold_id, to=[(dst, 1)], amount_minor=1), expected)
            return
        amount = max(1, hold["remaining"] * share // 100)
        if amount > hold["remaining"]:
            error = self.refused(lambda uow: uow.post_hold(hold_id, to=[(dst, amount)], amount_minor=amount),
                                 errors.HoldExceeded)
            assert error.code == "hold_exceeded"
            return
        self.run(lambda uow: uow.post_hold(hold_id, to=[(dst, amount)], amount_minor=amount, final=final))
        release = hold["remaining"] if final else amount
        self.balance[hold["account"]] -= amount
        self.balance[dst] += amount
        self.held[hold["account"]] -= release
        hold["remaining"] -= release
        if hold["remaining"] == 0:
            hold["status"] = "posted"

    @precondition(lambda self: self.holds)
    @rule(data=st.data())
    def void(self, data):
        hold_id = data.draw(st.sampled_from(sorted(self.holds)))
        hold = self.holds[hold_id]
        if hold["status"] != "pending":
            self.refused(lambda uow: uow.void_hold(hold_id), errors.HoldNotPending)
            return
        voided = self.run(lambda uow: uow.void_hold(hold_id))
        assert voided.status == "voided"
        self.held[hold["account"]] -= hold["remaining"]
        hold["remaining"], hold["status"] = 0, "voided"

    @rule(minutes=st.integers(0, 90))
    def advance_clock(self, minutes):
        self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def expire(self):
        expected = sum(1 for h in self.holds.values() if h["status"] == "pending" and h["expires_at"] is not None
                       and h["expires_at"] <= self.clock.now())
        assert self.run(lambda uow: uow.expire_holds()) == expected
        self.sweep_model()

    # -- after every step ---------------------------------------------------------------
    @invariant()
    def ledger_matches_model_and_verifies(self):
        self.ledger.verify()
        with self.ledger.unit_of_work(read_only=True) as uow:
            for account in self.balance:
                bal = uow.balance(account)
                assert (bal.ledger_minor, bal.held_minor) == (self.balance[account], self.held[account]), account
                if account != self.world:
                    assert bal.available_minor >= 0
            for hold_id, hold in self.holds.items():
                stored = uow.get_hold(hold_id)
                assert (stored.status, stored.remaining_minor) == (hold["status"], hold["remaining"])
        assert sum(self.balance.values()) == 0


LedgerMachine.TestCase.settings = settings(max_examples=20, stateful_step_count=25, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestLedgerStateMachine = LedgerMachine.TestCase
