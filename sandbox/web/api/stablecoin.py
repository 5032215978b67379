"""KZTE, the tenge stablecoin: a customer mints (pays tenge from the bank account into the reserve) and
redeems (burns KZTE, receives tenge); anyone with a key reads the reserve attestation; a regulator (or
the operator) freezes a holder address on chain.

The token is a real contract on an in-process EVM that starts on the first mint, redeem or freeze
(about five seconds); the attestation does not start it: before any KZTE exists it reports zeros.
"""
from __future__ import annotations

import marshmallow as ma
from flask import g
from flask_smorest import Blueprint

from sandbox.services import custody, stablecoin

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    idempotent_write,
    install_converters,
    require_city,
)
from ..responses import json_response
from . import PREFIX
from .schemas import Strict, amount_field

blp = Blueprint("stablecoin", __name__, url_prefix=PREFIX, description="KZTE: mint, redeem, reserves, freezes")
install_converters(blp)


class AmountBody(Strict):
    amount_minor = amount_field(description="tiyn of KZTE (1 KZTE = 1 KZT)")


class KzteOperation(Strict):
    actor = ma.fields.String(required=True)
    operation = ma.fields.String(required=True, metadata={"description": "mint or redeem"})
    amount_minor = ma.fields.Integer(required=True)
    kzte_minor = ma.fields.Integer(required=True, metadata={"description": "the customer's KZTE afterwards"})
    bank_kzt_minor = ma.fields.Integer(required=True, metadata={"description": "the bank account afterwards"})


class AttestationSchema(Strict):
    at = ma.fields.String(required=True)
    token = ma.fields.String(required=True)
    contract = ma.fields.String(allow_none=True, required=True)
    reserve_minor = ma.fields.Integer(required=True, metadata={"description": "tenge in the segregated reserve"})
    supply_minor = ma.fields.Integer(required=True, metadata={"description": "KZTE in circulation on chain"})
    liability_minor = ma.fields.Integer(required=True, metadata={"description": "KZTE owed per the ledger"})
    excess_reserve_minor = ma.fields.Integer(required=True)
    reserve_ratio = ma.fields.String(allow_none=True, required=True)
    peg_holds = ma.fields.Boolean(required=True)
    problem = ma.fields.String(allow_none=True, required=True)
    text = ma.fields.String(required=True)


class FreezeBody(Strict):
    address = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^0x[0-9a-fA-F]{40}$"))
    reason = ma.fields.String(load_default="", validate=[ma.validate.Length(max=300),
                                                         ma.validate.Predicate("isprintable")])


class FrozenSchema(Strict):
    address = ma.fields.String(required=True)
    frozen = ma.fields.Boolean(required=True)


def _operation(actor: str, amount_minor: int, verb: str):
    city = require_city()

    def compute(uow):
        getattr(stablecoin, verb)(city.ctx, uow, actor=actor, amount_minor=amount_minor)
        b = custody.balances(city.ctx, uow, actor)
        return {"actor": actor, "operation": verb, "amount_minor": amount_minor, "kzte_minor": int(b.get("KZTE", 0)),
                "bank_kzt_minor": int(b.get("KZT", 0))}, 201
    return json_response(*idempotent_write(compute))


@blp.route("/customers/<name:actor>/kzte/mint", methods=["POST"])
@access("customer")
@blp.arguments(AmountBody)
@blp.response(201, KzteOperation)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def mint(body: dict, actor: str):
    """Pay ``amount_minor`` tenge from the bank account into the KZTE reserve and receive the same KZTE."""
    return _operation(actor, body["amount_minor"], "mint")


@blp.route("/customers/<name:actor>/kzte/redeem", methods=["POST"])
@access("customer")
@blp.arguments(AmountBody)
@blp.response(201, KzteOperation)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def redeem(body: dict, actor: str):
    """Burn ``amount_minor`` KZTE and receive the same tenge on the bank account."""
    return _operation(actor, body["amount_minor"], "redeem")


@blp.route("/stablecoin/attestation")
@access(shared=True)
@blp.response(200, AttestationSchema)
def attestation():
    """Reserves vs supply right now: tenge reserve, KZTE on chain, the ledger's liability, and whether the
    peg holds (supply = liability <= reserve). Public: any key may read it."""
    city = require_city()
    if city.issuer_started:
        from stablecoin import attest
        return attest(city.ledger, city.issuer)
    at = city.now().isoformat()
    return {"at": at, "token": city.cfg.stablecoin.symbol, "contract": None, "reserve_minor": 0, "supply_minor": 0,
            "liability_minor": 0, "excess_reserve_minor": 0, "reserve_ratio": None, "peg_holds": True,
            "problem": None, "text": f"KZTE reserve attestation at {at}: no KZTE issued yet"}


def _freeze(body: dict, frozen: bool):
    city = require_city()
    principal = g.get("principal")
    by = principal.role if principal is not None else "operator"

    def compute(uow):
        return stablecoin.set_address_frozen(city.ctx, uow, address=body["address"], frozen=frozen, by=by,
                                             reason=body["reason"]).to_dict(), 200
    return json_response(*idempotent_write(compute))


@blp.route("/stablecoin/freezes", methods=["POST"])
@access("regulator")
@blp.arguments(FreezeBody)
@blp.response(200, FrozenSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def freeze(body: dict):
    """Freeze a KZTE holder address on chain (regulator or operator): it can no longer send or receive.
    The issuer's own addresses are protected (409)."""
    return _freeze(body, True)


@blp.route("/stablecoin/unfreezes", methods=["POST"])
@access("regulator")
@blp.arguments(FreezeBody)
@blp.response(200, FrozenSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def unfreeze(body: dict):
    """Lift a freeze (regulator or operator)."""
    return _freeze(body, False)
