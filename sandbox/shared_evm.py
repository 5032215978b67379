"""The city's EVM on one shared node (anvil, by URL): KZTE, test USDT and ETH deposits for every process.

With ``evm_url`` set (``cryptocity serve --evm-url`` or ``--anvil``, or ``CRYPTOCITY_EVM_URL``) every
process of the city uses the same node instead of its own in-process eth-tester chain:

* the contracts (KZTE, and a test USDT deployed from the same Vyper source with 6 decimals) are
  deployed once per chain, under a database lock, and their addresses stored in the wallet's
  ``wallet_evm_contracts`` table; every other process, and every restart, finds them there and checks
  that the node still has their code (a node that lost its state is named, not redeployed over);
* transactions are sent from the node's unlocked dev accounts with ``eth_sendTransaction``, so the
  node assigns nonces: processes never race for one;
* deposits are found by the custodian's scan from a block cursor in the database and credited once
  (unique on chain, txid, log index), under one lock so two processes never scan the same blocks at once;
* there is no KZTE mirror (``kzte_mirror.py`` is for the in-process chain only): the chain is shared.

``verify()`` then proves, besides the KZTE peg, that what the custodian's addresses hold on the node
equals what the ledger says they hold (ETH, USDT), and names the difference otherwise.
"""
from __future__ import annotations

from ledger.amounts import format_amount

from .errors import CityError

CONTRACTS_LOCK = "sandbox:evm-contracts"
DEPOSIT_LOCK = "sandbox:evm-deposits"        # an on-chain EVM deposit, from faucet payment to credit
TEST_USDT = {"name": "Tether USD (sandbox test token)", "symbol": "USDT", "decimals": 6}
MINTER_ALLOWANCE = 10**30
CUSTODY_CHECK = "custodian's ETH and USDT on the shared EVM node = what the ledger says they hold"


class EvmStateLost(CityError):
    """The shared EVM node does not have a contract this database deployed on it (its state was lost)."""

    code = "evm_state_lost"


class SharedEvm:
    """One process's client of the city's shared EVM node (see the module docstring)."""

    def __init__(self, url: str) -> None:
        from web3 import Web3

        from wallet.evm import EvmChain
        self.url = url
        self.w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
        self.chain = EvmChain(self.w3)
        self.chain_id = int(self.w3.eth.chain_id)
        # The node's dev accounts (unlocked): 0 owns the contracts and funds faucet payments, 1 mints
        # KZTE, 2 holds the KZTE behind customers' ledger balances (the exchange's omnibus address).
        self.owner, self.minter, self.kzte_holder = (Web3.to_checksum_address(a) for a in self.w3.eth.accounts[:3])

    def __repr__(self) -> str:
        return f"SharedEvm({self.url}, chain id {self.chain_id})"

    # -- contracts, deployed once per chain ------------------------------------------------------
    def contract(self, ledger, name: str, deploy) -> str:
        """The address of contract ``name`` on this chain: read from the database, or deployed by
        ``deploy()`` and recorded, under a lock so that exactly one process deploys it."""
        from wallet import queries

        def find_or_deploy(uow) -> str:
            uow.advisory_lock(CONTRACTS_LOCK)
            address = queries.evm_contract(uow.conn, self.chain_id, name)
            if address is not None:
                if self.w3.eth.get_code(address) in (b"", None):
                    raise EvmStateLost(
                        f"the EVM node at {self.url} (chain id {self.chain_id}) has no {name} contract at {address}, "
                        "where this database deployed it: the node was reset or lost its state file. Restart it "
                        "with its --state file, or point the city at a new database", contract=name, address=address)
                return address
            address = deploy()
            queries.record_evm_contract(uow.conn, self.chain_id, name, address, uow.now())
            return address
        return ledger.transaction(find_or_deploy, retries=0)

    def kzte_token(self, ledger, symbol: str):
        from stablecoin import Token, deploy

        def fresh() -> str:
            token = deploy(self.w3, self.owner, symbol=symbol)
            token.configure_minter(self.owner, self.minter, 10**15)
            return token.address
        return Token(self.w3, self.contract(ledger, symbol, fresh))

    def usdt_token(self, ledger):
        from stablecoin import Token, deploy

        def fresh() -> str:
            token = deploy(self.w3, self.owner, TEST_USDT["name"], TEST_USDT["symbol"], TEST_USDT["decimals"])
            token.configure_minter(self.owner, self.owner, MINTER_ALLOWANCE)
            return token.address
        return Token(self.w3, self.contract(ledger, "USDT", fresh))

    # -- the sandbox faucet on the shared chain ---------------------------------------------------
    def pay(self, asset: str, to: str, raw: int, usdt) -> str:
        """Send ``raw`` (wei, or USDT base units) to ``to`` from the node's faucet account; returns the txid."""
        if asset == "ETH":
            return self.chain.faucet(to, raw // 10**9)
        receipt = usdt.mint(self.owner, to, raw)
        return receipt["transactionHash"].to_0x_hex()

    def mine(self, blocks: int) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])


def custody_on_chain(conn, custodian, assets=("ETH", "USDT")) -> dict[str, dict]:
    """Per asset: what the custodian's addresses hold on the node against what the ledger says they hold
    (``-external:chain:<asset>``, plus deposits seen but not yet credited), the difference, and in words
    what is wrong when they disagree (``problem``; None when they agree)."""
    from sqlalchemy import func, select

    from wallet import tables as wt
    out = {}
    for asset in assets:
        if asset != "ETH" and asset not in custodian.tokens:
            continue
        report = custodian.reserves_report(asset)
        pending = int(conn.execute(select(func.coalesce(func.sum(wt.deposits.c.amount_minor), 0)).where(
            wt.deposits.c.asset == asset, wt.deposits.c.status == "pending")).scalar_one())
        ledger_minor = report["ledger_onchain_minor"] + pending
        difference = report["onchain_minor"] - ledger_minor
        out[asset] = {"contract": custodian.tokens[asset].address if asset in custodian.tokens else None,
                      "onchain_minor": report["onchain_minor"], "ledger_minor": ledger_minor,
                      "pending_minor": pending, "difference_minor": difference,
                      "liabilities_minor": report["liabilities_minor"], "agrees": difference == 0,
                      "problem": None if difference == 0 else (
                          f"{asset}: the custodian's addresses hold {format_amount(report['onchain_minor'], asset)} "
                          f"on the EVM node but the ledger says {format_amount(ledger_minor, asset)} (difference "
                          f"{format_amount(difference, asset)}): chain and ledger disagree")}
    return out


def install_custody_check(ledger, custodian) -> None:
    """Make ``ledger.verify()`` prove that the custodian's addresses hold on chain what the ledger says,
    naming any difference (``custody_on_chain``)."""
    def check(conn) -> str | None:
        ledger.db.advisory_lock(conn, DEPOSIT_LOCK)   # no deposit half-way between chain and ledger
        problems = [row["problem"] for row in custody_on_chain(conn, custodian).values() if row["problem"]]
        return "; ".join(problems) or None
    ledger.add_check(CUSTODY_CHECK, check)
