"""Capture (clearing) of an approved authorization: once, or in several partial captures, and within a tolerance
over the authorized amount where the merchant's category allows it.

* **Several partial captures.** Each capture posts part of the hold to the merchant, with its own
  idempotency key and event. ``final=False`` keeps the rest of the hold for a later capture (a shipment in
  parts); ``final=True`` (the default, and what a single capture always did) releases what is left. When
  the captures use up the whole hold the authorization is ``captured`` whatever ``final`` said.
* **Over-capture.** A final capture may take more than is still held, up to the programme's tolerance for
  the merchant's category (``ClearingPolicy.over_capture_tolerance_bps``: a restaurant's tip). The hold is
  posted in full and the extra is charged to the bank account now; if the account is short, crypto is sold
  just in time as at authorization (the same funding order, slippage cap and conversion fee), and the sale's
  legs are added to the authorization's. Beyond the tolerance: ``OverCaptureRefused`` (ISO 8583 64); extra
  the customer cannot pay: ``ClearingUnfunded`` (51). Either changes nothing.
* The merchant fee (MDR) is computed on the running captured total, rounded down, so the captures of
  one purchase together pay exactly the fee one capture of the total would.

Order of answers: replay of ``key``, the authorization's state, the amount (positive whole tiyn; more than
held only on a final capture and within the tolerance), then the funding of an extra.
"""
from __future__ import annotations

from sqlalchemy import update

from ledger import Posting, format_amount

from . import response_codes as rc
from . import tables as t
from .authorization import APPROVED, CAPTURED, _Decline, _fund, _INSERT_LEGS, bump_usage
from .errors import ClearingUnfunded, InvalidAuthorizationState, InvalidRequest, OverCaptureRefused
from .funding import shortfall as compute_shortfall
from .issuing import get_card, get_merchant


def capture(service, uow, authorization_id: int, amount_minor: int | None = None, *, key: str | None = None,
            final: bool = True) -> dict:
    """Clear ``amount_minor`` (default: all still held) to the merchant minus MDR (see the module docstring)."""
    from .clearing import ACQUIRER_FEE_OWNER, _auth, _event, _nothing_left, _replayed, authorization
    row = _auth(uow, authorization_id)
    if _replayed(uow, key, authorization_id, CAPTURED, amount_minor):
        return authorization(uow, authorization_id, replayed=True)
    if row.status != APPROVED:
        _nothing_left(authorization_id, row.status, CAPTURED)
        raise InvalidAuthorizationState(f"authorization {authorization_id} is {row.status}; only an approved, "
                                        "uncleared authorization can be captured")
    if not isinstance(final, bool):
        raise InvalidRequest(f"final must be true or false, got {final!r}")
    held = row.amount_minor - row.captured_minor - row.reversed_minor
    amount = held if amount_minor is None else amount_minor
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise InvalidRequest(f"capture amount must be a positive whole number of tiyn, got {amount_minor!r}")
    merchant = get_merchant(uow, row.merchant_id)
    extra = max(0, amount - held)
    if extra:
        allowed = service.policy.over_capture_allowed_minor(merchant.mcc, row.amount_minor)
        over = row.captured_minor + amount - row.amount_minor
        if not final:
            raise InvalidRequest(f"capture amount {format_amount(amount, 'KZT')} is more than the "
                                 f"{format_amount(held, 'KZT')} still held: only a final capture may go over")
        if over > allowed:
            raise OverCaptureRefused(
                f"capture amount {format_amount(amount, 'KZT')} is more than the {format_amount(held, 'KZT')} that can "
                f"be captured: the merchant's category {merchant.mcc} allows "
                f"{format_amount(allowed, 'KZT')} over the authorized {format_amount(row.amount_minor, 'KZT')}",
                authorization_id=authorization_id, response_code=rc.ORIGINAL_AMOUNT_INCORRECT,
                tolerance_bps=service.policy.tolerance_bps(merchant.mcc), over_minor=over, allowed_minor=allowed)
    captured = row.captured_minor + amount
    mdr = captured * merchant.mdr_bps // 10_000 - row.captured_minor * merchant.mdr_bps // 10_000
    fee_account = service.fee_account(uow, ACQUIRER_FEE_OWNER) if mdr else None
    posted = amount - extra
    last = final or posted == held
    sold: list[dict] = []
    short = fee = 0
    if extra:
        card = get_card(uow, row.card_id)
        uow.advisory_lock(f"card:holder:{card.cardholder_id}")
        uow.post_hold(row.hold_id, [(merchant.settlement_account_id, posted)], amount_minor=posted,
                      memo=f"card clearing auth {authorization_id}")
        sold, short, fee = _charge_extra(service, uow, card, extra, authorization_id)
        postings = [Posting(card.bank_ledger_account_id, -extra), Posting(merchant.settlement_account_id, extra - mdr)]
        if mdr:
            postings.append(Posting(fee_account, mdr))
        uow.transfer([p for p in postings if p.amount_minor], memo=f"card over-capture auth {authorization_id}")
    else:
        to = [(merchant.settlement_account_id, amount - mdr)] + ([(fee_account, mdr)] if mdr else [])
        uow.post_hold(row.hold_id, [x for x in to if x[1]], amount_minor=amount, final=last,
                      memo=f"card clearing auth {authorization_id}")
    released = held - posted if last else 0
    uow.conn.execute(update(t.authorizations).where(t.authorizations.c.id == authorization_id).values(
        status=CAPTURED if last else APPROVED, captured_minor=captured, reversed_minor=row.reversed_minor + released,
        merchant_fee_minor=row.merchant_fee_minor + mdr, shortfall_minor=row.shortfall_minor + short,
        conversion_fee_minor=row.conversion_fee_minor + fee))
    if released or extra:
        bump_usage(uow, row.card_id, row.created_at, extra - released, 0, tz=service.timezone)
    note = f"cleared to {merchant.id}; merchant fee {format_amount(mdr, 'KZT')}"
    if extra:
        note += f"; {format_amount(extra, 'KZT')} over the authorization"
    elif not last:
        note += f"; {format_amount(held - amount, 'KZT')} still held"
    _event(uow, authorization_id, CAPTURED, amount, note, key)
    if released:
        _event(uow, authorization_id, "released", released, "rest of the hold released at clearing", None)
    return {**authorization(uow, authorization_id), "sold": sold, "over_captured_minor": extra,
            "conversion_fee_charged_minor": fee}


def _charge_extra(service, uow, card, extra: int, authorization_id: int) -> tuple[list[dict], int, int]:
    """Make sure the bank account can pay ``extra`` now, selling crypto just in time if it is short:
    (the sale's legs, recorded on the authorization; the shortfall; the conversion fee)."""
    bank = card.bank_ledger_account_id
    available = uow.lock_accounts([bank])[bank].available_minor
    short = compute_shortfall(extra, available, card.funding.spend_tenge_first)
    if short <= 0:
        return [], 0, 0
    try:
        plan, sold = _fund(service, uow, card, short)
    except _Decline as decline:
        raise ClearingUnfunded(f"the bank account cannot pay {format_amount(extra, 'KZT')} more and the crypto "
                               f"sale failed: {decline.reason}", response_code=rc.INSUFFICIENT_FUNDS
                               if decline.code == rc.INSUFFICIENT_FUNDS else decline.code,
                               authorization_id=authorization_id) from None
    if sold:
        uow.sql.many(_INSERT_LEGS, [dict(leg, authorization_id=authorization_id) for leg in sold])
    return sold, short, plan.fee_minor
