"""After the authorization: clearing (capture), reversal, refund and hold expiry.

By default the crypto sold at authorization is never un-sold: a reversal releases the hold and the tenge
stays in the customer's bank account. A programme may buy it back on a refund or a reversal instead
(``ClearingPolicy``, card/refunds.py). Several partial captures and over-capture: card/capture.py.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update

from ledger import Posting, format_amount

from . import refunds
from . import response_codes as rc
from . import tables as t
from .authorization import bump_usage
from .authorization import APPROVED, CAPTURED, EXPIRED_AUTH, REFUNDED, REVERSED
from .errors import (AuthorizationNotFound, IdempotencyConflict, InvalidAuthorizationState, InvalidRequest,
                     NothingToCapture, NothingToRefund, NothingToReverse)
from .issuing import get_card, get_merchant

ACQUIRER_FEE_OWNER = "card-acquirer"
# Authorizations one unit of work expires: each writes an event, and the event log takes at most 5 000 per
# unit of work (sandbox.events.MAX_EVENTS_PER_UNIT), with room left for the clock's own.
MAX_EXPIRY_PER_UNIT = 2_000
# Open purchases old enough to have run out, read per sweep in pages (live ones too: a hotel's lasts a month)
MAX_SCANNED = 20_000
_PAGE = 500


def _auth(uow, authorization_id: int, *, lock: bool = True):
    stmt = select(t.authorizations).where(t.authorizations.c.id == authorization_id)
    if lock and not uow.ledger.db.is_sqlite:
        stmt = stmt.with_for_update()
    row = uow.conn.execute(stmt).first()
    if row is None or not rc.is_approval(row.response_code):
        raise AuthorizationNotFound(f"no approved authorization {authorization_id}")
    return row


def _amount(value, limit: int, what: str) -> int:
    if value is None:
        return limit
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidRequest(f"{what} amount must be a positive whole number of tiyn, got {value!r}")
    if value > limit:
        raise InvalidRequest(f"{what} amount {format_amount(value, 'KZT')} is more than the "
                             f"{format_amount(limit, 'KZT')} that can be {what}d")
    return value


def _replayed(uow, key: str | None, authorization_id: int, kind: str, amount) -> bool:
    """True if ``key`` already did this exact operation; an IdempotencyConflict if it did another one."""
    if key is None:
        return False
    row = uow.conn.execute(select(t.auth_events).where(t.auth_events.c.key == key)).first()
    if row is None:
        return False
    if row.authorization_id != authorization_id or row.kind != kind or (amount is not None and
                                                                         row.amount_minor != amount):
        raise IdempotencyConflict(f"key {key!r} was already used for a different {row.kind}")
    return True


def already_done(uow, key: str, authorization_id: int, kind: str, amount_minor: int | None) -> bool:
    """True if ``key`` already did this exact clearing step (``kind``: capture, reverse or refund);
    an ``IdempotencyConflict`` if it did another one; an ``AuthorizationNotFound`` if there is no
    approved authorization ``authorization_id``.

    Takes the authorization's row lock first (the lock the clearing step itself takes), so the answer
    holds until ``uow`` ends: a concurrent request with the same key either committed before (True) or
    waits for this one. What the caller writes for a False answer (the step, its audit entry) is
    written once."""
    _auth(uow, authorization_id)
    return _replayed(uow, key, authorization_id, {"capture": CAPTURED, "reverse": REVERSED,
                                                  "refund": REFUNDED, "expire": EXPIRED_AUTH}[kind], amount_minor)


def authorization(uow, authorization_id: int, *, replayed: bool = False) -> dict:
    """The approved authorization as it stands (an ``AuthorizationNotFound`` otherwise); ``replayed`` is
    True when a clearing step answered a retry of its key and changed nothing."""
    return {**_auth(uow, authorization_id, lock=False)._mapping, "replayed": replayed}


def _event(uow, authorization_id: int, kind: str, amount: int, note: str, key: str | None) -> None:
    uow.conn.execute(insert(t.auth_events).values(authorization_id=authorization_id, at=uow.now(), kind=kind,
                                                  amount_minor=amount, key=key, note=note[:300]))


def _uncleared(uow, authorization_id: int, kind: str, amount_minor: int | None, key: str | None, rule: str):
    """The common preamble of capture and reverse: ``(row, still_held, amount)``, or ``(None, 0, 0)`` for a replay.

    Order of answers: replay of ``key`` first, then the state check, then the amount against what is still held.
    """
    row = _auth(uow, authorization_id)
    if _replayed(uow, key, authorization_id, kind, amount_minor):
        return None, 0, 0
    if row.status != APPROVED:
        _nothing_left(authorization_id, row.status, kind)
        raise InvalidAuthorizationState(f"authorization {authorization_id} is {row.status}; {rule}")
    held = row.amount_minor - row.captured_minor - row.reversed_minor
    verb = "capture" if kind == CAPTURED else "reverse"
    return row, held, _amount(amount_minor, held, verb)


def _nothing_left(authorization_id: int, status: str, kind: str) -> None:
    """Answer in card terms when the step has nothing left to act on (a second full capture or reversal,
    a step after the hold expired): ``nothing_to_capture`` / ``nothing_to_reverse``."""
    if kind == CAPTURED and status in (CAPTURED, REFUNDED, REVERSED, EXPIRED_AUTH):
        raise NothingToCapture(f"authorization {authorization_id} has nothing left to capture: it is {status}",
                               authorization_id=authorization_id, status=status)
    if kind == REVERSED and status in (REVERSED, EXPIRED_AUTH):
        raise NothingToReverse(f"authorization {authorization_id} has nothing left to reverse: it is {status}",
                               authorization_id=authorization_id, status=status)


def capture(service, uow, authorization_id: int, amount_minor: int | None = None, *, key: str | None = None,
            final: bool = True):
    """Clear ``amount_minor`` (default: all still held) to the merchant minus MDR; with ``final`` (the default)
    the rest of the hold is released. Several partial captures and over-capture: ``card.capture``."""
    from .capture import capture as _capture
    return _capture(service, uow, authorization_id, amount_minor, key=key, final=final)


def reverse(service, uow, authorization_id: int, amount_minor: int | None = None, *, key: str | None = None):
    """Release all or part of the hold before clearing. Tenge from crypto already sold stays in the bank."""
    row, held, amount = _uncleared(uow, authorization_id, REVERSED, amount_minor, key,
                                   "only an uncleared authorization can be reversed (use a refund after clearing)")
    if row is None:
        return authorization(uow, authorization_id, replayed=True)
    uow.void_hold(row.hold_id, amount_minor=amount)
    reversed_total = row.reversed_minor + amount
    # nothing held any more: reversed, or captured when earlier partial captures took the rest
    status = APPROVED if amount < held else CAPTURED if row.captured_minor else REVERSED
    uow.conn.execute(update(t.authorizations).where(t.authorizations.c.id == authorization_id).values(
        status=status, reversed_minor=reversed_total))
    bump_usage(uow, row.card_id, row.created_at, -amount, 0, tz=service.timezone)
    _event(uow, authorization_id, REVERSED, amount, "hold released; crypto already sold is not un-sold", key)
    policy = refunds.after_reversal(service, uow, row, row.reversed_minor, reversed_total)
    return {**authorization(uow, authorization_id), **policy}


def refund(service, uow, authorization_id: int, amount_minor: int | None = None, *, key: str | None = None):
    """Give ``amount_minor`` (default: all not yet refunded) back to the customer's bank account after clearing.

    The customer gets the whole amount. The merchant pays it less its share of the MDR taken at clearing,
    which the acquirer returns (``fee_share``): a merchant can always refund a purchase from what the
    purchase paid it, and the refunds of a whole purchase return exactly the fee it cost.
    """
    row = _auth(uow, authorization_id)
    if _replayed(uow, key, authorization_id, REFUNDED, amount_minor):
        return authorization(uow, authorization_id, replayed=True)
    if row.status not in (CAPTURED, REFUNDED):
        raise InvalidAuthorizationState(f"authorization {authorization_id} is {row.status}; only a cleared purchase "
                                        "can be refunded")
    if row.captured_minor - row.refunded_minor <= 0:
        raise NothingToRefund(f"authorization {authorization_id} has nothing left to refund: all "
                              f"{format_amount(row.captured_minor, 'KZT')} captured was refunded already",
                              authorization_id=authorization_id, status=row.status)
    amount = _amount(amount_minor, row.captured_minor - row.refunded_minor, "refund")
    refunded = row.refunded_minor + amount
    fee = fee_share(row.merchant_fee_minor, row.captured_minor, row.refunded_minor, refunded)
    merchant = get_merchant(uow, row.merchant_id)
    card = get_card(uow, row.card_id)
    postings = [Posting(merchant.settlement_account_id, -(amount - fee)), Posting(card.bank_ledger_account_id, amount)]
    if fee:
        postings.insert(1, Posting(service.fee_account(uow, ACQUIRER_FEE_OWNER), -fee))
    uow.transfer(postings, memo=f"card refund auth {authorization_id}")
    uow.conn.execute(update(t.authorizations).where(t.authorizations.c.id == authorization_id).values(
        status=REFUNDED if refunded == row.captured_minor else CAPTURED, refunded_minor=refunded))
    _event(uow, authorization_id, REFUNDED, amount,
           f"refunded by {merchant.id}; merchant fee returned {format_amount(fee, 'KZT')}", key)
    policy = refunds.after_refund(service, uow, row, card, row.refunded_minor, refunded)
    return {**authorization(uow, authorization_id), **policy}


def fee_share(fee_minor: int, captured_minor: int, refunded_before: int, refunded_after: int) -> int:
    """The part of a purchase's ``fee_minor`` that a refund taking the refunded total from ``refunded_before``
    to ``refunded_after`` returns. Computed on the running total (rounded down), so partial refunds that add
    up to the whole purchase return exactly ``fee_minor``, never a tiyn more."""
    assert 0 <= refunded_before <= refunded_after <= captured_minor
    if captured_minor == 0:
        return 0
    return refunded_after * fee_minor // captured_minor - refunded_before * fee_minor // captured_minor


def more_due(uow, expired: int) -> bool:
    """After ``expire_holds`` marked ``expired`` authorizations in ``uow``: whether another sweep has work (its
    batch was full, or holds are still past their date)."""
    return expired >= MAX_EXPIRY_PER_UNIT or uow.holds_due()


def expire_holds(service, uow, *, expired: list | None = None, limit: int | None = None) -> int:
    """Expire holds past their date on the sandbox clock, the oldest first, and mark the authorizations whose
    hold has run out expired (captured, when a partial capture took part: it keeps what it took) — at most
    ``limit`` (default and most ``MAX_EXPIRY_PER_UNIT``); how many, each appended to ``expired`` as a dict
    when given. ``more_due`` says whether another sweep has work: a sweep is bounded, so a clock
    advance past thousands of open purchases is finished by further units of work
    (``sandbox.services.clock.sweep``)."""
    limit = MAX_EXPIRY_PER_UNIT if limit is None else max(1, min(int(limit), MAX_EXPIRY_PER_UNIT))
    uow.expire_holds(limit=limit)
    # The purchases whose hold has run out: swept just now, or before, when a debit or a new hold on the bank
    # account found it past its date (the ledger expires those by itself). A hold lasts at least the shorter
    # of the programme's two durations, so only purchases that old can have one.
    oldest = uow.now() - timedelta(days=min(service.hold_days, service.extended_hold_days))
    a = t.authorizations
    rows: list = []
    after = 0
    for _ in range(MAX_SCANNED // _PAGE):
        page = uow.conn.execute(select(a.c.id, a.c.hold_id, a.c.amount_minor, a.c.reversed_minor, a.c.card_id,
                                       a.c.created_at, a.c.cardholder_id, a.c.merchant_id, a.c.idempotency_key,
                                       a.c.captured_minor)
                                .where(a.c.status == APPROVED, a.c.created_at <= oldest, a.c.id > after)
                                .order_by(a.c.id).limit(_PAGE)).all()
        gone = uow.expired_among([r[1] for r in page if r[1] is not None])
        rows += [r for r in page if r[1] in gone]
        if len(page) < _PAGE or len(rows) >= limit:
            break
        after = page[-1][0]
    count = 0
    for auth_id, _hold, amount, reversed_minor, card_id, created_at, holder, merchant_id, key, captured in rows[:limit]:
        released = amount - captured - reversed_minor  # partial captures keep what they took
        uow.conn.execute(update(a).where(a.c.id == auth_id).values(status=CAPTURED if captured else EXPIRED_AUTH,
                                                                   reversed_minor=amount - captured))
        bump_usage(uow, card_id, created_at, -released, 0, tz=service.timezone)
        _event(uow, auth_id, EXPIRED_AUTH, released, "hold expired without clearing", None)
        if expired is not None:
            expired.append({"id": auth_id, "card_id": card_id, "cardholder_id": holder, "merchant_id": merchant_id,
                            "idempotency_key": key, "released_minor": released})
        count += 1
    return count
