"""KZTE across processes: the ledger is authoritative, each process's EVM is a mirror of it.

The embedded KZTE token lives on an in-process EVM (eth-tester), so every process — a gunicorn
worker, a reopened city — has its own chain, deployed fresh and empty, while the ledger (and the
``stablecoin_operations`` journal of every mint and redemption, tied to its ledger transfer) is
shared in the database. A fresh chain would disagree with a ledger that already has KZTE in
circulation, and a mint in process A would be missing from process B's chain.

So a process's chain is a mirror, synchronised from the journal:

* when the issuer starts, every committed operation is replayed onto the new chain (net per
  address: the custodian's omnibus wallet, or wherever tokens were minted to);
* before each mint or redemption (under the issuer's lock ``stablecoin:KZTE``, so no other
  process is half-way through one) and inside ``verify()``'s peg check, the operations committed
  since the last sync by *other* processes are replayed; this process's own operations are already
  on its chain (the issuer made them there) and are skipped.

The peg check then compares this process's chain, synchronised, against the ledger's liability:
it still catches a chain change without its ledger half in this process, and a ledger change
without a journal row anywhere.

With a real shared chain (a JSON-RPC node) there is nothing to mirror; this module is only for the
embedded one.
"""
from __future__ import annotations

import threading
from collections import defaultdict

from stablecoin import Issuer
from stablecoin.attestation import CHECK_NAME, peg_problem, reserve_and_liability
from stablecoin.issuer import LOCK, any_issued, operations_after

MAX_SYNC_ROWS = 1_000_000


class MirroredIssuer(Issuer):
    """The KZTE issuer whose chain follows the shared operations journal (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._synced_through = 0          # every committed operation id <= this is on this chain
        self._own: set[int] = set()       # this process's operations above the watermark (already on chain)
        self._mutex = threading.RLock()

    # -- synchronisation ---------------------------------------------------------------
    def sync(self, conn) -> int:
        """Replay onto this chain the operations committed by other processes since the last sync;
        returns how many were replayed. The caller holds the issuer's lock (or is a fresh process)."""
        with self._mutex:
            rows = operations_after(conn, self._synced_through, limit=MAX_SYNC_ROWS)
            if not rows:
                return 0
            net: dict[str, int] = defaultdict(int)
            replayed = 0
            for op_id, kind, address, amount in rows:
                if op_id in self._own:
                    continue
                net[address] += amount if kind == "mint" else -amount
                replayed += 1
            # Per address the journal's total is never negative, so minting first then burning the
            # net of each address never asks the chain for tokens it does not have.
            for address, delta in sorted(net.items()):
                if delta > 0:
                    self.token.mint(self.minter, address, delta)
                elif delta < 0:
                    self._burn_from(address, -delta)
            self._synced_through = int(rows[-1][0])
            self._own = {i for i in self._own if i > self._synced_through}
            return replayed

    def _track(self, uow, op) -> None:
        # Marked before commit (we still hold the lock, no one else can sync past it); forgotten on
        # rollback, because a rolled-back id may be given to another process's operation.
        with self._mutex:
            self._own.add(op.id)
        uow.after_rollback(lambda: self._forget(op.id))

    def _forget(self, op_id: int) -> None:
        with self._mutex:
            self._own.discard(op_id)

    # -- the issuer's writes, synchronised first -----------------------------------------
    def mint(self, uow, to_owner, to_address, amount_minor, key=None, *, pay_from_account_id=None):
        uow.advisory_lock(LOCK)
        self.sync(uow.conn)
        op = super().mint(uow, to_owner, to_address, amount_minor, key, pay_from_account_id=pay_from_account_id)
        self._track(uow, op)
        return op

    def redeem(self, uow, holder_owner, amount_minor, to_account_id, key=None, *, from_address=None):
        uow.advisory_lock(LOCK)
        self.sync(uow.conn)
        op = super().redeem(uow, holder_owner, amount_minor, to_account_id, key, from_address=from_address)
        self._track(uow, op)
        return op

    # -- the peg check ------------------------------------------------------------------------
    def install_check(self, ledger) -> None:
        """Make ``ledger.verify()`` prove supply (this chain, synchronised) == liability <= reserve."""
        def check(conn) -> str | None:
            ledger.db.advisory_lock(conn, LOCK)
            self.sync(conn)
            reserve, liability = reserve_and_liability(conn)
            return peg_problem(reserve, liability, self.token.total_supply())
        ledger.add_check(CHECK_NAME, check)


def kzte_in_circulation(conn) -> bool:
    """True once any KZTE was ever minted on this database (a new process's chain must be re-seeded)."""
    return any_issued(conn)
