"""Incremental authorization: a bigger hold on an approved, uncleared authorization (hotels, car rental).

The merchant asks for ``amount_minor`` more. Checks run in a FIXED order, first failure wins:

1. replay: the increment's key already answered (the stored answer again), or was another step (conflict);
2. state: only an approved, uncleared authorization grows (``InvalidAuthorizationState`` otherwise: a problem,
   not a decline);
3. amount (13): a positive whole number of tiyn, the new total at most the card's maximum;
4. card expired (54), frozen or closed (62);
5. spend controls on the increment: the per-transaction limit on the new total (61), the daily and
   monthly limits on the increment in the purchase's own day and month (61), the category and zone (57).
   An increment is not a new purchase: the daily count is not used;
6. sandbox rules on the increment (57/59);
7. funding: the increment is held on the bank account; for any new shortfall crypto is sold just in time
   (51/91 when it cannot be covered), with the programme's conversion fee.

Approved: the authorization's hold is replaced, in one unit of work, by a hold of what was still held plus
the increment (same expiry), its amount grows, the sale's legs are added to its funding legs and an
``incremented`` event is written. Declined: nothing moves; an ``increment_denied`` event records the
answer (statements show it; a retry with the same key gets it again).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, select, update

from ledger.amounts import format_amount
from ledger.errors import InsufficientFunds

from . import response_codes as rc
from . import tables as t
from .authorization import (
    APPROVED,
    MAX_AMOUNT_MINOR,
    _Decline,
    _fund,
    bump_usage,
    complete_usage,
    usage_of,
)
from .clearing import _auth
from .controls import evaluate
from .errors import IdempotencyConflict, InvalidAuthorizationState
from .funding import shortfall as compute_shortfall
from .issuing import CLOSED, FROZEN, get_card, get_merchant
from .pan import is_expired
from .ports import AuthorizationContext, Merchant

INCREMENTED, INCREMENT_DENIED = "incremented", "increment_denied"


@dataclass(frozen=True)
class IncrementResult:
    """The issuer's answer to an increment: ``amount_minor`` is the authorization's total after it."""
    response_code: str
    reason: str
    authorization_id: int
    increment_minor: int
    amount_minor: int
    status: str
    shortfall_minor: int = 0
    conversion_fee_minor: int = 0
    sold: tuple[dict, ...] = ()
    flags: tuple[tuple[str, str], ...] = ()
    replayed: bool = False
    cardholder_id: str | None = None
    merchant_id: str | None = None
    idempotency_key: str | None = None

    @property
    def approved(self) -> bool:
        return self.response_code == rc.APPROVED


def _answer(row, code: str, reason: str, increment: int, *, replayed: bool = False, **more) -> IncrementResult:
    return IncrementResult(code, reason, row.id, increment, row.amount_minor, row.status, replayed=replayed,
                           cardholder_id=row.cardholder_id, merchant_id=row.merchant_id,
                           idempotency_key=row.idempotency_key, **more)


def _replay(uow, key: str | None, row, amount_minor) -> IncrementResult | None:
    if key is None:
        return None
    event = uow.conn.execute(select(t.auth_events).where(t.auth_events.c.key == key)).first()
    if event is None:
        return None
    if (event.authorization_id != row.id or event.kind not in (INCREMENTED, INCREMENT_DENIED)
            or event.amount_minor != amount_minor):
        raise IdempotencyConflict(f"key {key!r} was already used for a different {event.kind}")
    if event.kind == INCREMENTED:
        return _answer(row, rc.APPROVED, rc.reason(rc.APPROVED), event.amount_minor, replayed=True)
    code, _, reason = event.note.partition(" ")
    return _answer(row, code, reason, event.amount_minor, replayed=True)


def increment(service, uow, authorization_id: int, amount_minor, *, key: str | None = None) -> IncrementResult:
    """Raise the authorization's hold by ``amount_minor`` (see the module docstring), in the caller's unit of
    work. ``key``: the increment's durable idempotency key (a retry answers the same and changes nothing)."""
    row = _auth(uow, authorization_id)
    replayed = _replay(uow, key, row, amount_minor)
    if replayed is not None:
        return replayed
    if row.status != APPROVED:
        raise InvalidAuthorizationState(f"authorization {authorization_id} is {row.status}; only an approved, "
                                        "uncleared authorization can be incremented",
                                        authorization_id=authorization_id, status=row.status)
    try:
        with uow.savepoint("increment"):
            return _approve(service, uow, row, amount_minor, key)
    except _Decline as decline:
        amount = amount_minor if isinstance(amount_minor, int) and not isinstance(amount_minor, bool) and (
            0 <= amount_minor <= MAX_AMOUNT_MINOR) else 0
        uow.conn.execute(insert(t.auth_events).values(
            authorization_id=row.id, at=uow.now(), kind=INCREMENT_DENIED, amount_minor=amount, key=key,
            note=f"{decline.code} {decline.reason}"[:300]))
        return _answer(row, decline.code, decline.reason, amount, flags=decline.flags)


def _approve(service, uow, row, extra, key: str | None) -> IncrementResult:
    now = uow.now()
    if not isinstance(extra, int) or isinstance(extra, bool) or extra <= 0 or row.amount_minor + extra > MAX_AMOUNT_MINOR:
        raise _Decline(rc.INVALID_AMOUNT, f"the increment must be a positive whole number of tiyn, got {extra!r}")
    card = get_card(uow, row.card_id)
    uow.advisory_lock(f"card:holder:{card.cardholder_id}")
    if is_expired(card.expiry_month, card.expiry_year, now):
        raise _Decline(rc.EXPIRED_CARD, f"the card expired at the end of {card.expiry_month:02d}/{card.expiry_year}")
    if card.status in (FROZEN, CLOSED):
        raise _Decline(rc.RESTRICTED_CARD, f"the card is {card.status}")
    held = row.amount_minor - row.reversed_minor
    controls = card.controls
    merchant = get_merchant(uow, row.merchant_id)
    used = complete_usage(uow, card.id, row.created_at, usage_of(uow, card.id, row.created_at, tz=service.timezone),
                          controls, tz=service.timezone, mcc=merchant.mcc, merchant_id=merchant.id)
    # The increment adds to a purchase already counted: the per-transaction limits apply to what it then
    # holds in all, the other amount limits to the increment; no count is checked.
    control = evaluate(controls, used, extra, merchant.mcc, merchant.in_zone, merchant.id, counts=False,
                       already_held_minor=held)
    if not control.allowed:
        raise _Decline(control.code, control.reason)
    bank_id = card.bank_ledger_account_id
    available = uow.lock_accounts([bank_id])[bank_id].available_minor
    short = compute_shortfall(extra, available, card.funding.spend_tenge_first)
    verdict = service.rules.check_authorization(uow, AuthorizationContext(
        card.cardholder_id, card.id, Merchant(merchant.id, merchant.name, merchant.mcc, merchant.in_zone), extra,
        short, now))
    flags = tuple(tuple(f) for f in verdict.flags)
    if verdict.decline_code is not None:
        raise _Decline(verdict.decline_code, verdict.reason, card, flags)
    sold: list[dict] = []
    fee = 0
    if short > 0:
        plan, sold = _fund(service, uow, card, short)
        fee = plan.fee_minor
    old = uow.get_hold(row.hold_id)
    uow.void_hold(row.hold_id)
    try:
        hold = uow.hold(bank_id, held + extra, expires_at=old.expires_at,
                        memo=f"card {card.id} at {merchant.id} (incremented)")
    except InsufficientFunds:
        raise _Decline(rc.INSUFFICIENT_FUNDS, "the bank account cannot cover the increment", card, flags)
    a = t.authorizations
    uow.conn.execute(update(a).where(a.c.id == row.id).values(
        amount_minor=row.amount_minor + extra, hold_id=hold.id, shortfall_minor=row.shortfall_minor + short,
        conversion_fee_minor=row.conversion_fee_minor + fee))
    bump_usage(uow, card.id, row.created_at, extra, 0, tz=service.timezone)
    if sold:
        uow.conn.execute(insert(t.funding_legs), [dict(leg, authorization_id=row.id) for leg in sold])
    uow.conn.execute(insert(t.auth_events).values(
        authorization_id=row.id, at=now, kind=INCREMENTED, amount_minor=extra, key=key,
        note=(f"hold raised by {format_amount(extra, 'KZT')} to {format_amount(held + extra, 'KZT')}; sold "
              f"{', '.join(leg['asset'] for leg in sold) or 'nothing'}; fee {format_amount(fee, 'KZT')}")[:300]))
    fresh = uow.conn.execute(select(a).where(a.c.id == row.id)).one()
    return _answer(fresh, rc.APPROVED, rc.reason(rc.APPROVED), extra, shortfall_minor=short,
                   conversion_fee_minor=fee, sold=tuple(sold), flags=flags)
