"""Build and sign P2WPKH spends with python-bitcoinlib (signatures by libsecp256k1 via coincurve)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import coincurve
from bitcoin.core import (COutPoint, CMutableTransaction, CMutableTxIn, CMutableTxOut, CTransaction,
                          CTxInWitness, CTxWitness, lx)
from bitcoin.core.script import (OP_0, OP_CHECKSIG, OP_DUP, OP_EQUALVERIFY, OP_HASH160, SIGHASH_ALL,
                                 SIGVERSION_WITNESS_V0, CScript, CScriptWitness, SignatureHash)

from ..addresses import validate_btc_address
from ..errors import InsufficientOnChainFunds, InvalidTransaction
from ..keys import DerivedKey

DUST_SAT = 294  # below this a P2WPKH output is non-standard (Bitcoin Core's dust limit)
TX_OVERHEAD_VB, INPUT_VB, OUTPUT_VB = 11, 68, 31  # P2WPKH virtual sizes, rounded up
MAX_INPUTS = 500  # a spend never grows beyond this many inputs


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def p2wpkh_script(program: bytes) -> CScript:
    return CScript([OP_0, program])


def script_for_address(address: str, hrp: str = "bcrt") -> CScript:
    return p2wpkh_script(validate_btc_address(address, hrp))


def script_code(program: bytes) -> CScript:
    """BIP143 scriptCode of a P2WPKH input: the equivalent P2PKH script."""
    return CScript([OP_DUP, OP_HASH160, program, OP_EQUALVERIFY, OP_CHECKSIG])


@dataclass(frozen=True, slots=True)
class Utxo:
    txid: str
    vout: int
    amount_sat: int
    address: str
    height: int | None  # None while in the mempool


def estimate_vsize(n_inputs: int, n_outputs: int) -> int:
    return TX_OVERHEAD_VB + INPUT_VB * n_inputs + OUTPUT_VB * n_outputs


def sighash(tx: CTransaction, index: int, program: bytes, amount_sat: int) -> bytes:
    return SignatureHash(script_code(program), tx, index, SIGHASH_ALL, amount=amount_sat,
                         sigversion=SIGVERSION_WITNESS_V0)


def sign_p2wpkh(tx: CMutableTransaction, signers: Sequence[tuple[DerivedKey, int]]) -> CTransaction:
    """Sign every input ``i`` with ``signers[i] = (key, amount_sat of the spent output)``."""
    witnesses = []
    for index, (key, amount_sat) in enumerate(signers):
        digest = sighash(tx, index, hash160(key.public_key), amount_sat)
        sig = coincurve.PrivateKey(key.private_key()).sign(digest, hasher=None) + bytes([SIGHASH_ALL])
        witnesses.append(CTxInWitness(CScriptWitness([sig, key.public_key])))
    tx.wit = CTxWitness(witnesses)
    return CTransaction.from_tx(tx)


@dataclass(frozen=True, slots=True)
class Spend:
    tx: CTransaction
    fee_sat: int
    inputs: tuple[Utxo, ...]
    change_sat: int

    @property
    def txid(self) -> str:
        return self.tx.GetTxid()[::-1].hex()


def build_spend(candidates: Sequence[tuple[Utxo, DerivedKey]], payments: Sequence[tuple[str, int]],
                change_address: str, fee_rate_sat_vb: int, *, hrp: str = "bcrt") -> Spend:
    """Select coins (largest first, ties by outpoint: deterministic), pay ``payments``, return change.

    The fee is ``estimate_vsize * fee_rate_sat_vb``; change below the dust limit goes to the fee.
    Raises ``InsufficientOnChainFunds`` when the candidates cannot cover payments plus fee.
    """
    if fee_rate_sat_vb < 1:
        raise InvalidTransaction("the fee rate must be at least 1 sat/vB")
    if not payments or any(amount < DUST_SAT for _, amount in payments):
        raise InvalidTransaction(f"every payment must be at least {DUST_SAT} sats (the dust limit)")
    outputs = [CMutableTxOut(amount, script_for_address(address, hrp)) for address, amount in payments]
    need = sum(amount for _, amount in payments)
    chosen: list[tuple[Utxo, DerivedKey]] = []
    total = 0
    ordered = sorted(candidates, key=lambda c: (-c[0].amount_sat, c[0].txid, c[0].vout))
    for utxo, key in ordered[:MAX_INPUTS]:
        chosen.append((utxo, key))
        total += utxo.amount_sat
        if total >= need + estimate_vsize(len(chosen), len(outputs)) * fee_rate_sat_vb:
            break
    fee_without_change = estimate_vsize(len(chosen), len(outputs)) * fee_rate_sat_vb
    if total < need + fee_without_change:
        raise InsufficientOnChainFunds(
            f"the wallet holds {total} sats in spendable coins but this needs {need + fee_without_change}",
            available_sat=total, needed_sat=need + fee_without_change)
    fee = estimate_vsize(len(chosen), len(outputs) + 1) * fee_rate_sat_vb
    change = total - need - fee
    if change >= DUST_SAT:
        outputs.append(CMutableTxOut(change, script_for_address(change_address, hrp)))
    else:
        change, fee = 0, total - need
    tx = CMutableTransaction([CMutableTxIn(COutPoint(lx(u.txid), u.vout)) for u, _ in chosen], outputs)
    signed = sign_p2wpkh(tx, [(key, u.amount_sat) for u, key in chosen])
    return Spend(signed, fee, tuple(u for u, _ in chosen), change)
