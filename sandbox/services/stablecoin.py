"""KZTE, the tenge stablecoin: mint against tenge, redeem to tenge, the regulator's address freeze.

Mint and redeem move the ledger and the chain together (``stablecoin/issuer.py``: a chain call the unit of
work compensates if it rolls back); the issuer must hold the National Bank's licence.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import audit, city_state, events
from ..context import CityContext
from ..errors import AddressProtected, InvalidAddress
from ..tax import ACQUISITION, DISPOSAL, tax_events
from .result import Result


@dataclass(frozen=True)
class KzteMoved(Result):
    amount_minor: int
    status: str = "ok"


@dataclass(frozen=True)
class AddressFreeze(Result):
    address: str
    frozen: bool


def mint(city: CityContext, uow, *, actor: str, amount_minor: int) -> KzteMoved:
    """Pay tenge from the bank account into the KZTE reserve and receive the same KZTE."""
    customer = city_state.require_customer(uow.conn, actor)
    city.licences.require(city.issuer_id, "stablecoin_issuer", uow.now())
    city.issuer.mint(uow, actor, None, amount_minor, pay_from_account_id=customer.bank_ledger_account_id)
    audit.append(uow, city.issuer_id, "kzte.mint", actor, {
        "customer": actor, "amount_minor": amount_minor,
        "tax": tax_events(ACQUISITION, "KZTE", amount_minor, amount_minor, "mint")})
    events.emit(uow, "kzte.minted", {"object": "kzte", "customer": actor, "amount_minor": amount_minor,
                                     "asset": "KZTE"}, customer=actor)
    return KzteMoved(amount_minor)


def redeem(city: CityContext, uow, *, actor: str, amount_minor: int) -> KzteMoved:
    """Burn KZTE and receive the same tenge on the bank account."""
    customer = city_state.require_customer(uow.conn, actor)
    city.licences.require(city.issuer_id, "stablecoin_issuer", uow.now())
    city.issuer.redeem_to_tenge(uow, actor, amount_minor, customer.bank_ledger_account_id)
    audit.append(uow, city.issuer_id, "kzte.redeem", actor, {
        "customer": actor, "amount_minor": amount_minor,
        "tax": tax_events(DISPOSAL, "KZTE", amount_minor, amount_minor, "redeem")})
    events.emit(uow, "kzte.redeemed", {"object": "kzte", "customer": actor, "amount_minor": amount_minor,
                                       "asset": "KZTE"}, customer=actor)
    return KzteMoved(amount_minor)


def _regulator_account(city: CityContext) -> str:
    """The EVM account holding the token's regulator role (granted by the owner on first use)."""
    issuer = city.issuer
    w3 = issuer.token.w3 if hasattr(issuer.token, "w3") else None
    accounts = w3.eth.accounts if w3 is not None else []
    regulator = accounts[3] if len(accounts) > 3 else issuer.owner
    if issuer.token.regulator() != regulator:
        issuer.token.set_regulator(issuer.owner, regulator)
    return regulator


def set_address_frozen(city: CityContext, uow, *, address: str, frozen: bool, by: str,
                       reason: str = "") -> AddressFreeze:
    """Freeze (or unfreeze) a KZTE holder address on chain: it can neither send nor receive.

    The issuer's own addresses (the custodian's omnibus wallet, the minter) cannot be frozen: that would
    stop every customer; freeze a customer's card or account instead."""
    from web3 import Web3
    if not isinstance(address, str) or not Web3.is_address(address):
        raise InvalidAddress(f"{address!r} is not an EVM address (0x + 40 hex digits)")
    issuer = city.issuer
    address = Web3.to_checksum_address(address)
    if address in {issuer.custodian, issuer.minter, issuer.owner}:
        raise AddressProtected("the issuer's own addresses (custodian omnibus wallet, minter, owner) cannot be "
                               "frozen: every customer's KZTE would stop", address=address)
    regulator = _regulator_account(city)
    if bool(issuer.token.is_frozen(address)) != frozen:
        (issuer.token.freeze if frozen else issuer.token.unfreeze)(regulator, address)
        # The chain moved first: undo it if this unit of work does not commit.
        uow.after_rollback(lambda: (issuer.token.unfreeze if frozen else issuer.token.freeze)(regulator, address))
        events.emit(uow, "kzte.address_frozen" if frozen else "kzte.address_unfrozen",
                    {"object": "kzte_address", "address": address, "frozen": frozen, "reason": reason})
    audit.append(uow, by, "kzte.frozen" if frozen else "kzte.unfrozen", address, {"reason": reason})
    return AddressFreeze(address, bool(issuer.token.is_frozen(address)))

