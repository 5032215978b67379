"""Conformance of kzte.vy through web3.py on py-evm: ERC-20 behaviour, roles, and every refusal.

One chain and one deployment per module; each test runs between an EVM snapshot and a revert,
so tests stay independent without paying for a redeploy each time.
"""
from __future__ import annotations

import pytest
from web3 import EthereumTesterProvider, Web3

from web3.logs import DISCARD

from stablecoin.errors import ContractRejected
from stablecoin.token import deploy

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def chain():
    w3 = Web3(EthereumTesterProvider())
    owner, minter, alice, bob, carol, pauser, regulator, master = w3.eth.accounts[:8]
    token = deploy(w3, owner, "Tenge stablecoin", "KZTE", 2)
    assert token.master_minter() == owner   # the deployer holds every role at first
    token.set_master_minter(owner, master)
    token.configure_minter(master, minter, 1_000_000)
    token.set_pauser(owner, pauser)
    token.set_regulator(owner, regulator)
    token.mint(minter, alice, 10_000)
    return w3, token, dict(owner=owner, minter=minter, alice=alice, bob=bob, carol=carol,
                           pauser=pauser, regulator=regulator, master=master)


@pytest.fixture
def env(chain):
    w3, token, who = chain
    snap = w3.testing.snapshot()
    yield token, who
    w3.testing.revert(snap)


def refused(reason, fn, *args):
    with pytest.raises(ContractRejected) as info:
        fn(*args)
    assert info.value.reason == reason
    return info.value


def test_metadata_and_roles(env):
    token, w = env
    assert (token.name(), token.symbol(), token.decimals()) == ("Tenge stablecoin", "KZTE", 2)
    assert token.owner() == w["owner"] and token.pauser() == w["pauser"] and token.regulator() == w["regulator"]
    assert token.master_minter() == w["master"]
    assert token.is_minter(w["minter"]) and not token.is_minter(w["alice"])
    assert token.total_supply() == 10_000 and token.balance_of(w["alice"]) == 10_000


def test_deploys_as_six_decimal_test_usdt():
    w3 = Web3(EthereumTesterProvider())
    usdt = deploy(w3, w3.eth.accounts[0], "Tether USD (test)", "USDT", 6)
    assert (usdt.symbol(), usdt.decimals(), usdt.total_supply()) == ("USDT", 6, 0)


def test_transfer_moves_balance_and_emits_event(env):
    token, w = env
    receipt = token.transfer(w["alice"], w["bob"], 2_500)
    assert token.balance_of(w["alice"]) == 7_500 and token.balance_of(w["bob"]) == 2_500
    (event,) = token.contract.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert dict(event["args"]) == {"sender": w["alice"], "receiver": w["bob"], "value": 2_500}
    assert token.total_supply() == 10_000


def test_transfer_over_balance_is_refused_and_changes_nothing(env):
    token, w = env
    err = refused("KZTE: transfer amount exceeds balance", token.transfer, w["alice"], w["bob"], 10_001)
    assert err.code == "transfer_exceeds_balance"
    assert token.balance_of(w["alice"]) == 10_000 and token.balance_of(w["bob"]) == 0


def test_transfer_to_zero_address_is_refused(env):
    token, w = env
    refused("zero address", token.transfer, w["alice"], ZERO, 1)


def test_approve_and_transfer_from_spend_the_allowance(env):
    token, w = env
    receipt = token.approve(w["alice"], w["bob"], 3_000)
    (event,) = token.contract.events.Approval().process_receipt(receipt, errors=DISCARD)
    assert dict(event["args"]) == {"owner": w["alice"], "spender": w["bob"], "value": 3_000}
    token.transfer_from(w["bob"], w["alice"], w["carol"], 1_000)
    assert token.allowance(w["alice"], w["bob"]) == 2_000
    assert token.balance_of(w["carol"]) == 1_000 and token.balance_of(w["alice"]) == 9_000


def test_transfer_from_over_allowance_is_refused(env):
    token, w = env
    token.approve(w["alice"], w["bob"], 500)
    refused("KZTE: transfer amount exceeds allowance", token.transfer_from, w["bob"], w["alice"], w["carol"], 501)
    assert token.allowance(w["alice"], w["bob"]) == 500 and token.balance_of(w["carol"]) == 0


def test_transfer_from_over_balance_is_refused(env):
    token, w = env
    token.approve(w["alice"], w["bob"], 50_000)
    refused("KZTE: transfer amount exceeds balance", token.transfer_from, w["bob"], w["alice"], w["carol"], 10_001)
    assert token.allowance(w["alice"], w["bob"]) == 50_000


def test_approve_zero_address_is_refused(env):
    token, w = env
    refused("zero address", token.approve, w["alice"], ZERO, 1)


def test_paused_token_refuses_transfers_mints_and_approvals(env):
    token, w = env
    token.pause(w["pauser"])
    assert token.paused()
    refused("paused", token.transfer, w["alice"], w["bob"], 1)
    refused("paused", token.mint, w["minter"], w["bob"], 1)
    refused("paused", token.approve, w["alice"], w["bob"], 1)
    refused("paused", token.burn, w["minter"], 1)
    token.unpause(w["pauser"])
    token.transfer(w["alice"], w["bob"], 1)
    assert token.balance_of(w["bob"]) == 1


def test_only_the_pauser_pauses(env):
    token, w = env
    refused("not the pauser", token.pause, w["alice"])
    refused("not the pauser", token.pause, w["owner"])


def test_frozen_sender_and_receiver_are_refused(env):
    token, w = env
    token.freeze(w["regulator"], w["alice"])
    assert token.is_frozen(w["alice"])
    refused("sender frozen", token.transfer, w["alice"], w["bob"], 1)
    refused("receiver frozen", token.mint, w["minter"], w["alice"], 1)
    token.unfreeze(w["regulator"], w["alice"])
    token.transfer(w["alice"], w["bob"], 1)
    token.freeze(w["regulator"], w["bob"])
    refused("receiver frozen", token.transfer, w["alice"], w["bob"], 1)
    assert token.balance_of(w["bob"]) == 1


def test_frozen_owner_cannot_be_drained_through_an_allowance(env):
    token, w = env
    token.approve(w["alice"], w["bob"], 1_000)
    token.freeze(w["regulator"], w["alice"])
    refused("sender frozen", token.transfer_from, w["bob"], w["alice"], w["carol"], 1)
    token.unfreeze(w["regulator"], w["alice"])
    token.freeze(w["regulator"], w["bob"])
    refused("spender frozen", token.transfer_from, w["bob"], w["alice"], w["carol"], 1)


def test_only_the_regulator_freezes(env):
    token, w = env
    refused("not the regulator", token.freeze, w["owner"], w["bob"])


def test_mint_spends_the_minter_allowance(env):
    token, w = env
    receipt = token.mint(w["minter"], w["bob"], 400)
    assert token.minter_allowance(w["minter"]) == 1_000_000 - 10_000 - 400
    assert token.total_supply() == 10_400
    transfers = token.contract.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert dict(transfers[0]["args"]) == {"sender": ZERO, "receiver": w["bob"], "value": 400}


def test_mint_over_allowance_is_refused(env):
    token, w = env
    refused("mint exceeds minter allowance", token.mint, w["minter"], w["bob"], 1_000_000)
    assert token.total_supply() == 10_000


def test_non_minter_mint_is_refused(env):
    token, w = env
    err = refused("not a minter", token.mint, w["alice"], w["alice"], 1)
    assert err.code == "not_a_minter"


def test_mint_to_zero_address_and_zero_amount_are_refused(env):
    token, w = env
    refused("zero address", token.mint, w["minter"], ZERO, 1)
    refused("mint amount must be positive", token.mint, w["minter"], w["bob"], 0)


def test_burn_reduces_supply_and_over_balance_is_refused(env):
    token, w = env
    token.transfer(w["alice"], w["minter"], 3_000)
    receipt = token.burn(w["minter"], 1_000)
    assert token.total_supply() == 9_000 and token.balance_of(w["minter"]) == 2_000
    transfers = token.contract.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert dict(transfers[0]["args"]) == {"sender": w["minter"], "receiver": ZERO, "value": 1_000}
    refused("KZTE: burn amount exceeds balance", token.burn, w["minter"], 2_001)
    refused("not a minter", token.burn, w["alice"], 1)


def test_role_administration_is_owner_only(env):
    """The owner assigns the roles; minters are the master minter's to configure (FiatToken's split):
    not the owner's once the role is handed over, and not a new owner's either."""
    token, w = env
    refused("not the master minter", token.configure_minter, w["alice"], w["alice"], 5)
    refused("not the master minter", token.configure_minter, w["owner"], w["alice"], 5)
    refused("not the owner", token.set_master_minter, w["master"], w["alice"])
    refused("not the owner", token.set_pauser, w["alice"], w["alice"])
    refused("not the owner", token.set_regulator, w["alice"], w["alice"])
    refused("not the owner", token.transfer_ownership, w["alice"], w["alice"])
    refused("zero address", token.configure_minter, w["master"], ZERO, 5)
    refused("zero address", token.set_master_minter, w["owner"], ZERO)
    refused("not the master minter", token.remove_minter, w["owner"], w["minter"])
    token.remove_minter(w["master"], w["minter"])
    assert not token.is_minter(w["minter"]) and token.minter_allowance(w["minter"]) == 0
    refused("not a minter", token.mint, w["minter"], w["bob"], 1)
    refused("not a minter", token.remove_minter, w["master"], w["minter"])
    token.transfer_ownership(w["owner"], w["carol"])
    assert token.owner() == w["carol"]
    refused("not the owner", token.set_master_minter, w["owner"], w["owner"])
    token.set_master_minter(w["carol"], w["bob"])
    assert token.master_minter() == w["bob"]
    assert [e["args"]["new_master_minter"] for e in token.events("MasterMinterChanged")] == [w["master"], w["bob"]]
    refused("not the master minter", token.configure_minter, w["master"], w["alice"], 5)
    token.configure_minter(w["bob"], w["alice"], 5)
    assert token.is_minter(w["alice"]) and token.minter_allowance(w["alice"]) == 5
