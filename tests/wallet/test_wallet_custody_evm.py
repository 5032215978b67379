"""ETH and a 6-decimal test USDT (the stablecoin package's Vyper ERC-20) on the embedded EVM chain."""
from __future__ import annotations

import pytest

from wallet import tables
from wallet.custodian import Custodian, WalletConfig
from wallet.errors import AddressBlocked, BadAddress, DustAmount, TravelRuleRequired
from wallet.evm import EvmChain, wei_to_gwei
from wallet.keys import HDKeys, MasterSeed
from wallet.reserves import verify_proof

ALICE = "cust:7"
GWEI = 10**9
TRAVEL = {"originator_name": "Dana Zhaksybekova", "originator_account": ALICE, "originator_id": "900101300123",
          "beneficiary_name": "Nursultan Abenov", "beneficiary_account": "0xbeneficiary"}


@pytest.fixture(scope="module")
def chain():
    return EvmChain()  # one py-evm chain per module: deploying and mining are the slow parts


@pytest.fixture(scope="module")
def usdt(chain):
    from stablecoin.token import deploy  # tests may use the stablecoin's ERC-20; wallet code never does
    owner = chain.w3.eth.accounts[0]
    token = deploy(chain.w3, owner, "Tether USD (test)", "USDT", 6)
    token.configure_minter(owner, owner, 10**15)
    token.mint(owner, owner, 10**14)
    return token


@pytest.fixture
def custody(ledger, chain, usdt, request):
    keys = HDKeys(MasterSeed.for_sandbox(request.node.name))  # fresh addresses on the shared chain
    config = WalletConfig(confirmations={"ETH": 3, "USDT": 3})
    c = Custodian(ledger, keys, evm=chain, config=config)
    c.register_token("USDT", usdt.address)
    return c


def test_wei_boundary_and_dust():
    assert wei_to_gwei(3 * GWEI + 5) == 3
    with pytest.raises(DustAmount) as refused:
        wei_to_gwei(GWEI - 1)
    assert "1 gwei" in str(refused.value) and refused.value.code == "dust_amount"


def test_eth_deposit_credit_withdraw_and_reserves(custody, chain, ledger):
    c = custody
    address = c.deposit_address(ALICE, "ethereum")
    start = chain.height()
    chain.faucet(address, 2 * GWEI)  # 2 ETH
    chain.w3.eth.send_transaction({"from": chain.w3.eth.accounts[0], "to": address, "value": GWEI // 2})  # dust
    c.scan()
    assert c.balance_minor(ALICE, "ETH") == 0  # not enough confirmations yet
    chain.mine(2)
    credited = c.scan()
    assert [d["amount_minor"] for d in credited] == [2 * GWEI] and c.balance_minor(ALICE, "ETH") == 2 * GWEI
    assert sorted(d["status"] for d in c.deposits(ALICE)) == ["credited", "dust"]
    ledger.verify()
    with ledger.unit_of_work() as uow:  # restart: cursors lost, everything rescanned
        uow.conn.execute(tables.scan_cursors.delete())
        uow.commit()
    chain.mine(1)
    assert c.scan() == [] and c.balance_minor(ALICE, "ETH") == 2 * GWEI
    assert start < chain.height()

    c.fund_custody("ETH", 10_000_000)  # 0.01 ETH of the custodian's own for sweep gas
    c.sweep_deposits()
    ledger.verify()
    outsider = chain.w3.eth.accounts[3]
    before = chain.balance_wei(outsider)
    with pytest.raises(BadAddress):
        c.withdraw(ALICE, "ETH", outsider.lower(), 1_000, key="lower")
    with pytest.raises(TravelRuleRequired):
        c.withdraw(ALICE, "ETH", outsider, 500_000_000, key="big")
    assert c.balance_minor(ALICE, "ETH") == 2 * GWEI
    w = c.withdraw(ALICE, "ETH", outsider, 100_000_000, key="eth-1")  # 0.1 ETH
    assert w["status"] == "broadcast" and w["fee_minor"] > 0
    assert chain.balance_wei(outsider) - before == 100_000_000 * GWEI
    assert c.balance_minor(ALICE, "ETH") == 2 * GWEI - 100_000_000 - w["fee_minor"]
    ledger.verify()
    report = c.reserves_report("ETH")
    assert report["onchain_minor"] == report["ledger_onchain_minor"]
    assert report["onchain_minor"] == report["liabilities_minor"] + report["custodian_own_minor"]
    assert verify_proof(c.inclusion_proof(ALICE, "ETH"), bytes.fromhex(report["merkle_root"]), report["liabilities_minor"])


def test_token_deposit_credit_withdraw(custody, chain, usdt, ledger):
    c = custody
    owner = chain.w3.eth.accounts[0]
    address = c.deposit_address(ALICE, "ethereum")
    usdt.transfer(owner, address, 250_000_000)  # 250 USDT
    c.scan()
    assert c.balance_minor(ALICE, "USDT") == 0
    chain.mine(2)
    assert [d["asset"] for d in c.scan()] == ["USDT"]
    assert c.balance_minor(ALICE, "USDT") == 250_000_000 and c.balance_minor(ALICE, "ETH") == 0
    assert c.scan() == []
    ledger.verify()
    c.fund_custody("ETH", 20_000_000)  # gas for the sweep and the token withdrawal
    c.sweep_deposits()
    outsider = chain.w3.eth.accounts[4]
    c.add_blocked_address("ethereum", chain.w3.eth.accounts[5])
    with pytest.raises(AddressBlocked):
        c.withdraw(ALICE, "USDT", chain.w3.eth.accounts[5], 1_000_000, key="blocked")
    before = usdt.balance_of(outsider)
    w = c.withdraw(ALICE, "USDT", outsider, 100_000_000, key="usdt-1", travel_rule=TRAVEL)
    assert w["status"] == "broadcast"
    assert usdt.balance_of(outsider) - before == 100_000_000
    assert c.balance_minor(ALICE, "USDT") == 250_000_000 - 100_000_000 - w["fee_minor"]
    ledger.verify()
    report = c.reserves_report("USDT")
    assert report["onchain_minor"] == report["ledger_onchain_minor"] == 150_000_000
    assert report["liabilities_minor"] + report["custodian_own_minor"] == 150_000_000
    eth = c.reserves_report("ETH")
    assert eth["onchain_minor"] == eth["ledger_onchain_minor"] == eth["custodian_own_minor"]
