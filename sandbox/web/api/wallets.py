"""Wallets: a customer's balances, deposit addresses (custodian), sandbox money (faucet), on-chain BTC
deposits and BTC withdrawals on the embedded regtest node.

Withdrawals (``POST /customers/{actor}/withdrawals``; operator or the customer itself) go through the
facade's audited ``withdraw`` verb and the licensed custodian (wallet/custodian.py): the address is
checked (bech32 checksum, regtest network), then the blocklist, the customer's whitelist, travel-rule
data at or above the city's threshold (tenge, at the model price) and the balance. Faucet and
``deposit`` balances exist only in the ledger, so the coins paid out come from the exchange's treasury:
the custodian's cold wallet, mined on the regtest chain when first needed (50 BTC tranches, its own
coins in ``custody:custodian:BTC``). When the hot wallet is short the withdrawal waits as
``pending_cold`` (amount and fee held), the hot wallet is refilled from cold, and the withdrawal is
broadcast, then mined to the configured confirmations, so the answer is normally ``confirmed`` with a
txid the node knows. Only BTC: other assets are a 422. Not a taxable disposal (coins move to the
customer's external wallet); the audit log records ``funds.withdrawal``.
"""
from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from sandbox.services import custody, withdrawals

from ..auth import access
from ..conventions import (
    IDEMPOTENCY_PARAM,
    idempotent_write,
    install_converters,
    page,
    page_schema,
    require_city,
)
from ..responses import json_response
from . import PREFIX
from .schemas import ASSET_PATTERN, PageQuery, Strict, amount_field

blp = Blueprint("wallets", __name__, url_prefix=f"{PREFIX}/customers",
                description="A customer's balances, deposit addresses, sandbox money and BTC withdrawals")
install_converters(blp)
CHAINS = ("bitcoin", "ethereum")   # ethereum: on the shared EVM node (`cryptocity serve --anvil`)


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
    amount_minor = amount_field(description="minor units sent to the customer's deposit address: satoshi, "
                                            "gwei (ETH) or micro-USDT", minimum=1000)
    asset = ma.fields.String(load_default="BTC", validate=ma.validate.OneOf(custody.ONCHAIN_ASSETS),
                             metadata={"description": "BTC on the embedded regtest chain; ETH or USDT on the "
                                                      "shared EVM node"})


class OnchainSchema(Strict):
    actor = ma.fields.String(required=True)
    txid = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    confirmations = ma.fields.Integer(required=True)
    amount_minor = ma.fields.Integer(required=True)


def balance_lines(balances: dict[str, int]) -> list[dict]:
    out = []
    for key, amount in sorted(balances.items()):
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
    return city.ctx.read(lambda uow: {"actor": actor, "at": uow.now().isoformat(),
                                      "balances": balance_lines(custody.balances(city.ctx, uow, actor))})


@blp.route("/<name:actor>/deposit-addresses", methods=["POST"])
@access("customer")
@blp.arguments(AddressRequest)
@blp.response(200, AddressSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def deposit_address(body: dict, actor: str):
    """The customer's BTC deposit address at the licensed custodian (allocated once, then the same).

    Starts the embedded regtest node on first use (about two seconds)."""
    city = require_city()

    def compute(uow):
        return {"actor": actor, "chain": body["chain"],
                "address": custody.deposit_address(city.ctx, uow, actor=actor, chain=body["chain"])}, 200
    return json_response(*idempotent_write(compute))


@blp.route("/<name:actor>/faucet", methods=["POST"])
@access()
@blp.arguments(FaucetRequest)
@blp.response(201, FaucetSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def faucet(body: dict, actor: str):
    """Sandbox money (operator): KZT to the bank account, KZTE minted against tenge, crypto into custody.
    Recorded in the audit log and as an acquisition for tax at the model price."""
    city = require_city()

    def compute(uow):
        custody.faucet(city.ctx, uow, actor=actor, asset=body["asset"], amount_minor=body["amount_minor"])
        return {"actor": actor, "asset": body["asset"], "amount_minor": body["amount_minor"]}, 201
    return json_response(*idempotent_write(compute))


@blp.route("/<name:actor>/onchain-deposits", methods=["POST"])
@access()
@blp.arguments(OnchainRequest)
@blp.response(201, OnchainSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def onchain_deposit(body: dict, actor: str):
    """A real deposit (operator): BTC on the embedded regtest chain, or ETH or test USDT on the shared EVM
    node, sent to the customer's deposit address, mined to the configured confirmations, credited once by
    the custodian's scan."""
    city = require_city()

    def compute(uow):
        out = custody.onchain_deposit(city.ctx, uow, actor=actor, amount_minor=body["amount_minor"],
                                      asset=body["asset"])
        return {"actor": actor, "txid": out.txid, "address": out.address, "confirmations": out.confirmations,
                "amount_minor": body["amount_minor"]}, 201
    return json_response(*idempotent_write(compute))


# ------------------------------------------------------------------ withdrawals
TRAVEL_RULE_FIELD = ma.fields.String(validate=ma.validate.Length(max=200))


class TravelRuleSchema(Strict):
    """FATF R.16 data (wallet/travel_rule.py): originator name, account and one identifier; beneficiary
    name and account (the destination address)."""
    originator_name = TRAVEL_RULE_FIELD
    originator_account = TRAVEL_RULE_FIELD
    beneficiary_name = TRAVEL_RULE_FIELD
    beneficiary_account = TRAVEL_RULE_FIELD
    originator_address = TRAVEL_RULE_FIELD
    originator_id = TRAVEL_RULE_FIELD
    originator_customer_number = TRAVEL_RULE_FIELD
    originator_birth_date_place = TRAVEL_RULE_FIELD


class WithdrawalRequest(Strict):
    asset = ma.fields.String(load_default="BTC", validate=ma.validate.Regexp(ASSET_PATTERN),
                             metadata={"description": "only BTC in this sandbox"})
    address = ma.fields.String(required=True, validate=ma.validate.Length(1, 100),
                               metadata={"description": "a regtest P2WPKH address (bcrt1q…)"})
    amount_minor = amount_field(description="satoshi to send; the network fee is added")
    travel_rule = ma.fields.Nested(TravelRuleSchema, load_default=None, allow_none=True,
                                   metadata={"description": "required at or above the city's travel-rule "
                                                            "threshold (custody.travel_rule_threshold, tenge)"})


class WithdrawalSchema(Strict):
    id = ma.fields.Integer(required=True)
    actor = ma.fields.String(required=True)
    asset = ma.fields.String(required=True)
    chain = ma.fields.String(required=True)
    address = ma.fields.String(required=True)
    amount_minor = ma.fields.Integer(required=True)
    fee_minor = ma.fields.Integer(required=True, metadata={"description": "network fee, satoshi, debited too"})
    status = ma.fields.String(required=True, metadata={"description": "pending_cold, broadcast or confirmed"})
    txid = ma.fields.String(allow_none=True, required=True)
    travel_rule_attached = ma.fields.Boolean(required=True)
    created_at = ma.fields.String(required=True, metadata={"description": "sandbox time, ISO 8601"})
    updated_at = ma.fields.String(required=True)


WithdrawalPage = page_schema(WithdrawalSchema, "WithdrawalPage")


@blp.route("/<name:actor>/withdrawals", methods=["POST"])
@access("customer")
@blp.arguments(WithdrawalRequest)
@blp.response(201, WithdrawalSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def withdraw(body: dict, actor: str):
    """Withdraw BTC to an address on the regtest chain (operator, or the customer itself).

    The amount plus the network fee leave the customer's balance; the answer carries the txid and the
    status (normally ``confirmed``: blocks are mined to the configured confirmations). Starts the
    embedded regtest node on first use (about two seconds). Refusals change nothing: an invalid address
    (``bad_address``), a blocked or non-whitelisted one, missing travel-rule data, a short balance
    (``insufficient_funds``), another asset (``withdrawal_asset_not_supported``)."""
    city = require_city()
    travel_rule = body["travel_rule"]

    def compute(uow):
        from flask import g
        out = withdrawals.withdraw(city.ctx, uow, actor=actor, asset=body["asset"], address=body["address"],
                                   amount_minor=body["amount_minor"], key=g.idempotency_key,
                                   travel_rule=dict(travel_rule) if travel_rule is not None else None)
        return out, 201
    return json_response(*idempotent_write(compute))


@blp.route("/<name:actor>/withdrawals")
@access("customer")
@blp.arguments(PageQuery, location="query", as_kwargs=True)
@blp.response(200, WithdrawalPage)
def list_withdrawals(actor: str, limit: int, after_id: int | None = None):
    """The customer's withdrawals, oldest first (operator, regulator, the customer itself)."""
    city = require_city()
    return page(city.withdrawals(actor, limit=limit + 1, after_id=after_id), limit)


class WhitelistRequest(Strict):
    chain = ma.fields.String(load_default="bitcoin", validate=ma.validate.OneOf(CHAINS))
    address = ma.fields.String(required=True, validate=ma.validate.Length(1, 100),
                               metadata={"description": "a regtest P2WPKH address (bcrt1q…)"})


class WhitelistedSchema(Strict):
    actor = ma.fields.String(required=True)
    chain = ma.fields.String(required=True)
    address = ma.fields.String(required=True)


@blp.route("/<name:actor>/whitelist", methods=["POST"])
@access()
@blp.arguments(WhitelistRequest)
@blp.response(200, WhitelistedSchema)
@blp.doc(parameters=[IDEMPOTENCY_PARAM])
def whitelist(body: dict, actor: str):
    """Put an address on the customer's withdrawal whitelist (operator): once a customer has one,
    withdrawals go only to listed addresses (``address_not_whitelisted`` otherwise). A malformed or
    other-network address is ``bad_address``; listing one twice changes nothing."""
    city = require_city()

    def compute(uow):
        done = withdrawals.whitelist_address(city.ctx, uow, actor=actor, chain=body["chain"],
                                                    address=body["address"])
        return {"actor": done.actor, "chain": done.chain, "address": done.address}, 200
    return json_response(*idempotent_write(compute))
