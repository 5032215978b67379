"""Proof of reserves: a Merkle sum tree of customer liabilities per asset.

Each leaf commits to a customer and their balance; each parent hashes BOTH children's sums
and hashes, so a custodian cannot shrink a subtree's total without changing the root (the
published total). A customer checks their inclusion proof against the published root and total.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_LEAVES = 1_000_000


def _u64(value: int) -> bytes:
    if not 0 <= value < 2**64:
        raise ValueError("a liability must be a non-negative 64-bit amount")
    return value.to_bytes(8, "big")


def leaf_hash(owner: str, amount_minor: int, salt: bytes = b"") -> bytes:
    return hashlib.sha256(b"leaf|" + salt + b"|" + owner.encode() + b"|" + _u64(amount_minor)).digest()


def parent_hash(left_sum: int, left_hash: bytes, right_sum: int, right_hash: bytes) -> bytes:
    return hashlib.sha256(b"node|" + _u64(left_sum) + left_hash + _u64(right_sum) + right_hash).digest()


EMPTY = (0, hashlib.sha256(b"empty").digest())


@dataclass(frozen=True, slots=True)
class ProofStep:
    side: str  # "left" or "right": where the sibling sits
    sum_minor: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class InclusionProof:
    asset: str
    owner: str
    amount_minor: int
    steps: tuple[ProofStep, ...]
    root_hash: bytes
    total_minor: int
    salt: bytes = b""

    def to_dict(self) -> dict:
        return {"asset": self.asset, "owner": self.owner, "amount_minor": self.amount_minor,
                "root_hash": self.root_hash.hex(), "total_minor": self.total_minor,
                "steps": [{"side": s.side, "sum_minor": s.sum_minor, "hash": s.hash.hex()} for s in self.steps]}


class MerkleSumTree:
    """Built from ``{owner: amount_minor}``; leaves are ordered by owner so the root is deterministic."""

    def __init__(self, asset: str, liabilities: dict[str, int], *, salt: bytes = b"") -> None:
        if len(liabilities) > MAX_LEAVES:
            raise ValueError(f"at most {MAX_LEAVES} customers per tree")
        self.asset, self.salt = asset, salt
        self.owners = sorted(liabilities)
        self._index = {owner: i for i, owner in enumerate(self.owners)}
        level = [(liabilities[o], leaf_hash(o, liabilities[o], salt)) for o in self.owners] or [EMPTY]
        self.levels = [level]
        while len(level) > 1:
            if len(level) % 2:
                level = level + [EMPTY]
                self.levels[-1] = level
            level = [(l[0] + r[0], parent_hash(l[0], l[1], r[0], r[1])) for l, r in zip(level[::2], level[1::2])]
            self.levels.append(level)
        self.total_minor, self.root_hash = level[0]

    def proof(self, owner: str) -> InclusionProof:
        """The inclusion proof of ``owner``'s liability (KeyError if the owner is not in the tree)."""
        index = self._index[owner]
        steps = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            s_sum, s_hash = level[sibling]
            steps.append(ProofStep("right" if sibling > index else "left", s_sum, s_hash))
            index //= 2
        amount = self.levels[0][self._index[owner]][0]
        return InclusionProof(self.asset, owner, amount, tuple(steps), self.root_hash, self.total_minor, self.salt)


def verify_proof(proof: InclusionProof, root_hash: bytes | None = None, total_minor: int | None = None) -> bool:
    """True iff ``proof`` leads from the owner's leaf to the published root hash and total."""
    root_hash = proof.root_hash if root_hash is None else root_hash
    total_minor = proof.total_minor if total_minor is None else total_minor
    try:
        acc_sum, acc_hash = proof.amount_minor, leaf_hash(proof.owner, proof.amount_minor, proof.salt)
        for step in proof.steps:
            if step.sum_minor < 0:
                return False
            if step.side == "right":
                acc_hash = parent_hash(acc_sum, acc_hash, step.sum_minor, step.hash)
            elif step.side == "left":
                acc_hash = parent_hash(step.sum_minor, step.hash, acc_sum, acc_hash)
            else:
                return False
            acc_sum += step.sum_minor
    except ValueError:
        return False
    return acc_hash == root_hash and acc_sum == total_minor
