"""Cards: the card (masked PAN, status, spend controls, funding settings), freeze/unfreeze, the
cardholder's own controls and funding order, the statement.

A customer key reaches only its own cards (``card_id`` owner resolver: the cardholder). Controls can
only TIGHTEN the card programme's limits (and the programme's blocked categories stay blocked); the
funding order lists configured crypto assets; the conversion fee is the programme's.
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from card import statements
from card.controls import MAX_COUNT_LIMIT, MAX_SCOPED_LIMITS, WINDOWS, ScopedLimit
from card.errors import InvalidSpendControls
from card.pan import mask_pan
from sandbox.services import card_verification
from sandbox.services import cards as card_service

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    idempotent_write,
    page,
    page_schema,
    require_city,
)
from ..responses import json_response
from . import PREFIX
from .schemas import ASSET_PATTERN, PageQuery, Strict, amount_field

blp = Blueprint("cards", __name__, url_prefix=f"{PREFIX}/cards", description="Crypto cards (JIT-funded debit cards)")
MCC = ma.fields.String(validate=ma.validate.Regexp(r"^\d{4}$"))


COUNT = dict(strict=True, validate=ma.validate.Range(1, MAX_COUNT_LIMIT))


class ScopedLimitSchema(Strict):
    window = ma.fields.String(required=True, validate=ma.validate.OneOf(WINDOWS), metadata={
        "description": "one purchase (`transaction`, amount only), the day, the week (Monday to Sunday), the "
                       "month (the programme's calendar) or the card's `lifetime`"})
    mcc = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Regexp(r"^\d{4}$"))
    merchant_id = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(1, 64))
    amount_limit_minor = amount_field(required=False, load_default=None, allow_none=True,
                                      description="tiyn spent at the scope in the window")
    count_limit = ma.fields.Integer(load_default=None, allow_none=True, **COUNT,
                                    metadata={"description": "purchases at the scope in the window"})

    @ma.validates_schema
    def _a_scoped_limit(self, data: dict, **_kwargs) -> None:
        """The card package's own rules (one scope, a limit, no count per transaction), refused as 422 here."""
        try:
            ScopedLimit.from_dict(data)
        except InvalidSpendControls as error:
            raise ma.ValidationError(str(error)) from None


class ScopedLimitOut(Strict):
    window = ma.fields.String(required=True)
    mcc = ma.fields.String(allow_none=True, required=True)
    merchant_id = ma.fields.String(allow_none=True, required=True)
    amount_limit_minor = ma.fields.Integer(allow_none=True, required=True)
    count_limit = ma.fields.Integer(allow_none=True, required=True)


class ControlsSchema(Strict):
    per_transaction_limit_minor = amount_field(required=True, allow_none=True)
    daily_limit_minor = amount_field(required=True, allow_none=True)
    monthly_limit_minor = amount_field(required=False, load_default=None, allow_none=True)
    weekly_limit_minor = amount_field(required=False, load_default=None, allow_none=True,
                                      description="tiyn a week, Monday to Sunday in the programme's calendar")
    lifetime_limit_minor = amount_field(required=False, load_default=None, allow_none=True,
                                        description="tiyn over the card's whole life")
    daily_count_limit = ma.fields.Integer(required=True, allow_none=True, strict=True,
                                          validate=ma.validate.Range(1, 10_000))
    weekly_count_limit = ma.fields.Integer(load_default=None, allow_none=True, **COUNT,
                                           metadata={"description": "purchases a week (65 once reached)"})
    monthly_count_limit = ma.fields.Integer(load_default=None, allow_none=True, **COUNT)
    lifetime_count_limit = ma.fields.Integer(load_default=None, allow_none=True, **COUNT)
    allowed_mccs = ma.fields.List(MCC, load_default=None, allow_none=True, validate=ma.validate.Length(max=200))
    blocked_mccs = ma.fields.List(MCC, load_default=list, validate=ma.validate.Length(max=200))
    zone_only = ma.fields.Boolean(load_default=False)
    scoped_limits = ma.fields.List(ma.fields.Nested(ScopedLimitSchema), load_default=list,
                                   validate=ma.validate.Length(max=MAX_SCOPED_LIMITS), metadata={
                                       "description": "limits that count only purchases at one merchant category "
                                                      "or one merchant, checked after the card-wide ones"})


class FundingSchema(Strict):
    order = ma.fields.List(ma.fields.String(validate=ma.validate.Regexp(ASSET_PATTERN)), required=True,
                           validate=ma.validate.Length(1, 8),
                           metadata={"description": "assets sold for a purchase, in this order"})
    mode = ma.fields.String(load_default=None, validate=ma.validate.OneOf(("combine", "fallback")),
                            metadata={"description": "combine assets (Binance) or one must cover all (Bitpanda)"})
    slippage_cap_bps = ma.fields.Integer(load_default=None, strict=True, validate=ma.validate.Range(0, 10_000))
    spend_tenge_first = ma.fields.Boolean(load_default=None)


class FundingOut(Strict):
    order = ma.fields.List(ma.fields.String(), required=True)
    mode = ma.fields.String(required=True)
    slippage_cap_bps = ma.fields.Integer(required=True)
    spend_tenge_first = ma.fields.Boolean(required=True)
    conversion_fee_bps = ma.fields.Integer(required=True)


class ControlsOut(Strict):
    per_transaction_limit_minor = ma.fields.Integer(allow_none=True, required=True)
    daily_limit_minor = ma.fields.Integer(allow_none=True, required=True)
    monthly_limit_minor = ma.fields.Integer(allow_none=True, required=True)
    weekly_limit_minor = ma.fields.Integer(allow_none=True, required=True)
    lifetime_limit_minor = ma.fields.Integer(allow_none=True, required=True)
    daily_count_limit = ma.fields.Integer(allow_none=True, required=True)
    weekly_count_limit = ma.fields.Integer(allow_none=True, required=True)
    monthly_count_limit = ma.fields.Integer(allow_none=True, required=True)
    lifetime_count_limit = ma.fields.Integer(allow_none=True, required=True)
    allowed_mccs = ma.fields.List(ma.fields.String(), allow_none=True, required=True)
    blocked_mccs = ma.fields.List(ma.fields.String(), required=True)
    zone_only = ma.fields.Boolean(required=True)
    scoped_limits = ma.fields.List(ma.fields.Nested(ScopedLimitOut), required=True)


class CardSchema(Strict):
    id = ma.fields.Integer(required=True)
    masked_pan = ma.fields.String(required=True)
    expiry = ma.fields.String(required=True, metadata={"example": "06/28"})
    status = ma.fields.String(required=True, metadata={"description": "active, frozen, closed or expired"})
    cardholder = ma.fields.String(required=True)
    controls = ma.fields.Nested(ControlsOut, required=True)
    funding = ma.fields.Nested(FundingOut, required=True)


class EventSchema(Strict):
    at = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    message_type = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "the ISO 8583 message behind it: 0100 authorization (and incremental), 0120 advice, "
                       "0200 refund credit, 0220 completion (capture, force post), 0400 reversal; null for "
                       "what the issuer records on its own (expiry, release)"})
    amount_minor = ma.fields.Integer(required=True)
    note = ma.fields.String(required=True)


class LegSchema(Strict):
    asset = ma.fields.String(required=True)
    sold_qty_minor = ma.fields.Integer(required=True)
    proceeds_minor = ma.fields.Integer(required=True)
    avg_price_minor = ma.fields.Integer(required=True, metadata={
        "description": "average price of the sale, tiyn per whole unit of the asset"})
    fee_minor = ma.fields.Integer(required=True)
    slippage_bps = ma.fields.Integer(required=True)


class StatementLine(Strict):
    id = ma.fields.Integer(required=True, metadata={"description": "the authorization id"})
    merchant_id = ma.fields.String(allow_none=True, required=True)
    amount_minor = ma.fields.Integer(required=True)
    response_code = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    auth_code = ma.fields.String(allow_none=True, required=True)
    captured_minor = ma.fields.Integer(required=True)
    reversed_minor = ma.fields.Integer(required=True)
    refunded_minor = ma.fields.Integer(required=True)
    conversion_fee_minor = ma.fields.Integer(required=True)
    at = ma.fields.String(required=True)
    day = ma.fields.String(required=True, metadata={
        "description": "the city's calendar day (sandbox.timezone) the purchase counts in for daily limits"})
    history = ma.fields.List(ma.fields.Nested(EventSchema), required=True)
    crypto_sold = ma.fields.List(ma.fields.Nested(LegSchema), required=True)


StatementPage = page_schema(StatementLine, "StatementPage")


class RevealedCardSchema(Strict):
    id = ma.fields.Integer(required=True)
    cardholder = ma.fields.String(required=True)
    pan = ma.fields.String(required=True, metadata={"description": "the full card number"})
    expiry = ma.fields.String(required=True, metadata={"example": "06/28"})
    cvv = ma.fields.String(required=True, metadata={"description": "the 3-digit CVV2, derived again (never stored)"})


def card_dict(card, now) -> dict:
    return {"id": card.id, "masked_pan": mask_pan(card.pan),
            "expiry": f"{card.expiry_month:02d}/{card.expiry_year % 100:02d}",
            "status": card.effective_status(now), "cardholder": card.cardholder_id,
            "controls": card.controls.to_dict(), "funding": card.funding.to_dict()}


def _by() -> str:
    principal = g.get("principal")
    return (principal.subject or principal.role) if principal is not None else "dashboard"


@blp.route("/<id:card_id>")
@access("customer")
@blp.response(200, CardSchema)
def get_card(card_id: int):
    """The card: masked number, expiry, status, spend controls and funding settings."""
    city = require_city()
    return city.ctx.read(lambda uow: card_dict(card_service.card(city.ctx, uow, card_id), uow.now()))


def _change(card_id: int, verb, **kwargs):
    """One card change (status, controls, funding) and its audit entry, in the request's one transaction."""
    city = require_city()

    def compute(uow):
        return card_dict(verb(city.ctx, uow, card_id=card_id, by=_by(), **kwargs), uow.now()), 200
    return json_response(*idempotent_write(compute))


@blp.route("/<id:card_id>/freeze", methods=["POST"])
@access("customer")
@blp.response(200, CardSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def freeze(card_id: int):
    """Freeze the card: purchases decline 62 (restricted card) until it is unfrozen; a frozen card is 409."""
    return _change(card_id, card_service.freeze_card)


@blp.route("/<id:card_id>/unfreeze", methods=["POST"])
@access("customer")
@blp.response(200, CardSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def unfreeze(card_id: int):
    """Unfreeze a frozen card."""
    return _change(card_id, card_service.unfreeze_card)


@blp.route("/<id:card_id>/reveal", methods=["POST"])
@access()   # operator only: a merchant, customer or regulator key gets 403
@blp.response(200, RevealedCardSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def reveal(card_id: int):
    """The card's full number, expiry and CVV (operator only), audited as ``card.revealed``. Every call
    is a fresh, audited reveal: the answer is never stored (so an Idempotency-Key does not replay it)."""
    city = require_city()

    def compute(uow):
        _attribute(uow)
        out = card_verification.reveal_card(city.ctx, uow, card_id=card_id, by=_by())
        return {"id": out.card_id, "cardholder": out.cardholder, "pan": out.pan, "expiry": out.expiry,
                "cvv": out.cvv}
    return json_response(city.ctx.transaction(compute), 200, {"Cache-Control": "no-store"})


@blp.route("/<id:card_id>/controls", methods=["PUT"])
@access("customer")
@blp.arguments(ControlsSchema)
@blp.response(200, CardSchema)
def put_controls(body: dict, card_id: int):
    """Replace the card's spend controls (idempotent by nature: the same body twice is the same state): an
    optional limit left out (monthly, weekly, lifetime, the counts, the scoped limits) is removed. Limits
    above the programme's are refused (422); the programme's blocked categories stay blocked."""
    city = require_city()

    def change(uow):
        _attribute(uow)
        return card_dict(card_service.update_controls(city.ctx, uow, card_id=card_id, by=_by(), controls=body),
                         uow.now())
    return city.ctx.transaction(change)


@blp.route("/<id:card_id>/funding", methods=["PUT"])
@access("customer")
@blp.arguments(FundingSchema)
@blp.response(200, CardSchema)
def put_funding(body: dict, card_id: int):
    """Set which crypto pays for purchases and how (order, combine/fallback, slippage cap up to the programme's)."""
    city = require_city()

    def change(uow):
        _attribute(uow)
        return card_dict(card_service.update_funding(city.ctx, uow, card_id=card_id, by=_by(), **body), uow.now())
    return city.ctx.transaction(change)


def _attribute(uow) -> None:
    """Record this request's id on ``uow`` for the events it writes (a PUT carries no idempotency key)."""
    from flask import g

    from sandbox import events
    events.attribute(uow, request_id=g.get("request_id"))


@blp.route("/<id:card_id>/statement")
@access("customer")
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, StatementPage)
def statement(card_id: int, limit: int, after_id: int | None = None):
    """Every purchase on the card, oldest first: approvals and declines with their reason, clearing
    history and the crypto sold to fund each."""
    city = require_city()

    def read(uow):
        card_service.card(city.ctx, uow, card_id)  # 404 for an unknown card
        return statements.card_statement_page(uow, card_id, tz=city.cards.timezone, after_id=after_id,
                                              limit=limit + 1)
    lines = city.ctx.read(read)
    items = [{"id": x["authorization_id"], **{k: v for k, v in x.items() if k not in ("authorization_id", "card_id")}}
             for x in lines]
    return page(items, limit)
