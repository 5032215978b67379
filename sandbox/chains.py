"""The city's chains: the Bitcoin regtest node behind the custodian and KZTE's in-process EVM, started
on first use; or, with ``evm_url``, KZTE, ETH and USDT on the city's one shared EVM node
(``sandbox/shared_evm.py``).

The Bitcoin chain lives in the database (``wallet.bitcoin.node``): every process serving the city uses
the same chain, and a restart continues it. KZTE's chain lives in this process's memory as a mirror of
the ledger's journal (``sandbox/kzte_mirror.py``), so every process may keep its own. ETH and test-USDT
custody needs the shared node (``require_evm_shared``). So any number of processes may serve one city.
"""
from __future__ import annotations

import threading
from typing import Any

from .errors import ChainNotShared

MAX_BTC_SAT = 21_000_000 * 100_000_000   # every bitcoin there will ever be, in satoshi
BTC_CHAIN_CHECK = "BTC on chain at the custodian's addresses >= what the ledger says they hold"


class LazyIssuer:
    """Stands in for the KZTE issuer until first use (deploying the contract costs seconds)."""

    def __init__(self, city: "EmbeddedChains") -> None:
        self._city = city

    def __getattr__(self, name: str) -> Any:
        return getattr(self._city.issuer, name)


class EmbeddedChains:
    """Mixin of ``CityContext``: it needs ``cfg``, ``seed``, ``db``, ``ledger`` and ``clock``."""

    def init_chains(self, evm_url: str | None = None) -> None:
        # The shared EVM node's URL (anvil; sandbox/shared_evm.py): then KZTE, ETH and USDT live on it for
        # every process, and on-chain EVM verbs need no single owner. None: KZTE on an in-process chain.
        self.evm_url = evm_url or None
        self._shared_evm = None
        self._evm_custodian = None
        self._issuer = None
        self._issuer_lock = threading.RLock()
        self._custodian = None
        self._btc_node = None
        self.custody_lock = threading.RLock()   # one on-chain verb at a time in this process
        self.blocklist_loaded = False
        self.ledger.add_check(BTC_CHAIN_CHECK, self._btc_chain_problem)

    def _btc_chain_problem(self, conn) -> str | None:
        """``verify()``: the chain in the database holds at the custodian's addresses what the ledger says.
        The chain's writer lock first, so no withdrawal commits between reading the ledger and the chain
        (READ COMMITTED would otherwise see the ledger before it and the chain after it)."""
        from types import SimpleNamespace

        from wallet.bitcoin.node import LOCK
        self.ledger.db.advisory_lock(conn, LOCK)
        return self.custodian.chain_problem("BTC", uow=SimpleNamespace(conn=conn))

    @property
    def shared_evm(self):
        """This process's client of the shared EVM node (``evm_url``), connected on first use; None without one."""
        if self.evm_url is None:
            return None
        if self._shared_evm is None:
            with self._issuer_lock:
                if self._shared_evm is None:
                    from .shared_evm import SharedEvm
                    self._shared_evm = SharedEvm(self.evm_url)
        return self._shared_evm

    def start_shared_evm(self) -> None:
        """With a shared EVM node: find (or deploy, once per chain) KZTE and test USDT and build the issuer and
        the ETH/USDT custodian now, at start-up, outside any request's transaction (deploying writes the
        contracts' addresses in a transaction of its own)."""
        if self.evm_url is not None:
            self.evm_custodian   # noqa: B018
            self.issuer          # noqa: B018

    def require_evm_shared(self, what: str) -> None:
        """Refuse an on-chain ETH or USDT verb unless the city has a shared EVM node (``evm_url``)."""
        if self.evm_url is None:
            raise ChainNotShared(
                f"{what} needs the city's shared EVM node, and none is configured; serve the city with "
                "`cryptocity serve --anvil` (or `--evm-url URL`, or set CRYPTOCITY_EVM_URL)")

    @property
    def evm_custodian(self):
        """The exchange's ETH and USDT custodian on the shared EVM node (same HD keys as the BTC custodian,
        so the same addresses in every process), with the test USDT registered; built on first use."""
        self.require_evm_shared("custody of ETH and USDT on chain")
        if self._evm_custodian is None:
            with self._issuer_lock:
                if self._evm_custodian is None:
                    from wallet.custodian import Custodian, WalletConfig
                    from wallet.keys import HDKeys, MasterSeed

                    from .shared_evm import install_custody_check
                    shared = self.shared_evm
                    self._usdt = shared.usdt_token(self.ledger)
                    custodian = Custodian(self.ledger, HDKeys(MasterSeed.for_sandbox(f"city:{self.seed}")),
                                          evm=shared.chain,
                                          config=WalletConfig(confirmations=dict(self.cfg.custody.confirmations)))
                    custodian.register_token("USDT", self._usdt.address)
                    install_custody_check(self.ledger, custodian)
                    self._evm_custodian = custodian
        return self._evm_custodian

    @property
    def usdt_token(self):
        """The test USDT contract on the shared EVM node."""
        self.evm_custodian   # noqa: B018 - deploys or finds it
        return self._usdt

    def _shared_issuer(self):
        """The KZTE issuer on the shared node: the contract deployed once (address in the database), no mirror;
        ``verify()`` reads the supply under the issuer's lock, so no mint is half-way through."""
        from stablecoin import Issuer
        from stablecoin.attestation import CHECK_NAME, peg_problem, reserve_and_liability
        from stablecoin.issuer import LOCK
        shared = self.shared_evm
        token = shared.kzte_token(self.ledger, self.cfg.stablecoin.symbol)
        issuer = Issuer(token, minter=shared.minter, custodian=shared.kzte_holder, owner=shared.owner)

        def check(conn) -> str | None:
            self.ledger.db.advisory_lock(conn, LOCK)
            reserve, liability = reserve_and_liability(conn)
            return peg_problem(reserve, liability, token.total_supply())
        self.ledger.add_check(CHECK_NAME, check)
        return issuer

    @property
    def issuer(self):
        """The KZTE issuer on an in-process EVM, deployed on first use and seeded from the ledger's
        journal of mints and redemptions (a mirror: see sandbox/kzte_mirror.py); ``verify()`` then
        proves the peg."""
        if self._issuer is None:
            with self._issuer_lock:
                if self._issuer is None and self.evm_url is not None:
                    self._issuer = self._shared_issuer()
                if self._issuer is None:
                    from web3 import EthereumTesterProvider, Web3

                    from stablecoin import deploy
                    from stablecoin.issuer import LOCK

                    from .kzte_mirror import MirroredIssuer
                    w3 = Web3(EthereumTesterProvider())
                    owner, minter, custodian = w3.eth.accounts[:3]
                    token = deploy(w3, owner, symbol=self.cfg.stablecoin.symbol)
                    token.configure_minter(owner, minter, 10**15)
                    issuer = MirroredIssuer(token, minter=minter, custodian=custodian, owner=owner)
                    with self.ledger.unit_of_work(read_only=True) as uow:
                        uow.advisory_lock(LOCK)
                        issuer.sync(uow.conn)   # KZTE already in circulation: re-seed this chain
                    issuer.install_check(self.ledger)
                    self._issuer = issuer
        return self._issuer

    @property
    def issuer_started(self) -> bool:
        return self._issuer is not None

    def start_issuer_if_issued(self) -> None:
        """A reopened city (or another process) with KZTE in circulation starts its chain, re-seeded from
        the ledger, so the peg is proven and reported rather than skipped."""
        if not self.issuer_started:
            from .kzte_mirror import kzte_in_circulation
            with self.db.engine.connect() as conn:
                issued = kzte_in_circulation(conn)
            if issued:
                self.issuer   # noqa: B018 - starting it installs the peg check

    @property
    def custodian(self):
        """The exchange's BTC custodian on the regtest chain in the city's database (HD keys from the seed),
        built on first use."""
        if self._custodian is None:
            with self.custody_lock:
                if self._custodian is None:
                    from wallet.bitcoin.node import RegtestNode
                    from wallet.custodian import Custodian, WalletConfig
                    from wallet.keys import HDKeys, MasterSeed

                    node = RegtestNode(self.ledger, seed=self.seed)
                    conf = dict(self.cfg.custody.confirmations)
                    # The travel rule's threshold is the city's, in tenge (custody.travel_rule_threshold),
                    # checked by ``withdraw`` at the model price; the custodian's own is set out of reach.
                    wallet_cfg = WalletConfig(confirmations=conf, travel_rule_threshold_minor={"BTC": MAX_BTC_SAT},
                                              coinbase_maturity=self.cfg.mining.coinbase_maturity_blocks)
                    self._btc_node = node
                    self._custodian = Custodian(self.ledger, HDKeys(MasterSeed.for_sandbox(f"city:{self.seed}")),
                                                btc=node, config=wallet_cfg)
        return self._custodian

    @property
    def btc_node(self):
        """The embedded regtest node (started with the custodian)."""
        self.custodian   # noqa: B018 - builds both
        return self._btc_node

