"""The city's embedded chains in one process: KZTE's in-process EVM and the Bitcoin regtest node behind
the custodian, started on first use, and this process's ownership of the Bitcoin chain.

Both live in this process's memory. KZTE's chain is a mirror of the ledger's journal
(``sandbox/kzte_mirror.py``), so every process may keep its own. The Bitcoin chain is not: only one
process per database may do on-chain work (``require_chains_shared``).
"""
from __future__ import annotations

import threading
from typing import Any

from ledger.db import lock_key

from .errors import ChainNotShared

MAX_BTC_SAT = 21_000_000 * 100_000_000   # every bitcoin there will ever be, in satoshi


class LazyIssuer:
    """Stands in for the KZTE issuer until first use (deploying the contract costs seconds)."""

    def __init__(self, city: "EmbeddedChains") -> None:
        self._city = city

    def __getattr__(self, name: str) -> Any:
        return getattr(self._city.issuer, name)


class EmbeddedChains:
    """Mixin of ``CityContext``: it needs ``cfg``, ``seed``, ``db``, ``ledger`` and ``clock``."""

    def init_chains(self, chains_shared: bool) -> None:
        # False when several processes serve this city while its chains live in one process's memory
        # (``cryptocity serve --workers N``): on-chain verbs are then refused, never diverged.
        self.chains_shared = chains_shared
        self._issuer = None
        self._issuer_lock = threading.Lock()
        self._custodian = None
        self._btc_node = None
        self.custody_lock = threading.RLock()   # the embedded regtest node is not thread-safe
        self._chain_claim = None                 # this process's ownership of the embedded chain
        self.blocklist_loaded = False

    def release_chains(self) -> None:
        if self._chain_claim is not None:
            self._chain_claim.close()   # releases the lock (file lock or the session's advisory lock)
            self._chain_claim = None

    def require_chains_shared(self, what: str) -> None:
        """Refuse an on-chain verb unless this process may use the city's embedded Bitcoin chain.

        That chain lives in one process's memory, so it must be the only process doing on-chain work on
        this database: otherwise each would have its own chain (identical txids, deposits dropped by the
        credit-once rule). Refused when the city is served by several workers (``chains_shared=False``)
        or when another process (another ``serve``, a script) already owns the chain of this database —
        ownership is a lock held for the life of the process: a PostgreSQL session advisory lock, or an
        exclusive lock on a file beside the SQLite database, both released by ``close()`` or by exit."""
        if not self.chains_shared:
            raise ChainNotShared(
                f"{what} needs the city's blockchain, which lives in one server process, but this city is "
                "served by several processes; serve it with one process (`cryptocity serve --workers 1`) "
                "for on-chain deposits and withdrawals — everything else works with several")
        if self._chain_claim is None:
            with self.custody_lock:
                if self._chain_claim is None:
                    self._chain_claim = self._claim_chain(what)

    def _claim_chain(self, what: str):
        refused = ChainNotShared(
            f"{what} needs the city's blockchain, which lives in the memory of the process that first used it, "
            "and another process on this database owns it; do on-chain work through that process, or stop it — "
            "one process per database for on-chain deposits and withdrawals")
        if self.db.is_sqlite:
            import fcntl
            path = self.db.url.split(":///", 1)[-1].split("?", 1)[0] + ".chain-owner"
            handle = open(path, "a")  # noqa: SIM115 - held open for the life of the claim
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise refused from None
            return handle
        conn = self.db.engine.connect()
        if not conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(k)s)",
                                    {"k": lock_key("sandbox:embedded-chain")}).scalar():
            conn.close()
            raise refused
        conn.commit()
        return conn

    @property
    def issuer(self):
        """The KZTE issuer on an in-process EVM, deployed on first use and seeded from the ledger's
        journal of mints and redemptions (a mirror: see sandbox/kzte_mirror.py); ``verify()`` then
        proves the peg."""
        if self._issuer is None:
            with self._issuer_lock:
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
        """The exchange's BTC custodian on the embedded regtest node (HD keys from the seed), built on first use."""
        if self._custodian is None:
            with self.custody_lock:
                if self._custodian is None:
                    from wallet.bitcoin.node import RegtestNode
                    from wallet.custodian import Custodian, WalletConfig
                    from wallet.keys import HDKeys, MasterSeed

                    node = RegtestNode(self.clock, seed=self.seed)
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

