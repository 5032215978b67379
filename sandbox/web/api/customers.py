"""Customers of the city: onboard (operator), list, one customer, KYC tier (read; changed by the operator).

A customer key (``cryptocity keys create customer --for <actor>``) sees only its own actor: every
``/customers/<actor>/...`` path is checked by the ``actor`` owner resolver (another actor is a 404),
and the list is pinned to the key's own actor.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from card.pan import mask_pan
from sandbox.services import customers as customer_service
from sandbox.services.customers import check_actor_name

from ..auth import access, owner_scope
from ..conventions import (
    IDEMPOTENCY_PARAM,
    city_read,
    idempotent_write,
    install_converters,
    page,
    page_schema,
    require_city,
)
from ..responses import json_response
from . import PREFIX
from .schemas import (
    ACTOR_PATTERN,
    ASSET_PATTERN,
    MAX_AMOUNT_MINOR,
    OWNER_PATTERN,
    PageQuery,
    Strict,
)

blp = Blueprint("customers", __name__, url_prefix=f"{PREFIX}/customers",
                description="Customers: onboarding (KYC tier, residency, tenge bank account, card)")
install_converters(blp)


class OnboardSchema(Strict):
    actor = ma.fields.String(required=True, validate=ma.validate.Regexp(ACTOR_PATTERN),
                             metadata={"description": "the customer's id (ledger owner, cardholder id)"})
    kyc_tier = ma.fields.String(load_default="basic", validate=ma.validate.Length(1, 32),
                                metadata={"description": "a configured KYC tier, e.g. none, basic, full"})
    full_name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=400),
                                 metadata={"description": "the customer's name as people read it (1-200 printable "
                                                          "characters once trimmed; refused as invalid_name otherwise)"})
    resident = ma.fields.Boolean(load_default=None, allow_none=True, metadata={
        "description": "tax resident of Kazakhstan (default: by days_in_kazakhstan when given, else resident)"})
    days_in_kazakhstan = ma.fields.Integer(load_default=None, allow_none=True, strict=True,
                                           validate=ma.validate.Range(0, 366),
                                           metadata={"description": "days present in the 12 months before now: "
                                                                    "residency by the 183-day rule"})
    aifc_investor = ma.fields.Boolean(load_default=False)
    deposits = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(ASSET_PATTERN)),
        values=ma.fields.Integer(strict=True, validate=ma.validate.Range(0, MAX_AMOUNT_MINOR)),
        load_default=dict, validate=ma.validate.Length(max=10),
        metadata={"description": "asset -> amount in minor units credited at onboarding "
                                 "(KZT to the bank account, KZTE minted against tenge, crypto into custody)"})


class OnboardedSchema(Strict):
    actor = ma.fields.String(required=True)
    iban = ma.fields.String(required=True)
    card_id = ma.fields.Integer(required=True)
    masked_pan = ma.fields.String(required=True, metadata={"example": "400000******0010"})
    # shown in the first answer only (test mode, like Stripe's test cards); a replay leaves them out
    pan = ma.fields.String(metadata={"description": "the full card number: first answer only"})
    expiry = ma.fields.String(metadata={"description": "MM/YY: first answer only", "example": "06/28"})
    cvv = ma.fields.String(metadata={"description": "the 3-digit CVV2: first answer only (never stored; "
                                                    "an operator can reveal it: POST /cards/{card_id}/reveal)"})


class CustomerSchema(Strict):
    id = ma.fields.Integer(required=True, metadata={"description": "the customer's number at the sandbox bank (the pagination cursor)"})
    actor = ma.fields.String(required=True)
    owner = ma.fields.String(required=True, metadata={"description": "ledger owner of the customer's accounts"})
    full_name = ma.fields.String(allow_none=True, required=True, metadata={"description": "as stored at onboarding"})
    iban = ma.fields.String(required=True)
    card_id = ma.fields.Integer(allow_none=True, required=True)
    masked_pan = ma.fields.String(allow_none=True, required=True)
    kyc_tier = ma.fields.String(required=True)
    resident = ma.fields.Boolean(required=True)
    aifc_investor = ma.fields.Boolean(required=True)


CustomerPage = page_schema(CustomerSchema, "CustomerPage")


class CustomerFilter(PageQuery):
    owner = ma.fields.String(validate=ma.validate.Regexp(OWNER_PATTERN),
                             metadata={"description": "only this actor (a customer key may name only itself)"})


class KycSchema(Strict):
    actor = ma.fields.String(required=True)
    kyc_tier = ma.fields.String(required=True)
    can_trade = ma.fields.Boolean(required=True)
    can_pay = ma.fields.Boolean(required=True)
    per_transaction_limit_minor = ma.fields.Integer(required=True, metadata={"description": "tiyn; 0: no limit"})
    daily_limit_minor = ma.fields.Integer(required=True)
    monthly_limit_minor = ma.fields.Integer(required=True)
    resident = ma.fields.Boolean(required=True)
    aifc_investor = ma.fields.Boolean(required=True)


class KycChangeSchema(Strict):
    kyc_tier = ma.fields.String(required=True, validate=ma.validate.Length(1, 32),
                                metadata={"description": "a configured KYC tier, e.g. none, basic, full"})
    reason = ma.fields.String(load_default="", validate=[ma.validate.Length(max=300),
                                                         ma.validate.Predicate("isprintable",
                                                                               error="reason must be printable text")],
                              metadata={"description": "why (recorded in the audit log)"})


def customer_dict(row) -> dict:
    """``row``: a ``card.issuing.CustomerListing`` (bank account, card, the city's profile)."""
    return {"id": row.bank_account_id, "actor": row.customer_id, "owner": row.customer_id,
            "full_name": row.full_name, "iban": row.iban,
            "card_id": row.card_id, "masked_pan": mask_pan(row.pan), "kyc_tier": row.kyc_tier or "none",
            "resident": True if row.resident is None else bool(row.resident),
            "aifc_investor": bool(row.aifc_investor)}


@blp.route("", methods=["POST"])
@access()
@blp.arguments(OnboardSchema)
@blp.response(201, OnboardedSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def onboard(body: dict):
    """Onboard a customer (operator): KYC tier and residency, a tenge bank account with a KZ IBAN, a card,
    and optional deposits. The first answer shows the card's full number, expiry and CVV once (test mode);
    a replay of the same Idempotency-Key shows the masked number only (the CVV is never stored). An actor
    can be onboarded once (409)."""
    city = require_city()
    check_actor_name(body["actor"])
    shown: dict = {}

    def compute(uow):
        out = customer_service.onboard(city.ctx, uow, actor=body["actor"], kyc_tier=body["kyc_tier"],
                                       resident=body["resident"], aifc_investor=body["aifc_investor"],
                                       deposits=body["deposits"], full_name=body["full_name"],
                                       days_in_kazakhstan=body["days_in_kazakhstan"])
        shown.update(pan=out.pan, expiry=out.expiry, cvv=out.cvv)   # kept out of the stored response
        return {"actor": out.actor, "iban": out.iban, "card_id": out.card_id, "masked_pan": mask_pan(out.pan)}, 201
    answer, status, headers = idempotent_write(compute)
    if not headers.get("Idempotent-Replayed"):
        answer = {**answer, **shown}
    return json_response(answer, status, headers)


@blp.route("")
@access("customer", scope="owner")
@blp.arguments(CustomerFilter, location="query", as_kwargs=True)
@blp.response(200, CustomerPage)
def list_customers(limit: int, after_id: int | None = None, owner: str | None = None):
    """Customers, oldest first; a customer key sees only itself."""
    pinned = {p for p in (owner_scope(), owner) if p is not None}
    if len(pinned) > 1:
        return page([], limit)
    rows = city_read(lambda uow: customer_service.customers(uow, only=next(iter(pinned), None), after_id=after_id,
                                                            limit=limit + 1))
    return page([customer_dict(r) for r in rows], limit)


def one(city, actor: str) -> dict:
    return customer_dict(city.ctx.read(lambda uow: customer_service.customer(uow, actor)))


@blp.route("/<name:actor>")
@access("customer")
@blp.response(200, CustomerSchema)
def get_customer(actor: str):
    """One customer: IBAN, card (masked), KYC tier, residency."""
    return one(require_city(), actor)


@blp.route("/<name:actor>/kyc")
@access("customer")
@blp.response(200, KycSchema)
def get_kyc(actor: str):
    """The customer's KYC tier and what it allows (trading, paying, limits in tiyn)."""
    city = require_city()
    return kyc_dict(city, city.profile(actor))


@blp.route("/<name:actor>/kyc", methods=["POST"])
@access()
@blp.arguments(KycChangeSchema)
@blp.response(200, KycSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def change_kyc(body: dict, actor: str):
    """Move the customer to another KYC tier (operator only: a customer cannot raise its own tier; a
    regulator reads it). Its limits apply from the next purchase or trade; audited as
    ``customer.kyc_changed`` with the old and new tier and the reason. An unconfigured tier is a 422
    naming the configured ones; setting the current tier again changes nothing."""
    city = require_city()

    def compute(uow):
        customer_service.set_kyc_tier(city.ctx, uow, actor=actor, kyc_tier=body["kyc_tier"], reason=body["reason"])
        return kyc_dict(city, customer_service.profile(city.ctx, uow, actor)), 200
    return json_response(*idempotent_write(compute))


def kyc_dict(city, profile) -> dict:
    actor = profile.customer_id
    tier = city.cfg.kyc.tiers.get(profile.kyc_tier)
    return {"actor": actor, "kyc_tier": profile.kyc_tier, "can_trade": bool(tier and tier.can_trade),
            "can_pay": bool(tier and tier.can_pay),
            "per_transaction_limit_minor": tier.per_transaction_limit_minor if tier else 0,
            "daily_limit_minor": tier.daily_limit_minor if tier else 0,
            "monthly_limit_minor": tier.monthly_limit_minor if tier else 0,
            "resident": bool(profile.resident), "aifc_investor": bool(profile.aifc_investor)}
