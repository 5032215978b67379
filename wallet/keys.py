"""Master seed and HD key derivation (bip-utils; never hand-rolled BIP32).

Paths (the custodian's address roles are BIP44 "accounts"):

* Bitcoin, BIP84-style, coin type 1 (test networks): ``m/84'/1'/<role>'/0/<index>``
* Ethereum, BIP44: ``m/44'/60'/<role>'/0/<index>``

with role 0 = customer deposit addresses (index = the customer's derivation index),
1 = hot wallet, 2 = cold wallet, 3 = warm wallet. The seed is never logged, never part of ``repr``/``str``
and never in an error message.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache

from bip_utils import Bip32Slip10Secp256k1, EthAddrEncoder
from bip_utils.bech32 import SegwitBech32Encoder

ROLE_DEPOSIT, ROLE_HOT, ROLE_COLD, ROLE_WARM = 0, 1, 2, 3
ROLES = {"deposit": ROLE_DEPOSIT, "hot": ROLE_HOT, "cold": ROLE_COLD, "warm": ROLE_WARM}
BTC_HRP = {"regtest": "bcrt", "testnet": "tb", "mainnet": "bc"}
SEED_ENV = "CRYPTOCITY_WALLET_SEED"
MAX_INDEX = 2**31 - 1


class MasterSeed:
    """Secret seed bytes (16-64). ``repr``/``str`` never show them."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, (bytes, bytearray)) or not 16 <= len(secret) <= 64:
            raise ValueError("a master seed must be 16 to 64 bytes")
        self._secret = bytes(secret)

    @classmethod
    def from_hex(cls, text: str) -> MasterSeed:
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError:
            raise ValueError("the master seed must be 32-128 hex digits (contents not shown)") from None

    @classmethod
    def from_env(cls, var: str = SEED_ENV, environ: dict | None = None) -> MasterSeed:
        """Read the seed as hex from ``var`` (``os.environ`` unless ``environ`` is given)."""
        value = (environ if environ is not None else os.environ).get(var)
        if not value:
            raise ValueError(f"set {var} to the custodian's master seed (hex)")
        return cls.from_hex(value)

    @classmethod
    def for_sandbox(cls, sandbox_seed: int | str) -> MasterSeed:
        """A deterministic seed derived from the sandbox seed: for demos only, never for real money."""
        return cls(hashlib.sha256(f"cryptocity-wallet:{sandbox_seed}".encode()).digest())

    def fingerprint(self) -> str:
        """A short public identifier of the seed (hash prefix), safe to show."""
        return hashlib.sha256(b"fp" + self._secret).hexdigest()[:8]

    def __repr__(self) -> str:
        return f"MasterSeed(<secret {self.fingerprint()}>)"

    __str__ = __repr__

    def __reduce__(self):  # no pickling of secrets into logs or caches
        raise TypeError("MasterSeed cannot be pickled")


@dataclass(frozen=True, slots=True)
class DerivedKey:
    path: str
    address: str
    public_key: bytes  # compressed SEC1 for Bitcoin, uncompressed for Ethereum
    _private_key: bytes

    def private_key(self) -> bytes:
        return self._private_key

    def __repr__(self) -> str:
        return f"DerivedKey(path={self.path!r}, address={self.address!r})"


class HDKeys:
    """Derives every key and address of one custodian from its master seed."""

    def __init__(self, seed: MasterSeed, *, btc_network: str = "regtest") -> None:
        if btc_network not in BTC_HRP:
            raise ValueError(f"unknown bitcoin network {btc_network!r}")
        self._master = Bip32Slip10Secp256k1.FromSeed(seed._secret)
        self.btc_hrp = BTC_HRP[btc_network]
        self._cache = lru_cache(maxsize=4096)(self._derive)

    def __repr__(self) -> str:
        return f"HDKeys(btc_hrp={self.btc_hrp!r})"

    @staticmethod
    def path(chain: str, role: str, index: int) -> str:
        if not 0 <= index <= MAX_INDEX:
            raise ValueError("derivation index out of range")
        if chain == "bitcoin":
            return f"m/84'/1'/{ROLES[role]}'/0/{index}"
        if chain == "ethereum":
            return f"m/44'/60'/{ROLES[role]}'/0/{index}"
        raise ValueError(f"unknown chain {chain!r}")

    def key(self, chain: str, role: str = "deposit", index: int = 0) -> DerivedKey:
        """The key at ``role``/``index`` on ``chain``; the same inputs always give the same key."""
        return self._cache(chain, role, index)

    def _derive(self, chain: str, role: str, index: int) -> DerivedKey:
        path = self.path(chain, role, index)
        node = self._master.DerivePath(path)
        secret = node.PrivateKey().Raw().ToBytes()
        if chain == "bitcoin":
            pub = node.PublicKey().RawCompressed().ToBytes()
            address = SegwitBech32Encoder.Encode(self.btc_hrp, 0, hashlib.new("ripemd160", hashlib.sha256(pub).digest()).digest())
        else:
            pub = node.PublicKey().RawUncompressed().ToBytes()
            address = EthAddrEncoder.EncodeKey(pub)
        return DerivedKey(path, address, pub, secret)

    def address(self, chain: str, role: str = "deposit", index: int = 0) -> str:
        return self.key(chain, role, index).address
