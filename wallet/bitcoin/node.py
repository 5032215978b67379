"""The embedded regtest node: a Bitcoin chain kept in the wallet's tables, so every process on the database
sees one chain (blocks, transactions, the UTXO set and the mempool) and a restart continues it.

Every transaction is validated before it enters the mempool (and so before any block): inputs exist and
are unspent (also against the mempool), outputs do not exceed inputs (the difference is the fee), and every
input carries a valid P2WPKH BIP143 signature (``validation.py``). Mempool acceptance and mining run under
one lock per chain — the advisory lock ``wallet:btc-chain`` and the chain's row locked ``FOR UPDATE`` on
PostgreSQL, SQLite's single writer — so two processes never accept conflicting spends or mine the same
height. Blocks are real serialized blocks (regtest header, proof of work at the regtest target) starting
at Bitcoin's own regtest genesis; block times come from the unit of work's sandbox time.

Each method takes the caller's unit of work as ``uow=`` (what it writes commits with the caller's writes);
called without one it runs in a transaction of its own.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from bitcoin.core import COutPoint, CBlock, CMutableTransaction, CMutableTxIn, CMutableTxOut, CTransaction, lx
from bitcoin.core import CoreRegTestParams
from bitcoin.core.script import CScript
from sqlalchemy import func, insert, select, update

from .. import tables as t
from ..errors import InvalidTransaction
from .transactions import Utxo, script_for_address
from .validation import MAX_MONEY_SAT, Coin, address_of, check_transaction, decode, txid_of

MAX_MEMPOOL = 10_000
MAX_BLOCKS_PER_CALL = 1_000
LOCK = "wallet:btc-chain"
GENESIS = CoreRegTestParams.GENESIS_BLOCK
GENESIS_HASH = GENESIS.GetHash()[::-1].hex()
BLOCK_VERSION = 0x20000000
REGTEST_BITS = 0x207FFFFF
REGTEST_TARGET = 0x7FFFFF << (8 * (0x20 - 3))


@dataclass(frozen=True, slots=True)
class Block:
    height: int
    hash: str
    prev_hash: str
    time: datetime
    raw: bytes

    def transactions(self) -> list[CTransaction]:
        return list(CBlock.deserialize(self.raw).vtx)


class RegtestNode:
    """The Bitcoin regtest chain in the database of ``ledger`` (one per database). ``seed`` only matters
    when the chain is created: it goes into every faucet payment, so the same seed and the same calls give
    the same chain; a chain that exists keeps the seed it was created with."""

    chain = "bitcoin"
    name = "regtest"   # the row of wallet_btc_chain

    def __init__(self, ledger, *, seed: int | str = 0, hrp: str = "bcrt") -> None:
        self.ledger = ledger
        self.hrp = hrp
        self._seed = str(seed)

    def __repr__(self) -> str:
        return f"RegtestNode({self.ledger.db.dialect})"

    # -- units of work ----------------------------------------------------------------------
    @contextmanager
    def _reading(self, uow):
        if uow is not None:
            yield uow.conn
            return
        with self.ledger.unit_of_work(read_only=True) as own:
            yield own.conn

    def _write(self, uow, fn):
        if uow is not None:
            return fn(uow)
        return self.ledger.transaction(fn)

    def lock(self, uow) -> dict:
        """Take the chain's writer lock in ``uow`` (held until it ends) and return the chain's row, creating
        the chain (its genesis block) on first use. A caller that will lock ledger accounts too takes this
        first, so every writer takes the locks in one order."""
        uow.advisory_lock(LOCK)
        c = t.btc_chain.c
        row = uow.conn.execute(select(t.btc_chain).where(c.name == self.name).with_for_update()).mappings().first()
        if row is None:
            row = dict(name=self.name, seed=self._seed[:64], tip_height=0, tip_hash=GENESIS_HASH, faucet_count=0,
                       tx_count=0)
            uow.conn.execute(insert(t.btc_chain).values(**row))
            uow.conn.execute(insert(t.btc_blocks).values(
                height=0, hash=GENESIS_HASH, prev_hash="00" * 32,
                time=datetime.fromtimestamp(GENESIS.nTime, timezone.utc), raw=GENESIS.serialize().hex()))
        return dict(row)

    # -- chain state ----------------------------------------------------------------------
    def height(self, *, uow=None) -> int:
        with self._reading(uow) as conn:
            tip = conn.execute(select(t.btc_chain.c.tip_height).where(t.btc_chain.c.name == self.name)).scalar()
        return int(tip or 0)

    def confirmations(self, txid: str, *, uow=None) -> int | None:
        """0 while in the mempool, ``tip - height + 1`` once mined, None if unknown."""
        with self._reading(uow) as conn:
            row = conn.execute(select(t.btc_transactions.c.block_height).where(
                t.btc_transactions.c.txid == str(txid).lower())).first()
            if row is None:
                return None
            tip = conn.execute(select(t.btc_chain.c.tip_height).where(t.btc_chain.c.name == self.name)).scalar()
        return 0 if row.block_height is None else int(tip) - int(row.block_height) + 1

    def outputs_in_blocks(self, from_height: int, to_height: int, *, uow=None) -> list[Utxo]:
        """Every output paying a P2WPKH address in blocks ``from_height..to_height`` (inclusive), in block order."""
        x, o = t.btc_transactions.c, t.btc_outputs.c
        with self._reading(uow) as conn:
            rows = conn.execute(
                select(o.txid, o.vout, o.amount_sat, o.address, x.block_height)
                .join(t.btc_transactions, x.txid == o.txid)
                .where(x.block_height >= max(from_height, 0), x.block_height <= to_height, o.address.is_not(None))
                .order_by(x.block_height, x.position, o.vout)).all()
        return [Utxo(r.txid, int(r.vout), int(r.amount_sat), r.address, int(r.block_height)) for r in rows]

    def unspent(self, addresses, *, min_conf: int = 1, mempool_spends: bool = True, uow=None) -> list[Utxo]:
        """Unspent outputs at ``addresses`` with at least ``min_conf`` confirmations, not spent in the mempool
        (``mempool_spends=False``: not spent in a block — the view of bitcoind's ``scantxoutset``)."""
        wanted = sorted(set(addresses))
        if not wanted:
            return []
        x, o = t.btc_transactions.c, t.btc_outputs.c
        with self._reading(uow) as conn:
            tip = int(conn.execute(select(t.btc_chain.c.tip_height).where(t.btc_chain.c.name == self.name)).scalar()
                      or 0)
            rows = conn.execute(
                select(o.txid, o.vout, o.amount_sat, o.address, x.block_height)
                .join(t.btc_transactions, x.txid == o.txid)
                .where(o.address.in_(wanted), o.spent_by.is_(None) if mempool_spends else
                       (o.spent_by.is_(None) | o.spent_by.in_(select(x.txid).where(x.block_height.is_(None)))))
                .order_by(o.txid, o.vout)).all()
        result = []
        for r in rows:
            confirmations = 0 if r.block_height is None else tip - int(r.block_height) + 1
            if confirmations >= min_conf:
                height = None if r.block_height is None else int(r.block_height)
                result.append(Utxo(r.txid, int(r.vout), int(r.amount_sat), r.address, height))
        return result

    def balance_sat(self, addresses, *, min_conf: int = 1, uow=None) -> int:
        return sum(u.amount_sat for u in self.unspent(addresses, min_conf=min_conf, uow=uow))

    def mempool(self, *, uow=None) -> list[str]:
        """The txids waiting for a block, in the order they were accepted."""
        x = t.btc_transactions.c
        with self._reading(uow) as conn:
            return list(conn.execute(select(x.txid).where(x.block_height.is_(None)).order_by(x.position)).scalars())

    # -- writes ---------------------------------------------------------------------------
    def faucet(self, address: str, amount_sat: int, *, uow=None) -> str:
        """Pay ``amount_sat`` to ``address`` from nowhere (a coinbase-like sandbox deposit); returns the txid.
        Each payment's marker carries the chain's faucet counter, so no two payments share a txid."""
        if not isinstance(amount_sat, int) or isinstance(amount_sat, bool) or not 0 < amount_sat <= MAX_MONEY_SAT:
            raise InvalidTransaction("a faucet payment must be a positive whole number of sats")
        script = script_for_address(address, self.hrp)

        def pay(uow):
            state = self.lock(uow)
            count = int(state["faucet_count"]) + 1
            uow.conn.execute(update(t.btc_chain).where(t.btc_chain.c.name == self.name).values(faucet_count=count))
            marker = CScript([count.to_bytes(8, "big"), b"cryptocity-faucet:" + state["seed"].encode()])
            tx = CTransaction.from_tx(CMutableTransaction([CMutableTxIn(COutPoint(), marker)],
                                                          [CMutableTxOut(amount_sat, script)]))
            self._accept(uow, state, tx, fee_sat=0)
            return txid_of(tx)
        return self._write(uow, pay)

    def coinbase(self, address: str, amount_sat: int, tag: str, *, uow=None) -> str:
        """A block reward of ``amount_sat`` to ``address`` (a coinbase: no coins spent), mined with the next
        block; ``tag`` makes it unique (a farm and its reward count), and the same tag and amount give the
        same transaction, paid once. A custodian credits it only after coinbase maturity
        (``WalletConfig.coinbase_maturity``; ``is_coinbase`` tells it which)."""
        if not isinstance(amount_sat, int) or isinstance(amount_sat, bool) or not 0 < amount_sat <= MAX_MONEY_SAT:
            raise InvalidTransaction("a block reward must be a positive whole number of sats")
        script = script_for_address(address, self.hrp)

        def pay(uow):
            state = self.lock(uow)
            marker = CScript([b"cryptocity-coinbase:" + tag.encode()[:80] + b":" + state["seed"].encode()])
            tx = CTransaction.from_tx(CMutableTransaction([CMutableTxIn(COutPoint(), marker)],
                                                          [CMutableTxOut(amount_sat, script)]))
            txid = txid_of(tx)
            known = uow.conn.execute(select(t.btc_transactions.c.txid).where(
                t.btc_transactions.c.txid == txid)).first() is not None
            if not known:   # the same reward asked for again (a retried advance): paid once
                self._accept(uow, state, tx, fee_sat=0, coinbase=True)
            return txid
        return self._write(uow, pay)

    def is_coinbase(self, txid: str, *, uow=None) -> bool:
        """True for a block reward (``coinbase``): spendable, and credited, only after coinbase maturity."""
        with self._reading(uow) as conn:
            return bool(conn.execute(select(t.btc_transactions.c.coinbase).where(
                t.btc_transactions.c.txid == str(txid).lower())).scalar())

    def send_raw_transaction(self, tx: CTransaction | bytes, *, uow=None) -> str:
        """Validate ``tx`` and put it in the mempool; returns its txid or raises a typed refusal."""
        if isinstance(tx, (bytes, bytearray)):
            tx = decode(tx)

        def send(uow):
            state = self.lock(uow)
            fee = self._check(uow.conn, tx)
            self._accept(uow, state, tx, fee_sat=fee)
            return txid_of(tx)
        return self._write(uow, send)

    def validate(self, tx: CTransaction, *, uow=None) -> int:
        """Check ``tx`` against the UTXO set and mempool; returns the fee in sats. Changes nothing."""
        with self._reading(uow) as conn:
            return self._check(conn, tx)

    def _check(self, conn, tx: CTransaction) -> int:
        o = t.btc_outputs.c

        def coin(txid: str, vout: int) -> Coin | None:
            row = conn.execute(select(o.amount_sat, o.script, o.spent_by).where(o.txid == txid, o.vout == vout)).first()
            return None if row is None else Coin(int(row.amount_sat), bytes.fromhex(row.script), row.spent_by)
        known = conn.execute(select(t.btc_transactions.c.txid).where(
            t.btc_transactions.c.txid == txid_of(tx))).first() is not None
        return check_transaction(tx, coin, known=known)

    def _accept(self, uow, state: dict, tx: CTransaction, *, fee_sat: int, coinbase: bool = False) -> None:
        conn = uow.conn
        waiting = conn.execute(select(func.count()).select_from(t.btc_transactions).where(
            t.btc_transactions.c.block_height.is_(None))).scalar()
        if waiting >= MAX_MEMPOOL:
            raise InvalidTransaction("the mempool is full: mine a block first")
        txid = txid_of(tx)
        position = int(state["tx_count"]) + 1
        state["tx_count"] = position
        conn.execute(update(t.btc_chain).where(t.btc_chain.c.name == self.name).values(tx_count=position))
        conn.execute(insert(t.btc_transactions).values(txid=txid, raw=tx.serialize().hex(), block_height=None,
                                                       position=position, fee_sat=fee_sat, coinbase=coinbase))
        o = t.btc_outputs.c
        for vin in tx.vin:
            if not vin.prevout.is_null():
                conn.execute(update(t.btc_outputs).where(o.txid == vin.prevout.hash[::-1].hex(),
                                                         o.vout == vin.prevout.n).values(spent_by=txid))
        conn.execute(insert(t.btc_outputs), [
            dict(txid=txid, vout=n, amount_sat=out.nValue, script=bytes(out.scriptPubKey).hex(),
                 address=address_of(bytes(out.scriptPubKey), self.hrp), spent_by=None)
            for n, out in enumerate(tx.vout)])

    def mine(self, blocks: int = 1, *, uow=None) -> list[str]:
        """Mine ``blocks`` blocks (the first takes the whole mempool); returns their hashes."""
        if not isinstance(blocks, int) or not 1 <= blocks <= MAX_BLOCKS_PER_CALL:
            raise ValueError(f"mine between 1 and {MAX_BLOCKS_PER_CALL} blocks at a time")

        def run(uow):
            state = self.lock(uow)
            x = t.btc_transactions.c
            waiting = uow.conn.execute(select(x.txid, x.raw).where(x.block_height.is_(None))
                                       .order_by(x.position)).all()
            txs = [CTransaction.deserialize(bytes.fromhex(r.raw)) for r in waiting]
            hashes = []
            height, prev = int(state["tip_height"]), state["tip_hash"]
            when = uow.now()
            for _ in range(blocks):
                height += 1
                prev = self._append_block(uow, height, prev, when, txs)
                hashes.append(prev)
                txs = []
            if waiting:
                uow.conn.execute(update(t.btc_transactions).where(
                    x.txid.in_([r.txid for r in waiting])).values(block_height=height - blocks + 1))
            uow.conn.execute(update(t.btc_chain).where(t.btc_chain.c.name == self.name)
                             .values(tip_height=height, tip_hash=prev))
            return hashes
        return self._write(uow, run)

    def _append_block(self, uow, height: int, prev: str, when: datetime, txs: list[CTransaction]) -> str:
        merkle = CBlock.build_merkle_tree_from_txs(txs)[-1] if txs else b"\x00" * 32
        nonce = 0
        while True:   # regtest's target passes about every second header
            block = CBlock(nVersion=BLOCK_VERSION, hashPrevBlock=lx(prev), hashMerkleRoot=merkle,
                           nTime=int(when.timestamp()), nBits=REGTEST_BITS, nNonce=nonce, vtx=txs)
            digest = block.GetHash()
            if int.from_bytes(digest, "little") <= REGTEST_TARGET:
                break
            nonce += 1
        block_hash = digest[::-1].hex()
        uow.conn.execute(insert(t.btc_blocks).values(height=height, hash=block_hash, prev_hash=prev, time=when,
                                                     raw=block.serialize().hex()))
        return block_hash

    # -- reads for the JSON-RPC server ------------------------------------------------------
    def block(self, *, height: int | None = None, block_hash: str | None = None, uow=None) -> Block | None:
        """The block at ``height`` or with ``block_hash``, None if the chain has none such."""
        b = t.btc_blocks.c
        query = select(t.btc_blocks).where(b.height == height if block_hash is None else b.hash == block_hash.lower())
        with self._reading(uow) as conn:
            row = conn.execute(query).first()
        if row is None:
            if height == 0 or block_hash == GENESIS_HASH:   # a chain nobody has written to yet
                return Block(0, GENESIS_HASH, "00" * 32, datetime.fromtimestamp(GENESIS.nTime, timezone.utc),
                             GENESIS.serialize())
            return None
        return Block(int(row.height), row.hash, row.prev_hash, row.time, bytes.fromhex(row.raw))

    def transaction(self, txid: str, *, uow=None) -> tuple[CTransaction, int | None] | None:
        """The transaction ``txid`` and the height of its block (None: in the mempool), or None if unknown."""
        x = t.btc_transactions.c
        with self._reading(uow) as conn:
            row = conn.execute(select(x.raw, x.block_height).where(x.txid == str(txid).lower())).first()
        if row is None:
            return None
        return CTransaction.deserialize(bytes.fromhex(row.raw)), row.block_height

    def output(self, txid: str, vout: int, *, uow=None) -> dict | None:
        """One output and whether it is spent (``spent_by``), with its transaction's block height."""
        x, o = t.btc_transactions.c, t.btc_outputs.c
        with self._reading(uow) as conn:
            row = conn.execute(select(o.amount_sat, o.script, o.address, o.spent_by, x.block_height)
                               .join(t.btc_transactions, x.txid == o.txid)
                               .where(o.txid == str(txid).lower(), o.vout == vout)).mappings().first()
        return None if row is None else dict(row)

    def mempool_fees_sat(self, *, uow=None) -> int:
        x = t.btc_transactions.c
        with self._reading(uow) as conn:
            return int(conn.execute(select(func.coalesce(func.sum(x.fee_sat), 0))
                                    .where(x.block_height.is_(None))).scalar())
