"""Checking a transaction against the coins it spends: no I/O, the node passes a look-up of its coins.

Why we verify signatures ourselves: python-bitcoinlib's ``VerifyScript`` does not evaluate witness
programs, so for each P2WPKH input we compute the BIP143 digest with
``SignatureHash(scriptCode, tx, i, SIGHASH_ALL, amount=..., sigversion=SIGVERSION_WITNESS_V0)``, check the
witness public key hashes to the output's program, and verify the DER signature with libsecp256k1
(coincurve).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import coincurve
from bip_utils.bech32 import SegwitBech32Encoder
from bitcoin.core import CTransaction
from bitcoin.core.script import SIGHASH_ALL

from ..errors import BadSignature, DoubleSpend, InvalidTransaction, MissingInput, OutputsExceedInputs, Unsigned
from .transactions import hash160, sighash

MAX_MONEY_SAT = 21_000_000 * 100_000_000


@dataclass(frozen=True, slots=True)
class Coin:
    """One output the chain knows: its value, its script, and the transaction that spent it (or None)."""
    amount_sat: int
    script: bytes
    spent_by: str | None


def txid_of(tx: CTransaction) -> str:
    return tx.GetTxid()[::-1].hex()


def address_of(script: bytes, hrp: str) -> str | None:
    """The bech32 address of a P2WPKH output script, None for any other script."""
    if len(script) == 22 and script[0] == 0 and script[1] == 20:
        return SegwitBech32Encoder.Encode(hrp, 0, script[2:])
    return None


def decode(raw: bytes) -> CTransaction:
    try:
        return CTransaction.deserialize(bytes(raw))
    except Exception:  # noqa: BLE001 - any malformed byte string
        raise InvalidTransaction("the transaction bytes cannot be decoded") from None


def check_transaction(tx: CTransaction, coin: Callable[[str, int], Coin | None], *, known: bool) -> int:
    """Refuse ``tx`` unless it may enter the mempool; returns its fee in sats. ``coin(txid, vout)`` looks a
    spent output up (None: the chain never had it); ``known``: this txid is already on the chain.

    Order of the checks (and so of the refusals): shape, already broadcast, each input (spent twice
    within the transaction, already spent, missing), output amounts, outputs within inputs, signatures."""
    txid = txid_of(tx)
    if not tx.vin or not tx.vout:
        raise InvalidTransaction("a transaction needs at least one input and one output", txid=txid)
    if known:
        raise DoubleSpend("this transaction was already broadcast", txid=txid)
    seen = set()
    total_in = 0
    prevouts = []
    for vin in tx.vin:
        key = (vin.prevout.hash[::-1].hex(), vin.prevout.n)
        where = f"{key[0]}:{key[1]}"
        if key in seen:
            raise DoubleSpend("the transaction spends the same coin twice", txid=txid, input=where)
        seen.add(key)
        found = None if vin.prevout.is_null() else coin(*key)
        if found is not None and found.spent_by is not None:
            raise DoubleSpend(f"coin {where} was already spent by {found.spent_by}", txid=txid, input=where)
        if found is None:
            raise MissingInput(f"coin {where} does not exist", txid=txid, input=where)
        total_in += found.amount_sat
        prevouts.append(found)
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
        _check_signature(tx, txid, index, out, witnesses)
    return total_in - total_out


def _check_signature(tx: CTransaction, txid: str, index: int, out: Coin, witnesses) -> None:
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
        raise BadSignature(f"input {index} uses an unsupported signature hash type", txid=txid, input_index=index)
    digest = sighash(tx, index, out.script[2:], out.amount_sat)
    try:
        ok = coincurve.PublicKey(pub).verify(sig[:-1], digest, hasher=None)
    except Exception:  # noqa: BLE001 - malformed key or DER
        ok = False
    if not ok:
        raise BadSignature(f"the signature of input {index} does not verify", txid=txid, input_index=index)
