"""Authorization with just-in-time crypto funding.

Checks run in a FIXED precedence order, first failure wins:
card valid (14) -> expired (54) -> frozen/closed (62) -> card-not-present only: expiry given (54)
-> CVV2 given (N7) -> amount (13) -> spend controls (61/65/57) -> sandbox rules (57/59) -> funding (51/91)
-> deadline (91). (The card-not-present checks, and the freeze after repeated failures, are in
card/verification.py: a frozen card declines 62 before its CVV2 is looked at.) The programme's kinds (57:
an ATM withdrawal or a P2P transfer the programme does not permit; card/kinds.py) come right after the
merchant check.

Atomicity: the whole approval (crypto sale, conversion fee, hold, authorization row) runs in the
caller's unit of work under a savepoint. A decline rolls back to the savepoint, then records the
declined attempt (authorization row + event, no ledger writes) in the same unit of work, so statements
and reports see every decline and a retry with the same key gets the same answer, while no money ever
moves on a decline. The caller commits the answer together with its own records (audit entry, stored
HTTP response): there is no state in which one exists without the others.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam, delete, select

from ledger import Posting
from ledger.amounts import format_amount
from ledger.db import is_retryable
from ledger.errors import DomainError, InsufficientFunds
from ledger.ids import with_id
from ledger.types import to_micros

from . import kinds as _kinds
from . import decisions as _decisions
from . import response_codes as rc
from . import tables as t
from . import verification
from .controls import TRANSACTION, SpendControls, Usage, evaluate
from .errors import InvalidRequest
from .funding import conversion_fee, plan_funding
from .funding import shortfall as compute_shortfall
from .hold_duration import hold_days_at
from .issuing import CLOSED, FROZEN, Card, MerchantRecord, PurchaseSnapshot, purchase_snapshot
from .pan import is_expired, is_valid_pan
from .scoped_usage import scoped_usage
from .ports import AuthorizationContext, FundingShort, FundingUnavailable, Merchant

MAX_KEY_LENGTH = 255
MAX_AMOUNT_MINOR = 10**15  # 10 trillion tenge: anything above is a typo, not a purchase
APPROVED, DECLINED, CAPTURED, REVERSED, EXPIRED_AUTH, REFUNDED = (
    "approved", "declined", "captured", "reversed", "expired", "refunded")
CONVERSION_FEE_OWNER = "card-programme"
TENGE_ONLY_SHORT = ("the decision app could not decide and the programme's stand-in spends only the tenge on the "
                    "bank account (no crypto is sold): it cannot cover the amount")


@dataclass(frozen=True)
class AuthorizationResult:
    """What the POS gets back. ``replayed`` is True when this is the stored answer to a retried key."""
    response_code: str
    reason: str
    authorization_id: int | None = None
    auth_code: str | None = None
    hold_id: int | None = None
    amount_minor: int = 0
    shortfall_minor: int = 0
    conversion_fee_minor: int = 0
    sold: tuple[dict, ...] = ()
    flags: tuple[tuple[str, str], ...] = ()
    replayed: bool = False
    cardholder_id: str | None = None
    kind: str = _kinds.PURCHASE
    decision: str | None = None          # how a decision app decided (card/decisions.py), None: no app asked
    requested_minor: int | None = None   # the amount asked for when less was approved or an app decided

    @property
    def approved(self) -> bool:
        return rc.is_approval(self.response_code)

    def to_dict(self) -> dict[str, Any]:
        return {"response_code": self.response_code, "reason": self.reason,
                "authorization_id": self.authorization_id, "auth_code": self.auth_code, "hold_id": self.hold_id,
                "amount_minor": self.amount_minor, "shortfall_minor": self.shortfall_minor,
                "conversion_fee_minor": self.conversion_fee_minor, "sold": list(self.sold),
                "flags": [list(f) for f in self.flags]}


class _Decline(Exception):
    """``template``: the reason with its per-purchase values as placeholders (reports count declines of one
    rule together); by default the reason itself."""

    def __init__(self, code: str, reason: str, card: Card | None = None, flags=(), template: str = "",
                 on_record=None) -> None:
        super().__init__(reason)
        self.code, self.reason, self.card, self.flags = code, reason, card, tuple(flags)
        self.template = template or reason
        self.on_record = on_record  # fn(uow) -> more flags, run when the decline is recorded (verification)


@dataclass
class _Request:
    card_id: int | None
    pan: str | None
    amount_minor: Any
    merchant_id: str
    key: str
    presented: verification.Presented = verification.CARD_PRESENT_PURCHASE
    kind: str = _kinds.PURCHASE  # as requested; the merchant's category may make it another (card/kinds.py)
    hash: str = field(init=False)

    def __post_init__(self) -> None:
        fields = {"card_id": self.card_id, "pan": self.pan, "amount_minor": repr(self.amount_minor),
                  "merchant_id": self.merchant_id, **self.presented.fingerprint()}
        if self.kind != _kinds.PURCHASE:  # a purchase hashes as it always did
            fields["kind"] = self.kind
        body = json.dumps(fields, sort_keys=True)
        self.hash = hashlib.sha256(body.encode()).hexdigest()


def auth_code_for(idempotency_key: str) -> str:
    """A 6-digit approval code, deterministic from the request's idempotency key."""
    return f"{int(hashlib.sha256(idempotency_key.encode()).hexdigest()[:12], 16) % 1_000_000:06d}"


# The hot path's statements as parametrised SQL on the unit of work's cursor (ledger.fastpath): Core costs
# ~100 µs of Python a statement, and an authorization runs about sixty.
_SELECT_USAGE = "SELECT period, amount_minor, count FROM card_usage WHERE card_id = :card_id AND period IN (:d, :m)"
_BUMP_USAGE = ("INSERT INTO card_usage (card_id, period, amount_minor, count) VALUES (:card_id, :period, :amount, "
               ":count) ON CONFLICT (card_id, period) DO UPDATE SET amount_minor = card_usage.amount_minor + "
               "excluded.amount_minor, count = card_usage.count + excluded.count")
# A purchase's day and month counters in one statement (two rows, never the same key twice).
_BUMP_DAY_AND_MONTH = ("INSERT INTO card_usage (card_id, period, amount_minor, count) VALUES (:card_id, :d, :amount, "
                       ":count), (:card_id, :m, :amount, :count) ON CONFLICT (card_id, period) DO UPDATE SET "
                       "amount_minor = card_usage.amount_minor + excluded.amount_minor, "
                       "count = card_usage.count + excluded.count")
_KEY_TAKEN = "SELECT id, request_hash FROM card_authorizations WHERE idempotency_key = :key"
_BY_KEY = select(t.authorizations).where(t.authorizations.c.idempotency_key == bindparam("key"))
_INSERT_AUTH = (
    "INSERT INTO card_authorizations (idempotency_key, request_hash, card_id, cardholder_id, merchant_id, "
    "amount_minor, response_code, reason, reason_template, status, auth_code, hold_id, shortfall_minor, "
    "conversion_fee_minor, captured_minor, reversed_minor, refunded_minor, flags, created_at) VALUES (:key, :hash, "
    ":card_id, :cardholder_id, :merchant_id, :amount, :code, :reason, :template, :status, :auth_code, :hold_id, "
    ":shortfall, :fee, 0, 0, 0, :flags, :at) RETURNING id")
_AUTH_IDS = "card_authorizations_id_seq"   # the table's own sequence (ledger.ids reserves from it)
_INSERT_EVENT = ("INSERT INTO card_auth_events (authorization_id, at, kind, amount_minor, \"key\", note) "
                 "VALUES (:auth_id, :at, :kind, :amount, NULL, :note)")
_INSERT_LEGS = ("INSERT INTO card_funding_legs (authorization_id, asset, sold_qty_minor, proceeds_minor, "
                "avg_price_minor, fee_minor, slippage_bps) VALUES (:authorization_id, :asset, :sold_qty_minor, "
                ":proceeds_minor, :avg_price_minor, :fee_minor, :slippage_bps)")


def _periods(at: datetime, tz: tzinfo) -> tuple[str, str]:
    """The counter keys of the programme's day and month that ``at`` falls in: the calendar of ``tz``
    (a purchase at 00:30 in Almaty is on the new local day, though still yesterday in UTC)."""
    local = at.astimezone(tz)
    # (not strftime: ~10 µs a call on the hot path)
    month = f"{local.year:04d}-{local.month:02d}"
    return f"d:{month}-{local.day:02d}", f"m:{month}"


def usage_of(uow, card_id: int, at: datetime, *, tz: tzinfo) -> Usage:
    """Approved spend (minus reversals) and approvals on the card in the programme's day and month of ``at``
    (calendar of ``tz``); ``complete_usage`` adds what the card's controls also limit."""
    day, month = _periods(at, tz)
    rows = {r[0]: (r[1], r[2]) for r in uow.sql.all(_SELECT_USAGE, {"card_id": card_id, "d": day, "m": month})}
    d, m = rows.get(day, (0, 0)), rows.get(month, (0, 0))
    return Usage(day_amount_minor=int(d[0]), day_count=int(d[1]), month_amount_minor=int(m[0]),
                 month_count=int(m[1]))


def complete_usage(uow, card_id: int, at: datetime, usage: Usage, controls: SpendControls, *, tz: tzinfo,
                   mcc: str, merchant_id: str | None) -> Usage:
    """``usage`` (the day's and month's counters) with what ``controls`` also limit for a purchase at
    ``merchant_id`` (category ``mcc``): the week's and the lifetime usage, and the usage at each scope of
    the card's scoped limits that the purchase matches. No read for a card that limits none of them."""
    usage = with_longer_windows(uow, card_id, at, usage, controls, tz=tz)
    rules = tuple(rule for rule in controls.scoped_for(mcc, merchant_id) if rule.window != TRANSACTION) \
        if controls.scoped_limits else ()
    if not rules:   # a per-transaction limit needs no history
        return usage
    return replace(usage, scoped=scoped_usage(uow, card_id, at, rules, tz=tz))


# The week's and the lifetime spend come from the day and month counters every change already keeps (a
# reversal gives back the period its purchase counted in), read only for a card that limits them.
# Day keys sort as their dates ('d:2025-06-02'), so the week is one range of the primary key, the months another.
# The months are matched with LIKE, not as a range: under a language collation (a PostgreSQL database
# created with one) ';' sorts before ':', and a range up to 'm;' would hold no month at all.
_LONGER_WINDOWS = ("SELECT COALESCE(SUM(CASE WHEN period LIKE 'd:%' THEN amount_minor ELSE 0 END), 0), "
                   "COALESCE(SUM(CASE WHEN period LIKE 'm:%' THEN amount_minor ELSE 0 END), 0), "
                   "COALESCE(SUM(CASE WHEN period LIKE 'd:%' THEN count ELSE 0 END), 0), "
                   "COALESCE(SUM(CASE WHEN period LIKE 'm:%' THEN count ELSE 0 END), 0) FROM card_usage "
                   "WHERE card_id = :card_id AND ((period >= :monday AND period <= :sunday) OR period LIKE 'm:%')")


def with_longer_windows(uow, card_id: int, at: datetime, usage: Usage, controls: SpendControls, *,
                        tz: tzinfo) -> Usage:
    """``usage`` with the spend and the purchases of the programme's week (Monday to Sunday, calendar of
    ``tz``) of ``at`` and of the card's whole life added, when ``controls`` limit either (no read otherwise)."""
    if not controls.reads_longer_windows:
        return usage
    monday = at.astimezone(tz).date() - timedelta(days=at.astimezone(tz).weekday())
    week, lifetime, week_count, lifetime_count = uow.sql.one(
        _LONGER_WINDOWS, {"card_id": card_id, "monday": f"d:{monday.isoformat()}",
                          "sunday": f"d:{(monday + timedelta(days=6)).isoformat()}"})
    return replace(usage, week_amount_minor=int(week), lifetime_amount_minor=int(lifetime),
                   week_count=int(week_count), lifetime_count=int(lifetime_count))


def bump_usage(uow, card_id: int, at: datetime, amount_minor: int, count: int, *, tz: tzinfo) -> None:
    """Add to the card's counters for the day and month of ``at`` in the calendar of ``tz`` (a purchase's own
    time: a reversal the next day or month gives back the period the purchase was counted in)."""
    day, month = _periods(at, tz)
    uow.defer(_BUMP_DAY_AND_MONTH, {"card_id": card_id, "d": day, "m": month, "amount": amount_minor, "count": count})


def rebuild_usage(uow, tz: tzinfo) -> int:
    """Recount every card's day and month counters from its approved authorizations, in the calendar of
    ``tz``; returns how many counters were written.

    For a programme whose time zone changed: a counter kept in the old calendar would be given back,
    on a reversal, to a period its purchase was never counted in. The counters are derived data, counted
    as the purchase path counts them: an approval (a force post and an advice too, not a refund without a
    purchase) once, with what it took — what was captured, over-captures included, plus what is still
    held (neither captured nor reversed or released).
    """
    a = t.authorizations
    totals: dict[tuple[int, str], list[int]] = {}
    rows = uow.conn.execute(select(a.c.card_id, a.c.created_at, a.c.amount_minor, a.c.captured_minor,
                                   a.c.reversed_minor)
                            .where(a.c.response_code.in_(sorted(rc.APPROVALS)), a.c.kind != _kinds.UNLINKED_REFUND))
    for card_id, created_at, amount_minor, captured_minor, reversed_minor in rows:
        spent = captured_minor + max(0, amount_minor - captured_minor - reversed_minor)
        for period in _periods(created_at, tz):
            total = totals.setdefault((card_id, period), [0, 0])
            total[0] += spent
            total[1] += 1
    uow.conn.execute(delete(t.usage))
    if totals:
        uow.sql.many(_BUMP_USAGE, [{"card_id": card_id, "period": period, "amount": amount, "count": count}
                                   for (card_id, period), (amount, count) in totals.items()])
    return len(totals)


def _stored_result(uow, row, *, replayed: bool) -> AuthorizationResult:
    legs = uow.conn.execute(select(t.funding_legs).where(t.funding_legs.c.authorization_id == row.id)
                            .order_by(t.funding_legs.c.id)).all()
    sold = tuple({"asset": leg.asset, "sold_qty_minor": leg.sold_qty_minor, "proceeds_minor": leg.proceeds_minor,
                  "avg_price_minor": leg.avg_price_minor, "fee_minor": leg.fee_minor, "slippage_bps": leg.slippage_bps}
                 for leg in legs)
    return AuthorizationResult(row.response_code, row.reason, row.id, row.auth_code, row.hold_id, row.amount_minor,
                               row.shortfall_minor, row.conversion_fee_minor, sold,
                               tuple(tuple(f) for f in row.flags), replayed, row.cardholder_id, row.kind,
                               getattr(row, "decision", None), getattr(row, "requested_minor", None))


def _replay(uow, req: _Request, taken: tuple | None = None) -> AuthorizationResult | None:
    """The stored answer to a retried key (``taken``: its (id, request hash) if already read), or None."""
    if taken is None:
        taken = uow.sql.one(_KEY_TAKEN, {"key": req.key})
    if taken is None:
        return None
    if taken[1] != req.hash:
        return AuthorizationResult(rc.DUPLICATE, "this idempotency key was already used for a different purchase",
                                   authorization_id=taken[0])
    return _stored_result(uow, uow.conn.execute(_BY_KEY, {"key": req.key}).one(), replayed=True)


def authorize(service, uow, *, amount_minor, merchant_id: str, idempotency_key: str, card_id: int | None = None,
              pan: str | None = None, presented: verification.Presented | None = None,
              kind: str | None = None, decision: _decisions.Decision | None = None,
              partial_approval: bool = False) -> AuthorizationResult:
    """Approve fully (sale, fee, hold, record) or decline changing no balance, inside the caller's unit of
    work (the caller commits, together with whatever else it writes: an audit entry, a stored response).

    The approval attempt runs under a savepoint: a decline rolls back to it, then records the declined
    attempt (authorization row and event, no ledger writes) in the same unit of work, so statements and
    reports see every decline and no money ever moves on one. The same key with the same request returns
    the first result (``replayed=True``) and never sells twice; the same key with a different request
    declines 94. ``presented``: the channel and, card-not-present, the expiry and CVV2 to check
    (``verification.presented``; default card-present). Database conflicts (deadlocks, serialization failures, a concurrent request with the
    same key) propagate, so the caller's ``transaction`` retries the whole unit of work.

    ``decision``: what the programme's decision app (or its stand-in) decided, applied once every check
    of the card's own passed (card/decisions.py). ``partial_approval``: when tenge plus crypto cannot
    cover the amount, approve what they can (10 partial approval) instead of declining 51.
    """
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
        raise InvalidRequest(f"an idempotency key of 1..{MAX_KEY_LENGTH} characters is required")
    req = _Request(card_id, pan, amount_minor, merchant_id, idempotency_key,
                   presented or verification.CARD_PRESENT_PURCHASE, _kinds.check(kind))
    # One statement reads the key's earlier use, the card and the merchant (and, where the database
    # serialises whole units of work, the card's counters: see _approve).
    counters_now = uow.exclusive
    snap = purchase_snapshot(uow, key=req.key, merchant_id=req.merchant_id, card_id=req.card_id, pan=req.pan,
                             periods=_periods(uow.now(), service.timezone) if counters_now else None)
    if snap.key_authorization_id is not None:
        return _replay(uow, req, (snap.key_authorization_id, snap.key_request_hash))
    if snap.merchant is not None:
        req.kind = _kinds.resolve(req.kind, snap.merchant.mcc)
    started = service.monotonic()
    try:
        with uow.savepoint("authorization"):
            result = _approve(service, uow, req, snap, decision, partial_approval)
            elapsed_ms = (service.monotonic() - started) * 1000
            if elapsed_ms > service.deadline_ms:
                late = (f"the authorization took {{elapsed}} ms, over the {service.deadline_ms} ms deadline; "
                        "nothing was sold or held")
                raise _Decline(rc.ISSUER_INOPERATIVE, late.format(elapsed=f"{elapsed_ms:.0f}"),
                               getattr(result, "_card", None), template=late)
        return _noted(uow, req, result, decision)
    except _Decline as decline:
        return _noted(uow, req, _record_decline(uow, req, decline), decision)
    except Exception as error:  # noqa: BLE001 - filtered just below
        if is_retryable(error) or isinstance(error, DomainError):
            # A conflict: the caller's transaction retries the whole unit of work (a concurrent twin is
            # then replayed). A refusal the card does not answer with a code: the caller's to handle.
            raise
        # Never a traceback at the POS: the attempt was rolled back to the savepoint; answer 96, keep the cause.
        return _record_decline(uow, req, _Decline(rc.SYSTEM_ERROR, f"system error ({type(error).__name__}): "
                                                                   f"{error}"[:300],
                                                  template=f"system error ({type(error).__name__})"))


def _noted(uow, req: _Request, result: AuthorizationResult, decision) -> AuthorizationResult:
    """``result`` with how it was decided, recorded on its row, when an app decided or less was approved."""
    requested = req.amount_minor if result.amount_minor != req.amount_minor or decision is not None else None
    if not isinstance(requested, int) or isinstance(requested, bool) or not 0 < requested <= MAX_AMOUNT_MINOR:
        requested = None
    if (decision is None and requested is None) or result.authorization_id is None:
        return result
    _decisions.record(uow, result.authorization_id, decision, requested)
    return replace(result, decision=decision.outcome if decision else None, requested_minor=requested)


def _record_decline(uow, req: _Request, d: _Decline) -> AuthorizationResult:
    """Write the declined attempt (no ledger writes at all) in the caller's unit of work."""
    card = d.card
    if d.on_record is not None:  # a failed card verification counts towards the card's freeze
        d.flags += tuple(d.on_record(uow))
    amount = req.amount_minor if isinstance(req.amount_minor, int) and not isinstance(
        req.amount_minor, bool) and 0 <= req.amount_minor <= MAX_AMOUNT_MINOR else 0
    at = to_micros(uow.now())
    auth_id = uow.sql.insert_id(_INSERT_AUTH, dict(
        key=req.key, hash=req.hash, card_id=card.id if card else None,
        cardholder_id=card.cardholder_id if card else None, merchant_id=str(req.merchant_id)[:64], amount=amount,
        code=d.code, reason=d.reason[:300], template=d.template[:300], status=DECLINED, auth_code=None, hold_id=None,
        shortfall=0, fee=0,
        flags=json.dumps([list(f) for f in d.flags]), at=at))
    uow.sql.run(_INSERT_EVENT, dict(auth_id=auth_id, at=at, kind=DECLINED, amount=amount,
                                    note=f"{d.code} {d.reason}"[:300]))
    _mark_kind(uow, auth_id, req.kind)
    return AuthorizationResult(d.code, d.reason, auth_id, amount_minor=amount, flags=d.flags,
                               cardholder_id=card.cardholder_id if card else None, kind=req.kind)


def _mark_kind(uow, auth_id: int, kind: str) -> None:
    """Record a kind other than a purchase (the column's default) on the authorization just written."""
    if kind != _kinds.PURCHASE:
        uow.sql.run("UPDATE card_authorizations SET kind = :kind WHERE id = :id", {"kind": kind, "id": auth_id})


def _approve(service, uow, req: _Request, snap: PurchaseSnapshot, decision=None,
             partial_approval: bool = False) -> AuthorizationResult:
    now = uow.now()
    # 14: the card must exist (by id, or by a Luhn-valid PAN we issued)
    if req.pan is not None and not is_valid_pan(req.pan):
        raise _Decline(rc.INVALID_CARD, "the card number fails the Luhn check")
    card = snap.card if (req.card_id is not None or req.pan) else None
    if card is None:
        raise _Decline(rc.INVALID_CARD, "no card with this number was issued by the sandbox bank")
    # Serialize everything that spends this customer's money (all their cards share the bank account).
    uow.advisory_lock(f"card:holder:{card.cardholder_id}")
    status = card.status
    if is_expired(card.expiry_month, card.expiry_year, now):  # 54 comes before 62 in the precedence
        raise _Decline(rc.EXPIRED_CARD, f"the card expired at the end of {card.expiry_month:02d}/{card.expiry_year}",
                       card)
    if status in (FROZEN, CLOSED):
        raise _Decline(rc.RESTRICTED_CARD, f"the card is {status}", card)
    if req.presented.card_not_present:  # 54 / N7: the expiry and CVV2 typed must match (card/verification.py)
        failure = verification.check(uow, card, req.presented)
        if failure is not None:
            raise _Decline(failure.code, failure.reason, card, on_record=failure.record)
    amount = req.amount_minor
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0 or amount > MAX_AMOUNT_MINOR:
        raise _Decline(rc.INVALID_AMOUNT, f"the amount must be a positive whole number of tiyn, got {amount!r}", card,
                       template="the amount must be a positive whole number of tiyn, got {amount}")
    merchant: MerchantRecord | None = snap.merchant
    if merchant is None:
        raise _Decline(rc.NOT_PERMITTED, f"merchant {req.merchant_id!r} is not registered with the sandbox", card)
    refused = _kinds.refusal(req.kind, service.permitted_kinds)
    if refused is not None:
        raise _Decline(rc.NOT_PERMITTED, refused, card)
    bank_id = card.bank_ledger_account_id
    # The bank account is locked before the crypto sale takes the instrument's lock and the exchange's
    # accounts (a set known only while it matches; ledger.unit_of_work's lock order): the sale, the fee and
    # the hold then find it held, and what is available cannot change under us. On PostgreSQL its lock goes
    # out with the counters' read, under the holder's lock (one round trip for both).
    bank_locked = None if uow.exclusive else uow.lock_accounts_later([bank_id])
    if snap.usage is not None:
        # Read with the card: SQLite's single writer (BEGIN IMMEDIATE) kept every other unit of work out
        # since this one began. On PostgreSQL the counters are read here, under the holder's lock.
        usage = Usage(day_amount_minor=snap.usage[0], day_count=snap.usage[1], month_amount_minor=snap.usage[2],
                      month_count=snap.usage[3])
    else:
        usage = usage_of(uow, card.id, now, tz=service.timezone)
    usage = complete_usage(uow, card.id, now, usage, card.controls, tz=service.timezone, mcc=merchant.mcc,
                           merchant_id=merchant.id)
    control = evaluate(card.controls, usage, amount, merchant.mcc, merchant.in_zone, merchant.id)
    if not control.allowed:
        raise _Decline(control.code, control.reason, card, template=control.reason_template)
    if bank_locked is not None:
        available = bank_locked()[bank_id].available_minor
    else:
        # No row locks to order (SQLite's single writer): the crypto the funder may sell is read with the
        # bank account, in one statement, and the funder then finds it held.
        known = getattr(service.funder, "known_accounts", None)
        holdings = known(card.wallet_owner, card.funding.order) if known is not None else []
        available = uow.lock_accounts([bank_id, *holdings])[bank_id].available_minor
    # The stand-in tenge_only switched the funding source: nothing will be sold, so the rules see no
    # shortfall (a sale's own conditions — the exchange's licence, crypto payments allowed — do not apply).
    tenge_only = decision is not None and decision.tenge_only
    short = 0 if tenge_only else compute_shortfall(amount, available, card.funding.spend_tenge_first)
    ctx = AuthorizationContext(card.cardholder_id, card.id, Merchant(merchant.id, merchant.name, merchant.mcc,
                                                                     merchant.in_zone), amount, short, now)
    verdict = service.rules.check_authorization(uow, ctx)
    flags = tuple(tuple(f) for f in verdict.flags)
    if verdict.decline_code is not None:
        raise _Decline(verdict.decline_code, verdict.reason, card, flags, verdict.reason_template)
    if decision is not None:   # the decision app's answer, once every check of the card's own passed
        refused = decision.refusal()
        if refused is not None:
            raise _Decline(*refused, card, flags)
        card = decision.card_funding(card)
        if decision.amount(amount) != amount:
            amount = decision.amount(amount)
            short = 0 if tenge_only else compute_shortfall(amount, available, card.funding.spend_tenge_first)
        if tenge_only:   # the account's tenge alone pays
            if amount > available:
                if not (partial_approval and available > 0):
                    raise _Decline(rc.INSUFFICIENT_FUNDS, TENGE_ONLY_SHORT, card, flags)
                amount = available
    sold: list[dict] = []
    fee = 0
    # A purchase that sells crypto holds the instrument's lock from its sale to the COMMIT, and other
    # purchases wait for it: its hold's and its own row's ids are reserved with the sale's first statement
    # (PostgreSQL, ledger.ids), so both rows go out with the COMMIT instead of a round trip each under it.
    ids = uow.reserve_ids({_AUTH_IDS: 1}, holds=1) if short > 0 else None
    # The sale's hold post (the maker's hold) and the purchase's hold: their two hold events in one
    # statement. Inside the authorization's savepoint: if this raises, all of it is rolled back.
    with uow.hold_events_together():
        if short > 0:
            plan, sold = _fund(service, uow, card, short, partial_approval)
            fee = plan.fee_minor
            if plan.shortfall_minor < short:   # partial approval: what tenge plus crypto can fund
                amount, short = amount - short + plan.shortfall_minor, plan.shortfall_minor
                if amount <= 0:
                    raise _Decline(rc.INSUFFICIENT_FUNDS, rc.reason(rc.INSUFFICIENT_FUNDS), card, flags)
        try:
            hold = uow.hold(bank_id, amount, expires_at=now + timedelta(days=hold_days_at(service, merchant.mcc)),
                            memo=f"card {card.id} at {merchant.id}")
        except InsufficientFunds:
            raise _Decline(rc.INSUFFICIENT_FUNDS, "the bank account cannot cover the amount", card, flags)
    code = auth_code_for(req.key)
    response = rc.APPROVED if amount == req.amount_minor else rc.PARTIAL_APPROVAL
    at = to_micros(now)
    row = dict(key=req.key, hash=req.hash, card_id=card.id, cardholder_id=card.cardholder_id, merchant_id=merchant.id,
               amount=amount, code=response, reason=rc.reason(response), template=None, status=APPROVED,
               auth_code=code, hold_id=hold.id, shortfall=short, fee=fee,
               flags=json.dumps([list(f) for f in flags]), at=at)
    if ids is not None:
        auth_id = ids()[_AUTH_IDS][0]
        uow.defer(with_id(_INSERT_AUTH), dict(row, id=auth_id))
    else:
        auth_id = uow.sql.insert_id(_INSERT_AUTH, row)
    bump_usage(uow, card.id, now, amount, 1, tz=service.timezone)
    if sold:
        uow.defer(_INSERT_LEGS, [dict(leg, authorization_id=auth_id) for leg in sold], many=True)
    uow.defer(_INSERT_EVENT, dict(
        auth_id=auth_id, at=at, kind="authorized", amount=amount,
        note=f"approved; sold {', '.join(leg['asset'] for leg in sold) or 'nothing'}; fee "
             f"{format_amount(fee, 'KZT')}"[:300]))
    _mark_kind(uow, auth_id, req.kind)
    result = AuthorizationResult(response, rc.reason(response), auth_id, code, hold.id, amount, short, fee,
                                 tuple(sold), flags, cardholder_id=card.cardholder_id, kind=req.kind)
    object.__setattr__(result, "_card", card)  # for the deadline decline record only
    return result


def _fund(service, uow, card: Card, short: int, partial_approval: bool = False):
    """Plan across the card's funding order, then sell each leg; any failure declines (and rolls back).
    With ``partial_approval``, holdings that cannot cover ``short`` fund what they can (the plan's
    ``shortfall_minor`` is then smaller than ``short``) instead of declining 51."""
    funder, settings = service.funder, card.funding
    capacity: dict[str, int] = {}
    limited: set[str] = set()
    needed = short + conversion_fee(short, settings.conversion_fee_bps)
    try:
        for asset in settings.order:
            cap = funder.capacity(uow, card.wallet_owner, asset, settings.slippage_cap_bps, needed)
            capacity[asset] = cap.proceeds_minor
            if cap.liquidity_limited:
                limited.add(asset)
            if settings.mode == "combine" and sum(capacity.values()) >= needed:
                break  # enough: do not quote assets further down the order
    except FundingUnavailable as error:
        raise _Decline(rc.ISSUER_INOPERATIVE, f"funding unavailable: {error}", card,
                       template="funding unavailable: {error}")
    plan = plan_funding(settings, short, capacity, frozenset(limited))
    if partial_approval and plan.decline_code == rc.INSUFFICIENT_FUNDS:
        plan = plan_funding(settings, _decisions.fundable_shortfall(settings.mode, settings.conversion_fee_bps,
                                                                     capacity), capacity, frozenset(limited))
    if plan.decline_code is not None:
        raise _Decline(plan.decline_code, plan.reason, card)
    sold = []
    # The conversion fee travels with the first sale that raises enough to pay it (in its own transfer).
    fee = plan.fee_minor
    fee_leg = next((i for i, (_, proceeds) in enumerate(plan.legs) if proceeds >= fee), None) if fee else None
    fee_to = (service.fee_account(uow, CONVERSION_FEE_OWNER), fee) if fee_leg is not None else None
    for i, (asset, proceeds) in enumerate(plan.legs):
        try:
            leg = funder.sell_for_tenge(uow, card.wallet_owner, asset, proceeds, settings.slippage_cap_bps,
                                        card.bank_ledger_account_id, fee_to=fee_to if i == fee_leg else None)
        except FundingUnavailable as error:
            raise _Decline(rc.ISSUER_INOPERATIVE, f"selling {asset} failed: {error}", card,
                           template=f"selling {asset} failed: {{error}}")
        except (FundingShort, InsufficientFunds) as error:
            raise _Decline(rc.INSUFFICIENT_FUNDS, f"not enough {asset} to sell: {error}", card,
                           template=f"not enough {asset} to sell: {{error}}")
        sold.append(leg.to_dict())
    if fee and fee_leg is None:
        uow.transfer([Posting(card.bank_ledger_account_id, -fee),
                      Posting(service.fee_account(uow, CONVERSION_FEE_OWNER), fee)], memo="card conversion fee")
    return plan, sold
