"""What a refund or a reversal of a purchase funded by a just-in-time crypto sale gives back (the programme's
``ClearingPolicy``), and refunds that have no purchase to point to.

**Refund policy** (``refund_policy``). The merchant always pays the refund into the bank account (see
``clearing.refund``); then:

* ``tenge``: it stays there — the crypto stays sold, at the price of the sale.
* ``buy_back``: the refund's share of what the crypto sale paid for (the purchase's ``shortfall_minor`` over
  what was captured, in proportion, on running totals so partial refunds add up exactly) buys the same
  assets back at the order book's price now, in proportion to what each asset raised, into the customer's
  wallet: an acquisition with a cost basis on their tax statement. A KZTE leg stays tenge (KZTE is
  tenge at par: nothing to win or lose), and so does a leg the exchange cannot fill now (halted, no
  sellers, below its minimum order) — the refund never fails because of the market.

**Conversion fee** (``refund_conversion_fee``): ``kept`` — the programme keeps the fee it took on the sale;
``returned`` — the refund's share of it comes back from the programme's fee account (and is bought back
with the rest under ``buy_back``).

**Reversal policy** (``reversal_policy``), for a hold reversed before clearing: ``keep_tenge`` — the released
tenge stays in the bank; ``buy_back`` — the reversed share the crypto sale paid for (``shortfall_minor`` over
the authorized amount, in proportion) is bought back the same way. The conversion fee is not returned on a
reversal. A hold released at a final capture or at expiry stays tenge.
"""
from __future__ import annotations

from sqlalchemy import select

from ledger import Posting, format_amount

from . import tables as t
from .authorization import CONVERSION_FEE_OWNER, REFUNDED
from .force_post import UNLINKED_REFUND, card_and_merchant, record, replay, request_hash
from .ports import BuyBack, FundingUnavailable

BOUGHT_BACK = "bought_back"


def share(total_minor: int, part_of_minor: int, before_minor: int, after_minor: int) -> int:
    """The part of ``total_minor`` that moving a running total from ``before_minor`` to ``after_minor`` (out of
    ``part_of_minor``) covers, rounded down on the running totals: the parts add up to ``total_minor``."""
    if part_of_minor <= 0:
        return 0
    return after_minor * total_minor // part_of_minor - before_minor * total_minor // part_of_minor


def after_refund(service, uow, row, card, before_minor: int, after_minor: int) -> dict:
    """Apply the programme's refund policy to a refund that took the refunded total of authorization ``row``
    from ``before_minor`` to ``after_minor`` (the tenge is already in the bank account)."""
    policy = service.policy
    base = min(row.shortfall_minor, row.captured_minor)
    fee_base = row.conversion_fee_minor * base // row.shortfall_minor if row.shortfall_minor else 0
    fee_back = share(fee_base, row.captured_minor, before_minor, after_minor) \
        if policy.refund_conversion_fee == "returned" else 0
    if fee_back:
        uow.transfer([Posting(service.fee_account(uow, CONVERSION_FEE_OWNER), -fee_back),
                      Posting(card.bank_ledger_account_id, fee_back)], memo=f"conversion fee returned auth {row.id}")
    bought: list[dict] = []
    if policy.refund_policy == "buy_back":
        crypto = share(base, row.captured_minor, before_minor, after_minor) + fee_back
        bought = buy_back(service, uow, row.id, card, crypto, "refund")
    return {"conversion_fee_returned_minor": fee_back, "bought_back": bought}


def after_reversal(service, uow, row, before_minor: int, after_minor: int) -> dict:
    """Apply the reversal policy to a reversal that took the reversed total from ``before_minor`` to
    ``after_minor`` (the hold is already released)."""
    if service.policy.reversal_policy != "buy_back":
        return {"bought_back": []}
    from .issuing import get_card
    crypto = share(row.shortfall_minor, row.amount_minor, before_minor, after_minor)
    return {"bought_back": buy_back(service, uow, row.id, get_card(uow, row.card_id), crypto, "reversal")}


def buy_back(service, uow, authorization_id: int, card, spend_minor: int, why: str) -> list[dict]:
    """Spend ``spend_minor`` of the bank account buying back what authorization ``authorization_id`` sold, in
    proportion to each asset's proceeds; a leg that cannot be bought now stays tenge (noted in the history)."""
    funder = service.funder
    if spend_minor <= 0 or not isinstance(funder, BuyBack):
        return []
    fl = t.funding_legs
    legs = uow.conn.execute(select(fl.c.asset, fl.c.proceeds_minor).where(fl.c.authorization_id == authorization_id)
                            .order_by(fl.c.id)).all()
    proceeds: dict[str, int] = {}
    for asset, amount in legs:
        proceeds[asset] = proceeds.get(asset, 0) + amount
    total = sum(proceeds.values())
    if total <= 0:
        return []
    bought, notes, given = [], [], 0
    running = 0
    for asset, amount in proceeds.items():
        running += amount
        part = spend_minor * running // total - given  # running totals: the parts add up to spend_minor
        given += part
        if part <= 0:
            continue
        if asset == "KZTE":
            notes.append(f"{format_amount(part, 'KZT')} of KZTE stays tenge (par)")
            continue
        try:
            with uow.savepoint("buy_back"):
                leg = funder.buy_with_tenge(uow, card.wallet_owner, asset, part, card.bank_ledger_account_id)
        except FundingUnavailable as error:
            notes.append(f"{format_amount(part, 'KZT')} of {asset} stays tenge: {error}")
            continue
        bought.append(leg.to_dict())
    from .clearing import _event
    if bought or notes:
        spent = sum(b["spent_minor"] for b in bought)
        what = ", ".join(f"{b['bought_qty_minor']} {b['asset']} for {format_amount(b['spent_minor'], 'KZT')}"
                         for b in bought) or "nothing"
        _event(uow, authorization_id, BOUGHT_BACK, spent, "; ".join([f"{why} bought back {what}", *notes]), None)
    return bought


def unlinked_refund(service, uow, *, merchant_id: str, amount_minor, key: str, card_id: int | None = None,
                    pan: str | None = None) -> dict:
    """A refund with no original purchase: ``merchant_id`` pays ``amount_minor`` from its settlement account
    into the card's bank account (tenge: there is no sale to buy back, and no merchant fee to return).
    Frozen or closed cards still receive it (a credit). Refused when the merchant's account cannot pay
    (``insufficient_funds``). ``key``: the durable idempotency key, as for a force post."""
    from .clearing import _event
    digest = request_hash(UNLINKED_REFUND, merchant_id, amount_minor, card_id, pan)
    previous = replay(uow, key, digest)
    if previous is not None:
        return previous
    card, merchant = card_and_merchant(uow, merchant_id, amount_minor, card_id, pan)
    uow.transfer([Posting(merchant.settlement_account_id, -amount_minor),
                  Posting(card.bank_ledger_account_id, amount_minor)], memo=f"unlinked refund by {merchant.id}")
    auth_id = record(uow, kind=UNLINKED_REFUND, key=key, digest=digest, card=card, merchant_id=merchant.id,
                     amount=amount_minor, status=REFUNDED, reason="refund without an original purchase",
                     refunded=amount_minor)
    _event(uow, auth_id, REFUNDED, amount_minor, f"unlinked refund by {merchant.id}", None)
    row = uow.conn.execute(select(t.authorizations).where(t.authorizations.c.id == auth_id)).one()
    return {**row._mapping, "replayed": False, "sold": []}
