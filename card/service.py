"""CardService: the card issuer wired to a ledger, a Funder and Rules (what the sandbox composes)."""
from __future__ import annotations

import time
from datetime import UTC, tzinfo
from typing import Callable

from . import authorization as _auth
from . import clearing as _clearing
from . import expiry as _expiry
from . import force_post as _force_post
from . import refunds as _refunds
from . import issuing as _issuing
from . import kinds as _kinds
from . import statements as _statements
from .hold_duration import DEFAULT_EXTENDED_HOLD_DAYS, DEFAULT_HOLD_DAYS
from .policy import ClearingPolicy
from .ports import AllowAll, Funder, Rules

DEFAULT_DEADLINE_MS = 2_000  # Stripe Issuing's real-time window; Marqeta's JIT gateway allows 3 s


class CardService:
    """``monotonic`` is injected so tests can force the deadline; it measures elapsed time only
    (never a timestamp: timestamps come from the ledger's sandbox clock).

    ``timezone`` is the programme's calendar: the day and month a purchase counts in for the daily
    and monthly limits and counts, and the ``day`` of a statement line. Timestamps stay UTC."""

    def __init__(self, ledger, funder: Funder, rules: Rules | None = None, *, deadline_ms: int = DEFAULT_DEADLINE_MS,
                 hold_days: int = DEFAULT_HOLD_DAYS, extended_hold_days: int = DEFAULT_EXTENDED_HOLD_DAYS,
                 monotonic: Callable[[], float] = time.perf_counter,
                 timezone: tzinfo = UTC, permitted_kinds: frozenset[str] = _kinds.PILOT_KINDS,
                 policy: ClearingPolicy | None = None) -> None:
        self.ledger = ledger
        # what the programme lets a card do: purchases only (the pilot), or ATM withdrawals and P2P too
        self.permitted_kinds = frozenset(permitted_kinds)
        self.policy = policy or ClearingPolicy()
        self.timezone = timezone
        self.funder = funder
        self.rules = rules or AllowAll()
        self.deadline_ms = deadline_ms
        self.hold_days = hold_days
        self.extended_hold_days = extended_hold_days   # lodging and vehicle rental (card/hold_duration.py)
        self.monotonic = monotonic
        self._fee_ids: dict[str, int] = {}

    def fee_account(self, uow, owner: str) -> int:
        """The id of the KZT fee account ``fees:<owner>:KZT`` (opened on first use)."""
        cached = self._fee_ids.get(owner)
        if cached is not None:
            return cached
        code = f"fees:{owner}:KZT"
        acct = uow.find_account(code) or uow.open_account(owner, "KZT", "fees")
        # cache only once committed: an account opened in a unit of work that rolls back never existed
        uow.after_commit(lambda: self._fee_ids.setdefault(owner, acct.id))
        return acct.id

    # -- issuing ---------------------------------------------------------------------------
    def open_bank_account(self, customer_id: str):
        return self.ledger.transaction(lambda uow: _issuing.open_bank_account(uow, customer_id))

    def issue_card(self, cardholder_id: str, **options):
        return self.ledger.transaction(lambda uow: _issuing.issue_card(uow, cardholder_id, **options))

    def register_merchant(self, merchant_id: str, name: str, mcc: str, **options):
        return self.ledger.transaction(lambda uow: _issuing.register_merchant(uow, merchant_id, name, mcc, **options))

    def freeze(self, card_id: int):
        return self.ledger.transaction(lambda uow: _issuing.change_status(uow, card_id, "freeze"))

    def unfreeze(self, card_id: int):
        return self.ledger.transaction(lambda uow: _issuing.change_status(uow, card_id, "unfreeze"))

    def close(self, card_id: int):
        return self.ledger.transaction(lambda uow: _issuing.change_status(uow, card_id, "close"))

    def update_settings(self, card_id: int, **settings):
        return self.ledger.transaction(lambda uow: _issuing.update_settings(uow, card_id, **settings))

    def card(self, card_id: int):
        with self.ledger.unit_of_work(read_only=True) as uow:
            return _issuing.get_card(uow, card_id)

    # -- purchases -------------------------------------------------------------------------
    def authorize(self, *, amount_minor, merchant_id: str, idempotency_key: str, card_id: int | None = None,
                  pan: str | None = None, presented=None, kind: str | None = None) -> _auth.AuthorizationResult:
        """``card.authorization.authorize`` in a transaction of its own (approve fully or decline changing no
        balance). A composition that writes its own records with the purchase calls
        ``authorization.authorize(service, uow, …)`` inside its own unit of work instead."""
        return self.ledger.transaction(lambda uow: _auth.authorize(
            self, uow, amount_minor=amount_minor, merchant_id=merchant_id, idempotency_key=idempotency_key,
            card_id=card_id, pan=pan, presented=presented, kind=kind))

    def capture(self, authorization_id: int, amount_minor: int | None = None, *, key: str | None = None,
                final: bool = True):
        return self.ledger.transaction(lambda uow: _clearing.capture(self, uow, authorization_id, amount_minor,
                                                                      key=key, final=final))

    def expire_now(self, authorization_id: int, *, key: str | None = None):
        return self.ledger.transaction(lambda uow: _expiry.expire_now(self, uow, authorization_id, key=key))

    def force_post(self, *, merchant_id: str, amount_minor: int, key: str, card_id: int | None = None,
                   pan: str | None = None):
        return self.ledger.transaction(lambda uow: _force_post.force_post(
            self, uow, merchant_id=merchant_id, amount_minor=amount_minor, key=key, card_id=card_id, pan=pan))

    def unlinked_refund(self, *, merchant_id: str, amount_minor: int, key: str, card_id: int | None = None,
                        pan: str | None = None):
        return self.ledger.transaction(lambda uow: _refunds.unlinked_refund(
            self, uow, merchant_id=merchant_id, amount_minor=amount_minor, key=key, card_id=card_id, pan=pan))

    def reverse(self, authorization_id: int, amount_minor: int | None = None, *, key: str | None = None):
        return self.ledger.transaction(lambda uow: _clearing.reverse(self, uow, authorization_id, amount_minor,
                                                                      key=key))

    def refund(self, authorization_id: int, amount_minor: int | None = None, *, key: str | None = None):
        return self.ledger.transaction(lambda uow: _clearing.refund(self, uow, authorization_id, amount_minor,
                                                                     key=key))

    def expire_holds(self) -> int:
        """Expire every hold past its date and mark its authorization (a batch of at most
        ``clearing.MAX_EXPIRY_PER_UNIT`` per transaction, until none is due); how many authorizations."""
        def batch(uow) -> tuple[int, bool]:
            done = _clearing.expire_holds(self, uow)
            return done, _clearing.more_due(uow, done)
        total = 0
        while True:
            done, more = self.ledger.transaction(batch)
            total += done
            if not more:
                return total

    def rebuild_usage(self, uow) -> int:
        """Recount the spend counters in ``uow`` in this programme's calendar (after its time zone changed)."""
        return _auth.rebuild_usage(uow, self.timezone)

    # -- statements ------------------------------------------------------------------------
    def card_statement(self, card_id: int) -> list[dict]:
        with self.ledger.unit_of_work(read_only=True) as uow:
            return _statements.card_statement(uow, card_id, tz=self.timezone)

    def customer_statement(self, customer_id: str) -> list[dict]:
        with self.ledger.unit_of_work(read_only=True) as uow:
            return _statements.customer_statement(uow, customer_id, tz=self.timezone)
