"""Authorization advice (ISO 8583 0120): the network approved a purchase in stand-in — the issuer was
unreachable, so the network decided for it — and now tells the issuer, who must book it.

An advice is never declined: the network has already told the merchant "approved". The issuer books
the amount as an approved authorization (the usual hold, cleared later by a capture) and funds it in
this order:

1. tenge available on the customer's bank account;
2. crypto sold just in time along the card's funding order, as far as the holdings and the book allow
   (with the programme's conversion fee on what is sold; a sale that fails sells nothing);
3. whatever is still short is **lent by the programme's credit line** into the bank account: a ledger
   transfer from the customer's credit-line account ``external:card-credit/<bank account id>:KZT`` (an
   external account — the issuing bank's own money, from outside the sandbox — so it may go negative)
   to the bank account. That account's negative balance is the customer's **debt**; no crypto balance
   and no bank account ever goes negative, and the ledger still verifies.

The loan shows as a ``credit_lent`` line in the authorization's history (the card statement) next to
``advice_booked``. The debt is an open receivable: nothing repays it by itself; ``repay`` moves tenge
available on the bank account (up to the debt) back to the credit line when the customer (or the
operator on their behalf) repays.

Refusals (raised, nothing changes): a key of the wrong length or an amount that is not a positive whole
number of tiyn (``InvalidRequest``), a card the sandbox never issued (``CardNotFound``), a merchant
not registered (``MerchantNotFound``), the key already used for another request (``IdempotencyConflict``).
The card's status, limits and the sandbox rules are NOT checked: the network already approved.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from ledger import Posting
from ledger.amounts import format_amount
from ledger.types import to_micros

from . import kinds as _kinds
from . import response_codes as rc
from . import tables as t
from .authorization import (
    _INSERT_AUTH,
    _INSERT_EVENT,
    _INSERT_LEGS,
    APPROVED,
    MAX_AMOUNT_MINOR,
    MAX_KEY_LENGTH,
    _Decline,
    _fund,
    _mark_kind,
    _stored_result,
    auth_code_for,
    bump_usage,
)
from .errors import CardNotFound, IdempotencyConflict, InvalidRequest, MerchantNotFound
from .funding import conversion_fee
from .hold_duration import hold_days_at
from .issuing import Card, purchase_snapshot
from .pan import is_valid_pan
from .ports import FundingUnavailable

ADVICE_BOOKED, CREDIT_LENT = "advice_booked", "credit_lent"
ADVICE_REASON = "approved by the network in stand-in (authorization advice), booked by the issuer"


@dataclass(frozen=True)
class AdviceResult:
    """How the issuer booked an advice: ``amount_minor`` held, of which ``tenge_minor`` was on the bank
    account, ``crypto_minor`` raised by selling crypto (``sold``; plus ``conversion_fee_minor``) and
    ``debt_minor`` lent on the programme's credit line."""
    authorization_id: int
    auth_code: str
    amount_minor: int
    tenge_minor: int
    crypto_minor: int
    debt_minor: int
    conversion_fee_minor: int
    sold: tuple[dict, ...]
    kind: str
    cardholder_id: str
    merchant_id: str
    card_id: int
    replayed: bool = False
    response_code: str = rc.APPROVED
    reason: str = ADVICE_REASON


def credit_line_owner(bank_ledger_account_id: int) -> str:
    return f"card-credit/{int(bank_ledger_account_id)}"


def credit_line_code(bank_ledger_account_id: int) -> str:
    """The ledger code of the customer's credit-line account (its negative balance is the debt)."""
    return f"external:{credit_line_owner(bank_ledger_account_id)}:KZT"


def _hash(card_id, pan, amount_minor, merchant_id, kind) -> str:
    body = json.dumps({"message": "advice", "card_id": card_id, "pan": pan, "amount_minor": repr(amount_minor),
                       "merchant_id": merchant_id, "kind": kind}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def book(service, uow, *, amount_minor, merchant_id: str, idempotency_key: str, card_id: int | None = None,
         pan: str | None = None, kind: str | None = None) -> AdviceResult:
    """Book the network's stand-in approval (see the module docstring) in the caller's unit of work. The same
    key with the same advice answers the stored booking (``replayed=True``) and books nothing twice."""
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
        raise InvalidRequest(f"an idempotency key of 1..{MAX_KEY_LENGTH} characters is required")
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise InvalidRequest(f"the amount must be a positive whole number of tiyn, got {amount_minor!r}")
    requested = _kinds.check(kind)
    request_hash = _hash(card_id, pan, amount_minor, merchant_id, requested)
    snap = purchase_snapshot(uow, key=idempotency_key, merchant_id=merchant_id, card_id=card_id, pan=pan)
    if snap.key_authorization_id is not None:
        if snap.key_request_hash != request_hash:
            raise IdempotencyConflict("this idempotency key was already used for a different request")
        return _stored(uow, snap.key_authorization_id)
    card = snap.card if (card_id is not None or (pan and is_valid_pan(pan))) else None
    if card is None:
        raise CardNotFound("no card with this id or number was issued by the sandbox bank")
    merchant = snap.merchant
    if merchant is None:
        raise MerchantNotFound(f"merchant {str(merchant_id)[:64]!r} is not registered with the sandbox")
    resolved = _kinds.resolve(requested, merchant.mcc)
    now = uow.now()
    uow.advisory_lock(f"card:holder:{card.cardholder_id}")
    bank_id = card.bank_ledger_account_id
    tenge = max(0, min(amount_minor, uow.lock_accounts([bank_id])[bank_id].available_minor))
    short = amount_minor - tenge
    sold: list[dict] = []
    crypto = fee = 0
    if short > 0:
        crypto = _coverable(service, uow, card, short)
        if crypto > 0:
            try:
                with uow.savepoint("advice_funding"):
                    plan, sold = _fund(service, uow, card, crypto)
                    fee = plan.fee_minor
            except _Decline:
                crypto, sold, fee = 0, [], 0   # the sale failed: sell nothing, lend it all
    debt = max(0, amount_minor - uow.balance(bank_id).available_minor)
    if debt:
        credit = uow.find_account(credit_line_code(bank_id)) or uow.open_account(
            credit_line_owner(bank_id), "KZT", "external")
        uow.transfer([Posting(credit.id, -debt), Posting(bank_id, debt)],
                     memo=f"card credit line: advice at {merchant.id} booked short")
    hold = uow.hold(bank_id, amount_minor, expires_at=now + timedelta(days=hold_days_at(service, merchant.mcc)),
                    memo=f"card {card.id} at {merchant.id} (advice)")
    at = to_micros(now)
    code = auth_code_for(idempotency_key)
    auth_id = uow.sql.insert_id(_INSERT_AUTH, dict(
        key=idempotency_key, hash=request_hash, card_id=card.id, cardholder_id=card.cardholder_id,
        merchant_id=merchant.id, amount=amount_minor, code=rc.APPROVED, reason=ADVICE_REASON, template=None,
        status=APPROVED, auth_code=code, hold_id=hold.id, shortfall=amount_minor - tenge - debt, fee=fee, flags="[]",
        at=at))
    _mark_kind(uow, auth_id, resolved)
    bump_usage(uow, card.id, now, amount_minor, 1, tz=service.timezone)
    if sold:
        uow.sql.many(_INSERT_LEGS, [dict(leg, authorization_id=auth_id) for leg in sold])
    uow.sql.run(_INSERT_EVENT, dict(
        auth_id=auth_id, at=at, kind=ADVICE_BOOKED, amount=amount_minor,
        note=(f"stand-in approval booked: {format_amount(tenge, 'KZT')} from the bank account, "
              f"{format_amount(amount_minor - tenge - debt, 'KZT')} from crypto "
              f"({', '.join(leg['asset'] for leg in sold) or 'none sold'}; fee {format_amount(fee, 'KZT')}), "
              f"{format_amount(debt, 'KZT')} lent")[:300]))
    if debt:
        uow.sql.run(_INSERT_EVENT, dict(
            auth_id=auth_id, at=at, kind=CREDIT_LENT, amount=debt,
            note=(f"{format_amount(debt, 'KZT')} lent on the programme's credit line: the customer owes it "
                  f"(debt now {format_amount(debt_of(uow, bank_id), 'KZT')})")[:300]))
    return AdviceResult(auth_id, code, amount_minor, tenge, amount_minor - tenge - debt, debt, fee, tuple(sold),
                        resolved, card.cardholder_id, merchant.id, card.id)


def _coverable(service, uow, card: Card, short: int) -> int:
    """The most of ``short`` that selling crypto can raise now, conversion fee included (0 if none)."""
    settings, funder = card.funding, service.funder
    bps = settings.conversion_fee_bps
    needed = short + conversion_fee(short, bps)
    caps: list[int] = []
    try:
        for asset in settings.order:
            caps.append(funder.capacity(uow, card.wallet_owner, asset, settings.slippage_cap_bps, needed).proceeds_minor)
    except FundingUnavailable:
        return 0
    cap = min(needed, sum(caps) if settings.mode == "combine" else max(caps, default=0))
    raise_ = min(short, cap * 10_000 // (10_000 + bps))
    while raise_ < short and raise_ + 1 + conversion_fee(raise_ + 1, bps) <= cap:
        raise_ += 1
    while raise_ > 0 and raise_ + conversion_fee(raise_, bps) > cap:
        raise_ -= 1
    return raise_


def _stored(uow, authorization_id: int) -> AdviceResult:
    row = uow.conn.execute(select(t.authorizations).where(t.authorizations.c.id == authorization_id)).one()
    base = _stored_result(uow, row, replayed=True)
    e = t.auth_events.c
    debt = int(uow.conn.execute(select(func.coalesce(func.sum(e.amount_minor), 0)).where(
        e.authorization_id == authorization_id, e.kind == CREDIT_LENT)).scalar_one())
    crypto = row.shortfall_minor
    return AdviceResult(row.id, row.auth_code, row.amount_minor, row.amount_minor - crypto - debt, crypto, debt,
                        row.conversion_fee_minor, base.sold, row.kind, row.cardholder_id, row.merchant_id, row.card_id,
                        replayed=True, reason=row.reason)


def debt_of(uow, bank_ledger_account_id: int) -> int:
    """What the customer owes the programme's credit line (0 when nothing was ever lent)."""
    credit = uow.find_account(credit_line_code(bank_ledger_account_id))
    return 0 if credit is None else max(0, -uow.balance(credit.id).ledger_minor)


def repay(uow, bank_ledger_account_id: int, amount_minor: int | None = None) -> tuple[int, int]:
    """Move tenge available on the bank account back to the credit line: ``amount_minor`` (default: all the
    debt), at most the debt and what is available. Returns (repaid, still owed)."""
    if amount_minor is not None and (not isinstance(amount_minor, int) or isinstance(amount_minor, bool)
                                     or amount_minor <= 0):
        raise InvalidRequest(f"the repayment must be a positive whole number of tiyn, got {amount_minor!r}")
    owed = debt_of(uow, bank_ledger_account_id)
    if owed == 0:
        return 0, 0
    credit = uow.find_account(credit_line_code(bank_ledger_account_id))
    available = uow.lock_accounts([bank_ledger_account_id, credit.id])[bank_ledger_account_id].available_minor
    paid = max(0, min(owed, available, owed if amount_minor is None else amount_minor))
    if paid:
        uow.transfer([Posting(bank_ledger_account_id, -paid), Posting(credit.id, paid)],
                     memo="card credit line repaid")
    return paid, owed - paid
