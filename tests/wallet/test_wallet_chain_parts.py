"""Pure parts of the wallet: keys, addresses, the regtest node's validation, Merkle sum proofs."""
from __future__ import annotations

import dataclasses

import pytest
from bitcoin.core import COutPoint, CMutableTransaction, CMutableTxIn, CMutableTxOut, CTransaction, lx
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import ManualClock
from ledger.errors import DomainError
from wallet.addresses import validate_address
from wallet.bitcoin.node import RegtestNode
from wallet.bitcoin.transactions import build_spend, script_for_address, sign_p2wpkh
from wallet.errors import (BadAddress, BadSignature, DoubleSpend, MissingInput, OutputsExceedInputs, Unsigned)
from wallet.keys import HDKeys, MasterSeed
from wallet.reserves import MerkleSumTree, verify_proof

SEED_HEX = "00112233445566778899aabbccddeeff" * 2


@pytest.fixture(scope="module")
def keys():
    return HDKeys(MasterSeed.from_hex(SEED_HEX))


def test_seed_never_shown_and_derivation_deterministic(keys):
    seed = MasterSeed.from_hex(SEED_HEX)
    assert SEED_HEX not in repr(seed) and SEED_HEX not in str(seed) and SEED_HEX not in repr(keys)
    with pytest.raises(ValueError) as refused:
        MasterSeed.from_hex("zz" + SEED_HEX)
    assert SEED_HEX not in str(refused.value)
    other = HDKeys(MasterSeed.from_env(environ={"CRYPTOCITY_WALLET_SEED": SEED_HEX}))
    assert other.address("bitcoin", "deposit", 7) == keys.address("bitcoin", "deposit", 7)
    assert keys.key("bitcoin", "deposit", 7).path == "m/84'/1'/0'/0/7"
    assert keys.key("ethereum", "deposit", 7).path == "m/44'/60'/0'/0/7"
    assert "private" not in repr(keys.key("bitcoin", "hot", 0)).lower()


def test_each_customer_gets_distinct_valid_addresses(keys):
    btc = {keys.address("bitcoin", "deposit", i) for i in range(20)}
    eth = {keys.address("ethereum", "deposit", i) for i in range(20)}
    assert len(btc) == 20 and len(eth) == 20
    assert all(a.startswith("bcrt1q") and validate_address("bitcoin", a) == a for a in btc)
    assert all(validate_address("ethereum", a) == a for a in eth)
    assert keys.address("bitcoin", "hot") not in btc and keys.address("bitcoin", "cold") != keys.address("bitcoin", "hot")


@pytest.mark.parametrize("chain,address", [
    ("bitcoin", "bcrt1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqdku203"),  # checksum typo
    ("bitcoin", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),  # mainnet address on regtest
    ("bitcoin", "not an address"),
    ("ethereum", "0x103d6d77c5ea7fe7ab747d2ddef4f35389666643"),  # no EIP-55 checksum
    ("ethereum", "0x103d6d77C5eA7fe7AB747d2DDef4f35389666644"),  # checksum mismatch
    ("ethereum", "0x1234"),
])
def test_bad_addresses_refused(chain, address):
    with pytest.raises(BadAddress) as refused:
        validate_address(chain, address)
    assert refused.value.code == "bad_address" and isinstance(refused.value, DomainError)


def _ledger(tmp_path):
    from ledger import Database, Ledger
    db = Database(f"sqlite:///{tmp_path / 'chain.db'}")
    db.migrate(["ledger", "wallet"])   # the chain's tables and what they depend on
    return Ledger(db, ManualClock())


@pytest.fixture
def funded(keys, tmp_path):
    node = RegtestNode(_ledger(tmp_path), seed=1)
    alice = keys.key("bitcoin", "deposit", 0)
    node.faucet(alice.address, 100_000)
    node.mine(1)
    return node, alice


def test_signed_spend_accepted_and_confirmed(keys, funded):
    node, alice = funded
    bob = keys.address("bitcoin", "deposit", 1)
    spend = build_spend([(u, alice) for u in node.unspent([alice.address])], [(bob, 40_000)], alice.address, 3)
    assert node.validate(spend.tx) == spend.fee_sat
    txid = node.send_raw_transaction(spend.tx)
    assert node.confirmations(txid) == 0
    node.mine(2)
    assert node.confirmations(txid) == 2
    assert node.balance_sat([bob]) == 40_000
    assert node.balance_sat([alice.address]) == 100_000 - 40_000 - spend.fee_sat


def _spend_tx(node, alice, to, amount):
    utxo = node.unspent([alice.address])[0]
    return CMutableTransaction([CMutableTxIn(COutPoint(lx(utxo.txid), utxo.vout))],
                               [CMutableTxOut(amount, script_for_address(to))]), utxo


def test_node_refuses_invalid_transactions(keys, funded):
    node, alice = funded
    bob = keys.key("bitcoin", "deposit", 1)
    state = (node.height(), node.unspent([alice.address, bob.address], min_conf=0), node.mempool())
    tx, utxo = _spend_tx(node, alice, bob.address, 90_000)
    with pytest.raises(Unsigned):
        node.send_raw_transaction(CTransaction.from_tx(tx))
    with pytest.raises(BadSignature):  # signed by a key that does not own the coin
        node.send_raw_transaction(sign_p2wpkh(tx, [(bob, utxo.amount_sat)]))
    with pytest.raises(BadSignature):  # right key, but signed for a different amount (BIP143 commits to it)
        node.send_raw_transaction(sign_p2wpkh(tx, [(alice, utxo.amount_sat + 1)]))
    greedy, _ = _spend_tx(node, alice, bob.address, 100_001)
    with pytest.raises(OutputsExceedInputs):
        node.send_raw_transaction(sign_p2wpkh(greedy, [(alice, utxo.amount_sat)]))
    ghost = CMutableTransaction([CMutableTxIn(COutPoint(lx("ab" * 32), 0))], [CMutableTxOut(1000, script_for_address(bob.address))])
    with pytest.raises(MissingInput):
        node.send_raw_transaction(sign_p2wpkh(ghost, [(alice, 2000)]))
    assert (node.height(), node.unspent([alice.address, bob.address], min_conf=0), node.mempool()) == state


def test_double_spend_refused_in_mempool_and_after_mining(keys, funded):
    node, alice = funded
    first, utxo = _spend_tx(node, alice, keys.address("bitcoin", "deposit", 1), 90_000)
    second, _ = _spend_tx(node, alice, keys.address("bitcoin", "deposit", 2), 90_000)
    node.send_raw_transaction(sign_p2wpkh(first, [(alice, utxo.amount_sat)]))
    with pytest.raises(DoubleSpend) as refused:
        node.send_raw_transaction(sign_p2wpkh(second, [(alice, utxo.amount_sat)]))
    assert refused.value.code == "double_spend"
    node.mine(1)
    with pytest.raises(DoubleSpend):
        node.send_raw_transaction(sign_p2wpkh(second, [(alice, utxo.amount_sat)]))


def test_same_seed_same_chain(keys, tmp_path):
    def run(n):
        (tmp_path / str(n)).mkdir()
        node = RegtestNode(_ledger(tmp_path / str(n)), seed=42)
        node.faucet(keys.address("bitcoin", "deposit", 3), 5_000)
        return node.mine(2)
    assert run(1) == run(2)


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(st.integers(0, 500).map(lambda i: f"cust:{i}"), st.integers(0, 10**12), min_size=1, max_size=40),
       st.data())
def test_merkle_sum_proofs_verify_and_tampering_fails(liabilities, data):
    tree = MerkleSumTree("BTC", liabilities)
    assert tree.total_minor == sum(liabilities.values())
    owner = data.draw(st.sampled_from(sorted(liabilities)))
    proof = tree.proof(owner)
    assert verify_proof(proof, tree.root_hash, tree.total_minor)
    assert not verify_proof(dataclasses.replace(proof, amount_minor=proof.amount_minor + 1), tree.root_hash, tree.total_minor)
    assert not verify_proof(proof, tree.root_hash, tree.total_minor - 1)
    if proof.steps:
        i = data.draw(st.integers(0, len(proof.steps) - 1))
        steps = list(proof.steps)
        bad_sum = dataclasses.replace(steps[i], sum_minor=max(steps[i].sum_minor - 1, 0) if steps[i].sum_minor else 1)
        bad_hash = dataclasses.replace(steps[i], hash=bytes(32))
        bad_side = dataclasses.replace(steps[i], side="left" if steps[i].side == "right" else "right")
        for step in (bad_sum, bad_hash, bad_side):
            tampered = dataclasses.replace(proof, steps=tuple(steps[:i] + [step] + steps[i + 1:]))
            assert not verify_proof(tampered, tree.root_hash, tree.total_minor)
