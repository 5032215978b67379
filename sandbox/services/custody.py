"""Custody: money arriving from outside the city (deposits, the sandbox faucet, real on-chain BTC
deposits), deposit addresses, and a customer's balances."""
from __future__ import annotations

from dataclasses import dataclass

from .. import audit, city_state, events
from ..context import CityContext
from ..errors import InvalidAmount, UnknownAsset
from ..incidents.state import chain_halted
from ..tax import ACQUISITION, tax_events
from .result import Result


ONCHAIN_ASSETS = ("BTC", "ETH", "USDT")


@dataclass(frozen=True)
class Deposited(Result):
    asset: str
    amount_minor: int
    status: str = "ok"


@dataclass(frozen=True)
class OnchainDeposited(Result):
    txid: str
    address: str
    confirmations: int
    credited: int
    status: str = "ok"


def check_deposit(city: CityContext, asset: str, amount_minor: int) -> None:
    """A configured asset and a non-negative whole number of minor units (the order of refusals)."""
    if city.cfg.asset(asset) is None:
        raise UnknownAsset(f"{asset} is not an asset of this city; configured: "
                           f"{', '.join(a.code for a in city.cfg.assets)}", asset=str(asset)[:16])
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor < 0:
        raise InvalidAmount(f"a deposit is a non-negative whole number of minor units, got {amount_minor!r}")


def deposit(city: CityContext, uow, *, actor: str, asset: str, amount_minor: int,
            source: str = "deposit") -> Deposited:
    """Money arriving from outside the city: KZT to the bank account, KZTE minted 1:1 against tenge paid
    into the reserve, other crypto to the customer's custodial exchange account. An acquisition at the
    model price for tax."""
    customer = city_state.require_customer(uow.conn, actor)
    check_deposit(city, asset, amount_minor)
    if amount_minor == 0:
        raise InvalidAmount("a deposit must be more than zero")
    if asset == "KZT":
        city.move_from_world(uow, "KZT", customer.bank_ledger_account_id, amount_minor,
                             f"{source}: tenge to {customer.iban}")
    elif asset == "KZTE":
        city.licences.require(city.issuer_id, "stablecoin_issuer", uow.now())
        city.issuer.mint(uow, actor, None, amount_minor, pay_from_account_id=city.world_account(uow, "KZT"))
    else:
        city.move_from_world(uow, asset, city.customer_account(uow, actor, asset), amount_minor,
                             f"{source}: {asset} into custody")
    audit.append(uow, actor, f"funds.{source}", actor, {
        "customer": actor, "asset": asset, "amount_minor": amount_minor,
        "tax": tax_events(ACQUISITION, asset, amount_minor, city.value_kzt(asset, amount_minor), source)})
    # Money from outside arrives at once (no chain to wait for): confirmed straight away.
    events.emit(uow, "deposit.confirmed", {"object": "deposit", "customer": actor, "asset": asset,
                                           "amount_minor": amount_minor, "source": source, "confirmations": None},
                customer=actor)
    return Deposited(asset, amount_minor)


def faucet(city: CityContext, uow, *, actor: str, asset: str, amount_minor: int) -> Deposited:
    """Test money from the sandbox faucet (the same path as a deposit, audited as ``funds.faucet``)."""
    return deposit(city, uow, actor=actor, asset=asset, amount_minor=amount_minor, source="faucet")


def deposit_address(city: CityContext, uow, *, actor: str, chain: str = "bitcoin") -> str:
    """The customer's deposit address at the licensed custodian (allocated once, then the same): derived
    from the custodian's HD keys, so every process gives the same address. ``ethereum`` needs the shared
    EVM node."""
    city_state.require_customer(uow.conn, actor)
    city.licences.require(city.custodian_id, "custody", uow.now())
    custodian = city.evm_custodian if chain == "ethereum" else city.custodian
    return custodian.deposit_address(actor, chain, uow=uow)


def onchain_deposit(city: CityContext, uow, *, actor: str, amount_minor: int, asset: str = "BTC") -> OnchainDeposited:
    """A real deposit: a transaction to the actor's own deposit address, mined to the configured
    confirmations, then credited exactly once by the custodian's scan. BTC on the embedded regtest chain;
    ETH (gwei) or USDT (micro-USDT) on the city's shared EVM node, paid by its faucet account."""
    city_state.require_customer(uow.conn, actor)
    check_deposit(city, asset, amount_minor)
    if amount_minor == 0:   # refused before any lock is taken or any address allocated
        raise InvalidAmount("a deposit must be more than zero")
    if asset not in ONCHAIN_ASSETS:
        raise UnknownAsset(f"on-chain deposits are {', '.join(ONCHAIN_ASSETS)}, not {asset}", asset=str(asset)[:16])
    city.licences.require(city.custodian_id, "custody", uow.now())
    if asset == "BTC":
        with city.custody_lock:
            custodian = city.custodian
            # The chain (in the database, shared by every process) is locked first, then the ledger's
            # accounts: every on-chain verb takes its locks in that order.
            city.btc_node.lock(uow)
            address = custodian.deposit_address(actor, "bitcoin", uow=uow)
            txid = city.btc_node.faucet(address, amount_minor, uow=uow)
            confirmations = max(1, city.cfg.custody.confirmations.get("BTC", 1))
            if chain_halted(uow.conn) is None:
                city.btc_node.mine(confirmations, uow=uow)
                credited = [d for d in custodian.scan(uow=uow) if d.get("owner") == actor]
            else:   # a chain halt (sandbox/incidents/): seen in the mempool, confirmed when the chain restarts
                confirmations, credited = 0, []
    else:
        txid, address, confirmations, credited = _evm_deposit(city, uow, actor, asset, amount_minor)
    audit.append(uow, city.custodian_id, "funds.deposit", actor, {
        "customer": actor, "asset": asset, "amount_minor": amount_minor, "txid": txid, "address": address,
        "tax": tax_events(ACQUISITION, asset, amount_minor, city.value_kzt(asset, amount_minor), "deposit", txid)})
    seen = {"object": "deposit", "customer": actor, "asset": asset, "amount_minor": amount_minor,
            "source": "onchain", "txid": txid, "address": address}
    # The transaction was seen unconfirmed, then mined to the configured depth, in this one call.
    events.emit(uow, "deposit.pending", dict(seen, confirmations=0), customer=actor)
    if credited:
        events.emit(uow, "deposit.confirmed", dict(seen, confirmations=confirmations), customer=actor)
    return OnchainDeposited(txid, address, confirmations, len(credited))


def _evm_deposit(city: CityContext, uow, actor: str, asset: str, amount_minor: int) -> tuple[str, str, int, list]:
    """ETH or USDT paid to the actor's Ethereum deposit address on the shared node, mined, scanned.

    Under one database lock from payment to commit: another process's scan or ``verify`` never sees the
    payment on chain without its ledger half. If this transaction rolls back, the payment stays on chain
    and the next scan (in any process) credits it: the scan cursor is the database's."""
    from ..shared_evm import DEPOSIT_LOCK
    city.require_evm_shared(f"an on-chain {asset} deposit")
    uow.advisory_lock(DEPOSIT_LOCK)
    custodian = city.evm_custodian
    address = custodian.deposit_address(actor, "ethereum", uow=uow)
    raw = amount_minor * 10**9 if asset == "ETH" else amount_minor   # gwei to wei; USDT has 6 decimals on both sides
    txid = city.shared_evm.pay(asset, address, raw, city.usdt_token)
    confirmations = max(1, city.cfg.custody.confirmations.get(asset, 1))
    city.shared_evm.mine(confirmations)
    credited = [d for d in custodian.scan(uow=uow) if d.get("owner") == actor]
    return txid, address, confirmations, credited


def scan_evm_deposits(city: CityContext, uow, *, mine_blocks: int = 0) -> int:
    """Credit deposits a participant sent from their own wallet to their Ethereum deposit address (ETH
    or test USDT) once they have the configured confirmations; returns how many were credited now.
    ``mine_blocks`` first mines that many blocks on the node (a dev node mines only when it is sent a
    transaction, so the sandbox supplies the confirmations)."""
    from ..shared_evm import DEPOSIT_LOCK
    city.require_evm_shared("scanning the EVM node for deposits")
    if not isinstance(mine_blocks, int) or isinstance(mine_blocks, bool) or not 0 <= mine_blocks <= 1000:
        raise InvalidAmount(f"mine_blocks is a whole number from 0 to 1000, got {mine_blocks!r}")
    uow.advisory_lock(DEPOSIT_LOCK)
    if mine_blocks:
        city.shared_evm.mine(mine_blocks)
    return len(city.evm_custodian.scan(uow=uow))


def balances(city: CityContext, uow, actor: str) -> dict[str, int]:
    """AVAILABLE minor units per asset: "KZT" is the card's bank account, crypto the custodial accounts,
    "KZT@exchange" tenge left on the exchange."""
    customer = city_state.require_customer(uow.conn, actor)
    out: dict[str, int] = {"KZT": uow.balance(customer.bank_ledger_account_id).available_minor}
    for acct in uow.accounts_of(actor):
        if acct.purpose != "customer":
            continue
        out["KZT@exchange" if acct.asset == "KZT" else acct.asset] = acct.available_minor
    return out
