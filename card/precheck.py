"""The read-only pre-check before a decision app is asked: would the card's own checks pass, and what
funding would the purchase take?

It runs in a READ-ONLY unit of work and takes no lock: it only decides whether the app is asked at all
and what the request tells it. The write transaction (``authorization.authorize``) re-checks all of it,
so a balance that changed meanwhile is caught there. When a check of the card's own would decline (or the
key was answered already), the pre-check returns None: the app is not asked, and the write
transaction records the decline (or replays the stored answer) as it does without an app.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import response_codes as rc
from .authorization import MAX_AMOUNT_MINOR, _Request, complete_usage, usage_of
from .controls import evaluate
from .decisions import fundable_shortfall
from .funding import conversion_fee, plan_funding
from .funding import shortfall as compute_shortfall
from .issuing import CLOSED, FROZEN, Card, MerchantRecord, purchase_snapshot
from .pan import is_expired, is_valid_pan
from .ports import AuthorizationContext, FundingUnavailable, Merchant


@dataclass(frozen=True)
class Proposal:
    """What the sandbox would do: approve ``amount_minor`` (less than asked when the programme approves
    part of it), selling ``legs`` ((asset, tenge proceeds) in sale order) for ``shortfall_minor`` plus
    the conversion fee ``fee_minor``."""
    card: Card
    merchant: MerchantRecord
    requested_minor: int
    amount_minor: int
    available_minor: int
    shortfall_minor: int
    fee_minor: int
    legs: tuple[tuple[str, int], ...]
    flags: tuple[tuple[str, str], ...]


def precheck(service, uow, *, amount_minor, merchant_id: str, idempotency_key: str, card_id: int | None = None,
             pan: str | None = None, partial_approval: bool = False) -> Proposal | None:
    """The proposal if every check of the card's own passes now, else None (see the module docstring)."""
    req = _Request(card_id, pan, amount_minor, merchant_id, idempotency_key)
    snap = purchase_snapshot(uow, key=req.key, merchant_id=req.merchant_id, card_id=req.card_id, pan=req.pan)
    if snap.key_authorization_id is not None:   # answered already: a retry never asks the app again
        return None
    if req.pan is not None and not is_valid_pan(req.pan):
        return None
    card, merchant, now = snap.card, snap.merchant, uow.now()
    if card is None or merchant is None or card.status in (FROZEN, CLOSED):
        return None
    if is_expired(card.expiry_month, card.expiry_year, now):
        return None
    amount = req.amount_minor
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_AMOUNT_MINOR:
        return None
    used = complete_usage(uow, card.id, now, usage_of(uow, card.id, now, tz=service.timezone), card.controls,
                          tz=service.timezone, mcc=merchant.mcc, merchant_id=merchant.id)
    if not evaluate(card.controls, used, amount, merchant.mcc, merchant.in_zone, merchant.id).allowed:
        return None
    available = uow.balance(card.bank_ledger_account_id).available_minor
    short = compute_shortfall(amount, available, card.funding.spend_tenge_first)
    ctx = AuthorizationContext(card.cardholder_id, card.id, Merchant(merchant.id, merchant.name, merchant.mcc,
                                                                     merchant.in_zone), amount, short, now)
    verdict = service.rules.check_authorization(uow, ctx)
    if verdict.decline_code is not None:
        return None
    flags = tuple(tuple(f) for f in verdict.flags)
    if short <= 0:
        return Proposal(card, merchant, amount, amount, available, 0, 0, (), flags)
    settings = card.funding
    needed = short + conversion_fee(short, settings.conversion_fee_bps)
    capacity: dict[str, int] = {}
    limited: set[str] = set()
    try:
        for asset in settings.order:
            cap = service.funder.capacity(uow, card.wallet_owner, asset, settings.slippage_cap_bps, needed)
            capacity[asset] = cap.proceeds_minor
            if cap.liquidity_limited:
                limited.add(asset)
            if settings.mode == "combine" and sum(capacity.values()) >= needed:
                break
    except FundingUnavailable:
        return None
    plan = plan_funding(settings, short, capacity, frozenset(limited))
    if partial_approval and plan.decline_code == rc.INSUFFICIENT_FUNDS:
        plan = plan_funding(settings, fundable_shortfall(settings.mode, settings.conversion_fee_bps, capacity),
                            capacity, frozenset(limited))
    if plan.decline_code is not None:
        return None
    approvable = amount - short + plan.shortfall_minor
    if approvable <= 0:
        return None
    return Proposal(card, merchant, amount, approvable, available, plan.shortfall_minor, plan.fee_minor,
                    plan.legs, flags)
