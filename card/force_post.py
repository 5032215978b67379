"""Force post: a clearing that arrives without an authorization (an offline terminal, a merchant that took the
card on paper) — the issuer pays it now: crypto is sold just in time if the bank account is short, and the
merchant is paid in tenge, minus its fee, in one step.

What networks do, and what the sandbox does: a force post is not a request the issuer may decline. The
card's status (frozen, closed, expired), its spend controls and the sandbox's rules are NOT consulted — the
sale happened, the merchant presented it; an issuer that disagrees raises a chargeback later. It still
counts in the card's spend for the day and month. The one limit is money: the sandbox's bank account never
goes negative, so a force post that tenge plus the crypto the card may sell cannot pay is refused
(``ClearingUnfunded``, ISO 8583 51) and changes nothing — a real issuer would post it and chase the debt.

The record is an authorization row of kind ``force_post``, already ``captured``, with the crypto sold as its
funding legs, so statements, refunds (linked to it) and reports see it like any purchase.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import insert, select

from ledger import Posting, format_amount

from . import response_codes as rc
from . import tables as t
from .authorization import CAPTURED, MAX_AMOUNT_MINOR, MAX_KEY_LENGTH, _Decline, _fund, _INSERT_LEGS, bump_usage
from .errors import CardNotFound, ClearingUnfunded, IdempotencyConflict, InvalidRequest
from .funding import shortfall as compute_shortfall
from .issuing import find_card, get_merchant

from .kinds import FORCE_POST, PURCHASE, UNLINKED_REFUND  # noqa: F401 - the kinds written here


def request_hash(kind: str, merchant_id: str, amount_minor, card_id, pan) -> str:
    body = json.dumps({"kind": kind, "merchant_id": merchant_id, "amount_minor": repr(amount_minor),
                       "card_id": card_id, "pan": pan}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def replay(uow, key: str, digest: str) -> dict | None:
    """The row an earlier use of ``key`` wrote (as a dict, ``replayed`` True), None if the key is new; an
    ``IdempotencyConflict`` if it was used for a different request."""
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidRequest(f"an idempotency key of 1..{MAX_KEY_LENGTH} characters is required")
    row = uow.conn.execute(select(t.authorizations).where(t.authorizations.c.idempotency_key == key)).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise IdempotencyConflict(f"key {key!r} was already used for a different request")
    return {**row._mapping, "replayed": True, "sold": _legs(uow, row.id)}


def _legs(uow, authorization_id: int) -> list[dict]:
    fl = t.funding_legs
    return [{"asset": r.asset, "sold_qty_minor": r.sold_qty_minor, "proceeds_minor": r.proceeds_minor,
             "avg_price_minor": r.avg_price_minor, "fee_minor": r.fee_minor, "slippage_bps": r.slippage_bps}
            for r in uow.conn.execute(select(fl).where(fl.c.authorization_id == authorization_id).order_by(fl.c.id))]


def card_and_merchant(uow, merchant_id: str, amount_minor, card_id: int | None, pan: str | None):
    """Order of answers: the amount, the merchant, the card (by id or number)."""
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or not 0 < amount_minor <= MAX_AMOUNT_MINOR:
        raise InvalidRequest(f"the amount must be a positive whole number of tiyn, got {amount_minor!r}")
    merchant = get_merchant(uow, merchant_id)
    if (card_id is None) == (pan is None):
        raise InvalidRequest("give exactly one of card_id or pan")
    card = find_card(uow, card_id=card_id, pan=pan)
    if card is None:
        raise CardNotFound("no card with this number was issued by the sandbox bank")
    return card, merchant


def record(uow, *, kind: str, key: str, digest: str, card, merchant_id: str, amount: int, status: str, reason: str,
           shortfall: int = 0, fee: int = 0, captured: int = 0, refunded: int = 0, mdr: int = 0) -> int:
    """Write the row of a clearing that has no authorization before it; returns its id."""
    return uow.conn.execute(insert(t.authorizations).values(
        idempotency_key=key, request_hash=digest, card_id=card.id, cardholder_id=card.cardholder_id,
        merchant_id=merchant_id, amount_minor=amount, response_code=rc.APPROVED, reason=reason, reason_template=None,
        status=status, auth_code=None, hold_id=None, shortfall_minor=shortfall, conversion_fee_minor=fee,
        captured_minor=captured, reversed_minor=0, refunded_minor=refunded, merchant_fee_minor=mdr, flags=[],
        created_at=uow.now(), kind=kind).returning(t.authorizations.c.id)).scalar_one()


def force_post(service, uow, *, merchant_id: str, amount_minor, key: str, card_id: int | None = None,
               pan: str | None = None) -> dict:
    """Clear ``amount_minor`` at ``merchant_id`` on the card with no authorization before it (see the module
    docstring). ``key`` is the card's durable idempotency key: a retry returns the first result, changing
    nothing; the key with another request is an ``IdempotencyConflict``."""
    from .clearing import ACQUIRER_FEE_OWNER, _event
    digest = request_hash(FORCE_POST, merchant_id, amount_minor, card_id, pan)
    previous = replay(uow, key, digest)
    if previous is not None:
        return previous
    card, merchant = card_and_merchant(uow, merchant_id, amount_minor, card_id, pan)
    uow.advisory_lock(f"card:holder:{card.cardholder_id}")
    bank = card.bank_ledger_account_id
    available = uow.lock_accounts([bank])[bank].available_minor
    short = compute_shortfall(amount_minor, available, card.funding.spend_tenge_first)
    sold, fee = [], 0
    if short > 0:
        try:
            plan, sold = _fund(service, uow, card, short)
        except _Decline as decline:
            raise ClearingUnfunded(f"the force post of {format_amount(amount_minor, 'KZT')} cannot be paid: "
                                   f"{decline.reason}", response_code=decline.code) from None
        fee = plan.fee_minor
    mdr = amount_minor * merchant.mdr_bps // 10_000
    postings = [Posting(bank, -amount_minor), Posting(merchant.settlement_account_id, amount_minor - mdr)]
    if mdr:
        postings.append(Posting(service.fee_account(uow, ACQUIRER_FEE_OWNER), mdr))
    uow.transfer([p for p in postings if p.amount_minor], memo=f"card force post at {merchant.id}")
    auth_id = record(uow, kind=FORCE_POST, key=key, digest=digest, card=card, merchant_id=merchant.id,
                     amount=amount_minor, status=CAPTURED, reason="force post: cleared without an authorization",
                     shortfall=short, fee=fee, captured=amount_minor, mdr=mdr)
    if sold:
        uow.sql.many(_INSERT_LEGS, [dict(leg, authorization_id=auth_id) for leg in sold])
    bump_usage(uow, card.id, uow.now(), amount_minor, 1, tz=service.timezone)
    _event(uow, auth_id, "force_posted", amount_minor,
           f"force post cleared to {merchant.id}; sold {', '.join(leg['asset'] for leg in sold) or 'nothing'}; "
           f"merchant fee {format_amount(mdr, 'KZT')}; card {card.status}", key=None)
    row = uow.conn.execute(select(t.authorizations).where(t.authorizations.c.id == auth_id)).one()
    return {**row._mapping, "replayed": False, "sold": sold, "card_status": card.status}

