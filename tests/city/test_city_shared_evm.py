"""One EVM for every process: two cities ("processes") on one PostgreSQL database and one anvil node.

ETH and test-USDT deposits made through either process are credited once; KZTE minted in one is redeemed in
the other; after a restart of everything (anvil from its state file, new processes) balances are
unchanged and the contracts are found, not redeployed; a crash that loses the node's last blocks is
named by ``verify``; a node that lost its state altogether is refused. anvil comes from the project's own install (``make chains``): without it these
tests are skipped, and under CI=true they fail.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from ledger.errors import InvariantViolation
from sandbox.anvil import AnvilNode, anvil_binary
from sandbox.city import CryptoCity
from sandbox.errors import ChainNotShared
from sandbox.shared_evm import EvmStateLost
from wallet import tables as wt

pytestmark = pytest.mark.postgres
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ETH_GWEI = 250_000_000          # 0.25 ETH
USDT_MICRO = 300 * 10**6        # 300 USDT
KZTE_TIYN = 50_000_00           # 50 000 KZTE


@pytest.fixture(scope="module")
def anvil_path():
    found = anvil_binary()
    if found is None:
        message = "anvil is not installed: run `make chains`"
        if CI:
            pytest.fail(message + " (CI installs it through .ci/run)")
        pytest.skip(message)
    return found


def city(db_url: str, node: AnvilNode) -> CryptoCity:
    return CryptoCity.from_config("crypto-city", db=db_url, seed=7, evm_url=node.url)


def holdings(c: CryptoCity, actor: str) -> dict[str, int]:
    return {k: v for k, v in c.balances(actor).items() if k in ("ETH", "USDT", "KZTE", "KZT")}


def deposit_rows(c: CryptoCity) -> list[tuple]:
    with c.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(wt.deposits.c.asset, wt.deposits.c.status,
                                                      wt.deposits.c.amount_minor).order_by(wt.deposits.c.id))]


def test_two_processes_share_one_evm_node_and_a_restart_keeps_every_balance(pg_url, tmp_path, anvil_path):
    state = tmp_path / "evm-state.json"
    node = AnvilNode(state_path=state, state_interval_s=1, binary=anvil_path).start()
    opened = []
    try:
        a = city(pg_url, node)
        opened.append(a)
        b = city(pg_url, node)
        opened.append(b)
        a.onboard(actor="aigerim", kyc_tier="full")
        a.onchain_deposit(actor="aigerim", asset="ETH", amount_minor=ETH_GWEI)
        b.onchain_deposit(actor="aigerim", asset="USDT", amount_minor=USDT_MICRO)
        b.onchain_deposit(actor="aigerim", asset="ETH", amount_minor=ETH_GWEI)
        a.deposit(actor="aigerim", asset="KZT", amount_minor=100_000_00)
        a.mint(actor="aigerim", amount_minor=KZTE_TIYN)
        b.redeem(actor="aigerim", amount_minor=KZTE_TIYN // 2)
        expected = {"ETH": 2 * ETH_GWEI, "USDT": USDT_MICRO, "KZTE": KZTE_TIYN // 2, "KZT": 75_000_00}
        assert holdings(a, "aigerim") == holdings(b, "aigerim") == expected
        # each deposit credited once, whichever process scanned
        assert deposit_rows(a) == [("ETH", "credited", ETH_GWEI), ("USDT", "credited", USDT_MICRO),
                                   ("ETH", "credited", ETH_GWEI)]
        assert a.ctx.issuer.token.total_supply() == KZTE_TIYN // 2   # one chain: both processes see it
        b.verify()
        for asset, amount in (("ETH", 2 * ETH_GWEI), ("USDT", USDT_MICRO)):   # proof of reserves agrees with the chain
            report = a.ctx.evm_custodian.reserves_report(asset)
            assert report["onchain_minor"] == report["ledger_onchain_minor"] == amount
        summary = b.regulator_summary()
        assert summary["invariants"]["verified"] and summary["kzte"]["peg_holds"]
        assert {k: v["agrees"] for k, v in summary["custody_onchain"].items()} == {"ETH": True, "USDT": True}
        height = a.ctx.shared_evm.chain.height()
    finally:
        for each in opened:
            each.close()
        node.stop()   # a clean stop writes the state file

    # a restart of everything: the node from its state file, new processes
    node = AnvilNode(state_path=state, state_interval_s=3600, binary=anvil_path).start()
    c = None
    try:
        c = city(pg_url, node)
        assert c.ctx.shared_evm.chain.height() == height
        assert holdings(c, "aigerim") == expected
        with c.db.engine.connect() as conn:   # found, not redeployed
            assert conn.execute(select(func.count()).select_from(wt.evm_contracts)).scalar_one() == 2
        c.verify()
        # a deposit after the last state dump, then a crash (no final dump): the node comes back without it
        c.onchain_deposit(actor="aigerim", asset="USDT", amount_minor=USDT_MICRO)
        c.verify()
        node.kill()
        node = AnvilNode(state_path=state, state_interval_s=3600, binary=anvil_path).start()
        c.close()
        c = None
        c = city(pg_url, node)
        with pytest.raises(InvariantViolation, match="USDT: the custodian's addresses hold 300.000000 USDT"):
            c.verify()
        assert holdings(c, "aigerim")["USDT"] == 2 * USDT_MICRO   # the ledger remembers what the chain lost
        summary = c.regulator_summary()
        assert summary["custody_onchain"]["USDT"]["difference_minor"] == -USDT_MICRO
        assert not summary["invariants"]["verified"] and "chain and ledger disagree" in summary["invariants"]["summary"]
        from sandbox.reports import render
        assert "-300.000000 USDT" in render(summary, "html", c.ledger.assets)   # the page names the difference
        # a node without the database's contracts (its state file lost) is refused, not deployed over
        fresh = AnvilNode(state_path=None, binary=anvil_path).start()
        try:
            with pytest.raises(EvmStateLost, match="has no USDT contract at 0x"):
                city(pg_url, fresh)
        finally:
            fresh.stop()
        # without a node, the EVM verbs say what they need
        plain = CryptoCity.from_config("crypto-city", db=pg_url, seed=7)
        try:
            with pytest.raises(ChainNotShared, match="--anvil"):
                plain.onchain_deposit(actor="aigerim", asset="ETH", amount_minor=ETH_GWEI)
        finally:
            plain.close()
    finally:
        if c is not None:
            c.close()
        node.stop()
