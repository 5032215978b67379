"""Bitcoin custody: deposit -> confirmations -> credit -> withdrawal, on the embedded regtest node (its chain
in the database) and through ``BitcoindRPC`` against the city's own bitcoind-compatible JSON-RPC server."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import IdempotencyConflict, InsufficientFunds, InvalidAmount
from wallet import tables
from wallet.bitcoin.node import RegtestNode
from wallet.bitcoin.rpc import BitcoindRPC
from wallet.custodian import Custodian, WalletConfig
from wallet.errors import AddressBlocked, AddressNotWhitelisted, BadAddress, BroadcastFailed, TravelRuleRequired
from wallet.keys import HDKeys, MasterSeed
from wallet.reserves import verify_proof

ALICE, BOB = "cust:1", "cust:2"
TRAVEL = {"originator_name": "Aigerim Abenova", "originator_account": "cust:1",
          "originator_customer_number": "1", "beneficiary_name": "Yerlan Seitkali",
          "beneficiary_account": "bcrt1q-external"}


@pytest.fixture(scope="module")
def rpc_chain(tmp_path_factory):
    """The city's JSON-RPC server over a chain in a database of its own (as a bitcoind would be: the
    custodian's ledger commits apart from the chain), shared by the module's tests."""
    from ledger import Database, Ledger, ManualClock
    from sandbox.btc_rpc import BitcoinRpc
    from sandbox.btc_rpc_server import BtcRpcServer
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('rpc-chain') / 'chain.db'}")
    db.migrate(["ledger", "wallet"])
    server = BtcRpcServer(BitcoinRpc(RegtestNode(Ledger(db, ManualClock()), seed=7)), user="alice",
                          password="s3cret").start()
    yield server.url("s3cret")
    server.stop()
    db.dispose()


@pytest.fixture(params=["embedded", "bitcoind-rpc"])
def custody(ledger, request):
    keys = HDKeys(MasterSeed.for_sandbox(request.node.name))
    if request.param == "embedded":
        node = RegtestNode(ledger, seed=7)
    else:
        node = BitcoindRPC(request.getfixturevalue("rpc_chain"), mine_to_address=keys.address("bitcoin", "cold", 999))
    config = WalletConfig(confirmations={"BTC": 2}, hot_ceiling_minor={"BTC": 3_000_000},
                          travel_rule_threshold_minor={"BTC": 1_000_000})
    return Custodian(ledger, keys, btc=node, config=config), node, keys


def external(keys, i=0):
    return keys.address("bitcoin", "cold", 900 + i)  # someone else's address on the same regtest network


def snapshot(c):
    return (c.balance_minor(ALICE, "BTC"), c.balance_minor(BOB, "BTC"), len(c.withdrawals()), c.btc.height(),
            c.onchain_holdings_minor("BTC"))


def deposit(c, node, owner, sats):
    txid = node.faucet(c.deposit_address(owner, "bitcoin"), sats)
    node.mine(2)
    c.scan()
    return txid


def test_deposit_credited_after_confirmations_exactly_once(custody, ledger):
    c, node, _ = custody
    address = c.deposit_address(ALICE, "bitcoin")
    assert c.deposit_address(ALICE, "bitcoin") == address != c.deposit_address(BOB, "bitcoin")
    node.faucet(address, 2_500_000)
    assert c.scan() == [] and c.balance_minor(ALICE, "BTC") == 0  # in the mempool
    node.mine(1)
    assert c.scan() == [] and c.balance_minor(ALICE, "BTC") == 0  # 1 of 2 confirmations
    node.mine(1)
    credited = c.scan()
    assert [d["amount_minor"] for d in credited] == [2_500_000]
    assert c.balance_minor(ALICE, "BTC") == 2_500_000
    ledger.verify()
    # a restarted scanner (new Custodian, cursor wiped) credits nothing twice
    restarted = Custodian(ledger, c.keys, btc=node, config=c.config)
    with ledger.unit_of_work() as uow:
        uow.conn.execute(tables.scan_cursors.delete())
        uow.commit()
    assert restarted.scan() == [] and restarted.scan() == []
    assert c.balance_minor(ALICE, "BTC") == 2_500_000 and len(c.deposits()) == 1
    ledger.verify()
    with ledger.unit_of_work(read_only=True) as uow:
        assert uow.account_by_code("customer:cust:1:BTC").purpose == "customer"


def test_withdrawal_signed_broadcast_and_debited_with_fee(custody, ledger):
    c, node, keys = custody
    deposit(c, node, ALICE, 2_000_000)
    ledger.verify()
    w = c.withdraw(ALICE, "BTC", external(keys), 500_000, key="w-1")
    assert w["status"] == "broadcast" and w["fee_minor"] > 0
    assert c.balance_minor(ALICE, "BTC") == 2_000_000 - 500_000 - w["fee_minor"]
    assert node.confirmations(w["txid"]) == 0
    node.mine(1)
    assert node.balance_sat([external(keys)]) == 500_000
    assert c.refresh_withdrawals() == []  # 1 of 2 confirmations
    node.mine(1)
    assert [w["status"] for w in c.refresh_withdrawals()] == ["confirmed"]
    assert c.withdraw(ALICE, "BTC", external(keys), 500_000, key="w-1")["txid"] == w["txid"]  # idempotent
    assert c.balance_minor(ALICE, "BTC") == 2_000_000 - 500_000 - w["fee_minor"]
    with pytest.raises(IdempotencyConflict):
        c.withdraw(ALICE, "BTC", external(keys), 400_000, key="w-1")
    ledger.verify()
    report = c.reserves_report("BTC")
    assert report["liabilities_minor"] == c.balance_minor(ALICE, "BTC")
    assert report["onchain_minor"] == report["ledger_onchain_minor"] == report["liabilities_minor"]
    assert report["fully_reserved"]


def test_refusals_are_typed_and_change_nothing(custody, ledger):
    c, node, keys = custody
    deposit(c, node, ALICE, 5_000_000)
    c.add_blocked_address("bitcoin", external(keys, 1), "scam site reported to the anti-fraud centre")
    before = snapshot(c)
    cases = [
        (BadAddress, dict(address="bcrt1qnotvalid", amount_minor=10_000)),
        (BadAddress, dict(address=keys.address("ethereum", "deposit", 0), amount_minor=10_000)),
        (AddressBlocked, dict(address=external(keys, 1), amount_minor=10_000)),
        (TravelRuleRequired, dict(address=external(keys), amount_minor=1_000_000)),
        (TravelRuleRequired, dict(address=external(keys), amount_minor=2_000_000,
                                  travel_rule={k: v for k, v in TRAVEL.items() if k != "beneficiary_name"})),
        (InsufficientFunds, dict(address=external(keys), amount_minor=4_999_999, travel_rule=TRAVEL)),
        (InvalidAmount, dict(address=external(keys), amount_minor=0)),
    ]
    for i, (error, kwargs) in enumerate(cases):
        with pytest.raises(error) as refused:
            c.withdraw(ALICE, "BTC", key=f"bad-{i}", **kwargs)
        assert refused.value.code and str(refused.value)
        assert snapshot(c) == before
        ledger.verify()
    c.add_whitelisted_address(ALICE, "bitcoin", external(keys, 2))
    with pytest.raises(AddressNotWhitelisted):
        c.withdraw(ALICE, "BTC", external(keys), 10_000, key="not-listed")
    assert snapshot(c) == before
    w = c.withdraw(ALICE, "BTC", external(keys, 2), 1_500_000, key="ok", travel_rule=TRAVEL)
    assert w["status"] == "broadcast" and '"beneficiary_name"' in w["travel_rule"]
    ledger.verify()


def test_failed_broadcast_leaves_balances_as_they_were(custody, ledger, monkeypatch):
    c, node, keys = custody
    deposit(c, node, ALICE, 1_000_000)
    before = snapshot(c)

    def refuse(tx, **_):
        raise BroadcastFailed("the node is down")
    monkeypatch.setattr(node, "send_raw_transaction", refuse)
    with pytest.raises(BroadcastFailed):
        c.withdraw(ALICE, "BTC", external(keys), 100_000, key="down")
    assert snapshot(c) == before
    ledger.verify()


def test_hot_cold_sweep_and_pending_cold_withdrawal(custody, ledger):
    c, node, keys = custody
    c.fund_custody("BTC", 100_000)  # the custodian's own sats pay the fees of internal transfers
    deposit(c, node, ALICE, 8_000_000)
    deposit(c, node, BOB, 1_000_000)
    sweep = c.sweep_to_cold("BTC")
    node.mine(1)
    assert sweep and c.hot_balance_minor("BTC") <= 3_000_000
    assert node.balance_sat([c.cold_address("bitcoin")]) > 5_000_000
    ledger.verify()
    w = c.withdraw(ALICE, "BTC", external(keys), 6_000_000, key="big", travel_rule=TRAVEL)
    assert w["status"] == "pending_cold" and w.get("txid") is None
    assert c.balance_minor(ALICE, "BTC") == 8_000_000 - 6_000_000 - w["fee_minor"]  # held, not lost
    assert c.process_pending() == []  # still waiting
    c.refill_from_cold("BTC", 4_000_000)
    node.mine(1)
    [sent] = c.process_pending()
    assert sent["status"] == "broadcast" and sent["fee_minor"] <= w["fee_minor"]
    node.mine(1)
    assert node.balance_sat([external(keys)]) == 6_000_000
    assert c.balance_minor(ALICE, "BTC") == 8_000_000 - 6_000_000 - sent["fee_minor"]
    ledger.verify()
    report = c.reserves_report("BTC")
    assert report["onchain_minor"] == report["ledger_onchain_minor"]
    assert report["onchain_minor"] == report["liabilities_minor"] + report["custodian_own_minor"]
    for owner in (ALICE, BOB):
        proof = c.inclusion_proof(owner, "BTC")
        assert verify_proof(proof, bytes.fromhex(report["merkle_root"]), report["liabilities_minor"])
        assert proof.amount_minor == c.balance_minor(owner, "BTC")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["pay", "mine", "scan", "restart"]), st.integers(0, 2),
                          st.integers(1_000, 5_000_000)), min_size=1, max_size=25))
def test_scanner_credits_each_output_once_whatever_the_order(ledger, steps):
    """Whatever mix of payments, blocks, scans and scanner restarts: every customer ends with exactly
    the outputs paid to them that have enough confirmations, and the ledger balances."""
    test_scanner_credits_each_output_once_whatever_the_order.runs = getattr(
        test_scanner_credits_each_output_once_whatever_the_order, "runs", 0) + 1
    run = test_scanner_credits_each_output_once_whatever_the_order.runs
    keys = HDKeys(MasterSeed.for_sandbox(f"prop-{run}"))
    node = RegtestNode(ledger, seed=run)
    c = Custodian(ledger, keys, btc=node, config=WalletConfig(confirmations={"BTC": 2}))
    owners = [f"cust:p{run}-{i}" for i in range(3)]
    with ledger.unit_of_work() as uow:  # the chain in the database goes on: rescan it from the start
        uow.conn.execute(tables.scan_cursors.delete())
        uow.commit()
    paid: list[tuple[str, str, int]] = []
    for action, who, sats in steps:
        if action == "pay":
            paid.append((owners[who], node.faucet(c.deposit_address(owners[who], "bitcoin"), sats), sats))
        elif action == "mine":
            node.mine(1)
        elif action == "scan":
            c.scan()
        else:
            c = Custodian(ledger, keys, btc=node, config=c.config)
            with ledger.unit_of_work() as uow:
                uow.conn.execute(tables.scan_cursors.delete())
                uow.commit()
    c.scan()
    for owner in owners:
        expected = sum(sats for o, txid, sats in paid if o == owner and (node.confirmations(txid) or 0) >= 2)
        assert c.balance_minor(owner, "BTC") == expected
    ledger.verify()


def test_a_block_reward_is_neither_credited_nor_spent_before_coinbase_maturity(ledger):
    """A farm's reward at its deposit address: the hot wallet may not spend it, nor the ledger credit it,
    until it has ``coinbase_maturity`` confirmations (Bitcoin's rule: 100)."""
    keys = HDKeys(MasterSeed.for_sandbox("coinbase-maturity"))
    node = RegtestNode(ledger, seed=7)
    c = Custodian(ledger, keys, btc=node, config=WalletConfig(confirmations={"BTC": 1}, coinbase_maturity=5))
    address = c.deposit_address(ALICE, "bitcoin")
    reward = node.coinbase(address, 312_500_000, "farm-1")
    node.mine(4)
    c.scan()
    assert c.balance_minor(ALICE, "BTC") == 0
    assert reward not in {u.txid for u, _ in c._hot_btc_candidates(None)}
    node.mine(1)   # the fifth confirmation
    c.scan()
    assert c.balance_minor(ALICE, "BTC") == 312_500_000
    assert reward in {u.txid for u, _ in c._hot_btc_candidates(None)}
    ledger.verify()
