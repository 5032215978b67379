"""The embedded in-process regtest node: mempool, blocks, UTXO set, confirmations and a faucet.

Every transaction is validated before it enters the mempool (and so before any block):
inputs exist and are unspent (also against the mempool), outputs do not exceed inputs (the
difference is the fee), and every input carries a valid P2WPKH signature.

Why we verify signatures ourselves: python-bitcoinlib's ``VerifyScript`` does not evaluate
witness programs, so for each P2WPKH input we compute the BIP143 digest with
``SignatureHash(scriptCode, tx, i, SIGHASH_ALL, amount=..., sigversion=SIGVERSION_WITNESS_V0)``,
check the witness public key hashes to the output's program, and verify the DER signature
with libsecp256k1 (coincurve). Time comes from the clock passed in; block hashes from the
seed and contents, so the same seed and the same calls give the same chain.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import coincurve
from bip_utils.bech32 import SegwitBech32Encoder
from bitcoin.core import COutPoint, CMutableTransaction, CMutableTxIn, CMutableTxOut, CTransaction
from bitcoin.core.script import SIGHASH_ALL, CScript

from ..errors import (BadSignature, DoubleSpend, InvalidTransaction, MissingInput, OutputsExceedInputs,
                      Unsigned)
from .transactions import Utxo, hash160, script_for_address, sighash

MAX_MONEY_SAT = 21_000_000 * 100_000_000
MAX_MEMPOOL = 10_000
MAX_BLOCKS_PER_CALL = 1_000


def _txid(tx: CTransaction) -> str:
    return tx.GetTxid()[::-1].hex()


@dataclass
class Block:
    height: int
    hash: str
    time: datetime
    txids: list[str] = field(default_factory=list)


@dataclass
class _Output:
    amount_sat: int
    script: bytes
    address: str | None


class RegtestNode:
    """An in-memory Bitcoin regtest chain. Not thread-safe: the custodian serialises access."""

    chain = "bitcoin"

    def __init__(self, clock, *, seed: int | str = 0, hrp: str = "bcrt") -> None:
        self.clock = clock
        self.hrp = hrp
        self._seed = str(seed).encode()
        self._faucet_counter = 0
        self.txs: dict[str, CTransaction] = {}
        self.tx_height: dict[str, int | None] = {}
        self.outputs: dict[tuple[str, int], _Output] = {}
        self.utxos: set[tuple[str, int]] = set()  # confirmed and mempool outputs not yet spent
        self.spent_by: dict[tuple[str, int], str] = {}
        self.mempool: list[str] = []
        self.coinbase_txids: set[str] = set()   # block rewards: spendable only after coinbase maturity
        self.blocks: list[Block] = []
        self._append_block([])  # genesis

    # -- chain state ----------------------------------------------------------------------
    def height(self) -> int:
        return len(self.blocks) - 1

    def confirmations(self, txid: str) -> int | None:
        """0 while in the mempool, ``tip - height + 1`` once mined, None if unknown."""
        if txid not in self.tx_height:
            return None
        height = self.tx_height[txid]
        return 0 if height is None else self.height() - height + 1

    def _address(self, script: bytes) -> str | None:
        if len(script) == 22 and script[0] == 0 and script[1] == 20:
            return SegwitBech32Encoder.Encode(self.hrp, 0, script[2:])
        return None

    def outputs_in_blocks(self, from_height: int, to_height: int) -> list[Utxo]:
        """Every output paying a P2WPKH address in blocks ``from_height..to_height`` (inclusive)."""
        found = []
        for block in self.blocks[max(from_height, 0): min(to_height, self.height()) + 1]:
            for txid in block.txids:
                for vout, out in enumerate(self.txs[txid].vout):
                    address = self._address(bytes(out.scriptPubKey))
                    if address is not None:
                        found.append(Utxo(txid, vout, out.nValue, address, block.height))
        return found

    def unspent(self, addresses, *, min_conf: int = 1) -> list[Utxo]:
        """Unspent outputs at ``addresses`` with at least ``min_conf`` confirmations, not spent in the mempool."""
        wanted = set(addresses)
        result = []
        for txid, vout in sorted(self.utxos):
            out = self.outputs[(txid, vout)]
            if out.address in wanted and (self.confirmations(txid) or 0) >= min_conf:
                result.append(Utxo(txid, vout, out.amount_sat, out.address, self.tx_height[txid]))
        return result

    def balance_sat(self, addresses, *, min_conf: int = 1) -> int:
        return sum(u.amount_sat for u in self.unspent(addresses, min_conf=min_conf))

    # -- writes ---------------------------------------------------------------------------
    def faucet(self, address: str, amount_sat: int) -> str:
        """Pay ``amount_sat`` to ``address`` from nowhere (a coinbase-like sandbox deposit); returns the txid."""
        if not isinstance(amount_sat, int) or not 0 < amount_sat <= MAX_MONEY_SAT:
            raise InvalidTransaction("a faucet payment must be a positive whole number of sats")
        self._faucet_counter += 1
        marker = CScript([self._faucet_counter.to_bytes(8, "big"), b"cryptocity-faucet:" + self._seed])
        tx = CTransaction.from_tx(CMutableTransaction(
            [CMutableTxIn(COutPoint(), marker)], [CMutableTxOut(amount_sat, script_for_address(address, self.hrp))]))
        self._accept(tx)
        return _txid(tx)

    def coinbase(self, address: str, amount_sat: int, tag: str) -> str:
        """A block reward of ``amount_sat`` to ``address`` (a coinbase: no coins spent), mined with the next
        block; ``tag`` makes it unique (a farm and its reward count), and the same tag and amount give the
        same transaction, paid once. A custodian credits it only after
        coinbase maturity (``WalletConfig.coinbase_maturity``)."""
        if not isinstance(amount_sat, int) or not 0 < amount_sat <= MAX_MONEY_SAT:
            raise InvalidTransaction("a block reward must be a positive whole number of sats")
        marker = CScript([b"cryptocity-coinbase:" + tag.encode()[:80] + b":" + self._seed])
        tx = CTransaction.from_tx(CMutableTransaction(
            [CMutableTxIn(COutPoint(), marker)], [CMutableTxOut(amount_sat, script_for_address(address, self.hrp))]))
        txid = _txid(tx)
        if txid in self.txs:   # the same reward asked for again (a retried transaction): paid once
            return txid
        self._accept(tx)
        self.coinbase_txids.add(txid)
        return txid

    def send_raw_transaction(self, tx: CTransaction | bytes) -> str:
        """Validate ``tx`` and put it in the mempool; returns its txid or raises a typed refusal."""
        if isinstance(tx, (bytes, bytearray)):
            try:
                tx = CTransaction.deserialize(bytes(tx))
            except Exception:  # noqa: BLE001
                raise InvalidTransaction("the transaction bytes cannot be decoded") from None
        self.validate(tx)
        self._accept(tx)
        return _txid(tx)

    def validate(self, tx: CTransaction) -> int:
        """Check ``tx`` against the UTXO set and mempool; returns the fee in sats. Changes nothing."""
        txid = _txid(tx)
        if not tx.vin or not tx.vout:
            raise InvalidTransaction("a transaction needs at least one input and one output", txid=txid)
        if txid in self.txs:
            raise DoubleSpend("this transaction was already broadcast", txid=txid)
        seen = set()
        total_in = 0
        prevouts = []
        for vin in tx.vin:
            key = (vin.prevout.hash[::-1].hex(), vin.prevout.n)
            if key in seen:
                raise DoubleSpend("the transaction spends the same coin twice", txid=txid, input=f"{key[0]}:{key[1]}")
            seen.add(key)
            if key in self.spent_by:
                raise DoubleSpend(f"coin {key[0]}:{key[1]} was already spent by {self.spent_by[key]}",
                                  txid=txid, input=f"{key[0]}:{key[1]}")
            if key not in self.utxos:
                raise MissingInput(f"coin {key[0]}:{key[1]} does not exist", txid=txid, input=f"{key[0]}:{key[1]}")
            out = self.outputs[key]
            total_in += out.amount_sat
            prevouts.append(out)
        total_out = 0
        for out in tx.vout:
            if not 0 <= out.nValue <= MAX_MONEY_SAT:
                raise InvalidTransaction("an output amount is out of range", txid=txid)
            total_out += out.nValue
        if total_out > total_in:
            raise OutputsExceedInputs(f"outputs pay {total_out} sats but inputs hold only {total_in}",
                                      txid=txid, inputs_sat=total_in, outputs_sat=total_out)
        witnesses = tx.wit.vtxinwit if tx.wit is not None else ()
        for index, out in enumerate(prevouts):
            stack = list(witnesses[index].scriptWitness.stack) if index < len(witnesses) else []
            if not stack:
                raise Unsigned(f"input {index} carries no signature", txid=txid, input_index=index)
            if len(out.script) != 22 or out.script[:2] != b"\x00\x14":
                raise BadSignature(f"input {index} spends a non-P2WPKH output", txid=txid, input_index=index)
            if len(stack) != 2 or hash160(stack[1]) != out.script[2:]:
                raise BadSignature(f"input {index} is signed with a key that does not own the coin",
                                   txid=txid, input_index=index)
            sig, pub = stack
            if not sig or sig[-1] != SIGHASH_ALL:
                raise BadSignature(f"input {index} uses an unsupported signature hash type", txid=txid,
                                   input_index=index)
            digest = sighash(tx, index, out.script[2:], out.amount_sat)
            try:
                ok = coincurve.PublicKey(pub).verify(sig[:-1], digest, hasher=None)
            except Exception:  # noqa: BLE001 - malformed key or DER
                ok = False
            if not ok:
                raise BadSignature(f"the signature of input {index} does not verify", txid=txid, input_index=index)
        return total_in - total_out

    def _accept(self, tx: CTransaction) -> None:
        if len(self.mempool) >= MAX_MEMPOOL:
            raise InvalidTransaction("the mempool is full: mine a block first")
        txid = _txid(tx)
        self.txs[txid] = tx
        self.tx_height[txid] = None
        for vin in tx.vin:
            if not vin.prevout.is_null():
                key = (vin.prevout.hash[::-1].hex(), vin.prevout.n)
                self.spent_by[key] = txid
                self.utxos.discard(key)
        for vout, out in enumerate(tx.vout):
            script = bytes(out.scriptPubKey)
            self.outputs[(txid, vout)] = _Output(out.nValue, script, self._address(script))
            self.utxos.add((txid, vout))
        self.mempool.append(txid)

    def mine(self, blocks: int = 1) -> list[str]:
        """Mine ``blocks`` blocks (the first takes the whole mempool); returns their hashes."""
        if not 1 <= blocks <= MAX_BLOCKS_PER_CALL:
            raise ValueError(f"mine between 1 and {MAX_BLOCKS_PER_CALL} blocks at a time")
        hashes = []
        for _ in range(blocks):
            txids, self.mempool = self.mempool, []
            hashes.append(self._append_block(txids).hash)
        return hashes

    def _append_block(self, txids: list[str]) -> Block:
        height = len(self.blocks)
        prev = self.blocks[-1].hash if self.blocks else "00" * 32
        now = self.clock.now()
        material = "|".join([prev, str(height), now.isoformat(), *txids]).encode() + self._seed
        block = Block(height, hashlib.sha256(hashlib.sha256(material).digest()).digest()[::-1].hex(), now, txids)
        for txid in txids:
            self.tx_height[txid] = height
        self.blocks.append(block)
        return block
