"""Wallets: a customer's balances, deposit addresses (custodian), sandbox money (faucet) and on-chain
BTC deposits on the embedded regtest node.

Withdrawals are NOT offered by this API yet: the custodian (wallet/custodian.py) can withdraw, but
the city's crypto balances that come from the faucet or ``deposit`` exist only in the ledger (no coins
behind them on the regtest chain), so a withdrawal would wait forever as ``pending_cold``; and the
facade has no audited ``withdraw`` verb with travel-rule data yet.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from ..auth import access
from ..conventions import IDEMPOTENCY_PARAM, city_write, install_converters, require_city
from ..responses import json_response
from . import PREFIX
from .schemas import ASSET_PATTERN, Strict, amount_field

blp = Blueprint("wallets", __name__, url_prefix=f"{PREFIX}/customers",
                description="A customer's balances, deposit addresses and sandbox money")
install_converters(blp)
CHAINS = ("bitcoin",)


class BalanceLine(Strict):
    asset = ma.fields.String(required=True)
    place = ma.fields.String(required=True, metadata={"description": "bank (the card's tenge account) or exchange "
                                                                     "(custodial account at the AIFC exchange)"})
    available_minor = ma.fields.Integer(required=True, metadata={"description": "ledger minus holds, minor units"})


class BalancesSchema(Strict):
    actor = ma.fields.String(required=True)
    at = ma.fields.String(required=True, metadata={"description": "sandbox time, ISO 8601"})
    balances = ma.fields.List(ma.fields.Nested(BalanceLine), required=True)


class AddressRequest(Strict):
    chain = ma.fields.String(load_default="bitcoin", validate=ma.validate.OneOf(CHAINS))


class AddressSchema(Strict):
    actor = ma.fields.String(required=True)
    chain = ma.fields.String(required=True)
    address = ma.fields.String(required=True, metadata={"description": "the customer's own deposit address "
                                                                       "(regtest bech32), stable once allocated"})


class FaucetRequest(Strict):
    asset = ma.fields.String(required=True, validate=ma.validate.Regexp(ASSET_PATTERN))
    amount_minor = amount_field()


class FaucetSchema(Strict):
    actor = ma.fields.String(required=True)
    asset = ma.fields.String(required=True)
    amount_minor = ma.fields.Integer(required=True)


class OnchainRequest(Strict):
    amount_minor = amount_field(description="satoshi sent to the customer's deposit address", minimum=1000)


class OnchainSchema(Strict):
    actor = ma.fields.String(required=True)
    txid = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    confirmations = ma.fields.Integer(required=True)
    amount_minor = ma.fields.Integer(required=True)


def balance_lines(city, actor: str) -> list[dict]:
    out = []
    for key, amount in sorted(city.balances(actor).items()):
        asset, _, where = key.partition("@")
        place = "exchange" if where or asset != "KZT" else "bank"
        out.append({"asset": asset, "place": place, "available_minor": int(amount)})
    return out


@blp.route("/<name:actor>/balances")
@access("customer")
@blp.response(200, BalancesSchema)
def balances(actor: str):
    """Available balances per asset: tenge on the card's bank account, crypto (and tenge) at the exchange."""
    city = require_city()
    return {"actor": actor, "at": city.now().isoformat(), "balances": balance_lines(city, actor)}


@blp.route("/<name:actor>/deposit-addresses", methods=["POST"])
@access("customer")
@blp.arguments(AddressRequest)
@blp.response(200, AddressSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def deposit_address(body: dict, actor: str):
    """The customer's BTC deposit address at the licensed custodian (allocated once, then the same).

    Starts the embedded regtest node on first use (about two seconds)."""
    city = require_city()
    city._actor(actor)
    city.licences.require(city.cfg.custody.custodian, "custody", city.now())

    def compute():
        return {"actor": actor, "chain": body["chain"],
                "address": city.custodian.deposit_address(actor, body["chain"])}, 200
    return json_response(*city_write(compute))


@blp.route("/<name:actor>/faucet", methods=["POST"])
@access()
@blp.arguments(FaucetRequest)
@blp.response(201, FaucetSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def faucet(body: dict, actor: str):
    """Sandbox money (operator): KZT to the bank account, KZTE minted against tenge, crypto into custody.
    Recorded in the audit log and as an acquisition for tax at the model price."""
    city = require_city()

    def compute():
        city.faucet(actor=actor, asset=body["asset"], amount_minor=body["amount_minor"])
        return {"actor": actor, "asset": body["asset"], "amount_minor": body["amount_minor"]}, 201
    return json_response(*city_write(compute))


@blp.route("/<name:actor>/onchain-deposits", methods=["POST"])
@access()
@blp.arguments(OnchainRequest)
@blp.response(201, OnchainSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def onchain_deposit(body: dict, actor: str):
    """A real BTC deposit on the embedded regtest chain (operator): sent to the customer's deposit address,
    mined to the configured confirmations, credited once by the custodian's scan."""
    city = require_city()

    def compute():
        out = city.onchain_deposit(actor=actor, amount_minor=body["amount_minor"])
        return {"actor": actor, "txid": out["txid"], "address": out["address"],
                "confirmations": out["confirmations"], "amount_minor": body["amount_minor"]}, 201
    return json_response(*city_write(compute))
