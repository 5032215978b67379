"""One Bitcoin chain for every process and every restart: the regtest chain lives in the database.

Before, each serving process had its own in-memory chain: with several processes on-chain deposits got
identical txids and were dropped by the credit-once rule, and a restart started a new chain while the
ledger remembered the old one. Two cities on one database stand for two processes; two gunicorn workers
are two real ones, and the city's bitcoind JSON-RPC (``--btc-rpc-port``) shows the chain to outside tools.
"""
from __future__ import annotations

import http.client
import json
import threading

import pytest

from sandbox.bench.http import HOST
from sandbox.city import CryptoCity
from wallet.keys import HDKeys, MasterSeed

OUTSIDE = HDKeys(MasterSeed.for_sandbox("someone else's wallet"))
DEPOSITS_EACH = 3


def outside(n: int) -> str:
    return OUTSIDE.address("bitcoin", "deposit", n)


def _reserves_agree(city) -> dict:
    """The proof-of-reserves report's on-chain holdings (read from the chain) equal what the ledger says the
    custodian's addresses hold. (The city's liabilities also count balances that entered through the
    ledger-only faucet, so they are not all on chain.)"""
    report = city.ctx.custodian.reserves_report("BTC")
    assert report["onchain_minor"] == report["ledger_onchain_minor"] > 0, report
    return report


def test_two_processes_share_one_chain_and_a_restart_continues_it(db_url):
    a = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    b = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    try:
        for actor in ("aigerim", "bolat"):
            a.onboard(actor=actor, kyc_tier="full")
        results, failures = [], []

        def deposit(city, actor: str) -> None:
            try:
                for n in range(DEPOSITS_EACH):
                    results.append((actor, city.onchain_deposit(actor=actor, amount_minor=100_000 + n)))
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(error)
        threads = [threading.Thread(target=deposit, args=(a, "aigerim")),
                   threading.Thread(target=deposit, args=(b, "bolat"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert len({r.txid for _, r in results}) == 2 * DEPOSITS_EACH       # no two deposits share a txid
        assert all(r.credited == 1 for _, r in results)                     # each credited, once
        expected = sum(100_000 + n for n in range(DEPOSITS_EACH))
        assert a.balances("aigerim")["BTC"] == b.balances("aigerim")["BTC"] == expected
        assert a.balances("bolat")["BTC"] == expected
        assert a.btc_node.height() == b.btc_node.height()
        sent, failures = {}, []

        def withdraw(city, actor: str, n: int) -> None:
            try:
                sent[actor] = city.withdraw(actor=actor, address=outside(n), amount_minor=50_000, key=f"w-{actor}")
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(error)
        threads = [threading.Thread(target=withdraw, args=(a, "aigerim", 1)),
                   threading.Thread(target=withdraw, args=(b, "bolat", 2))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        first, second = sent["aigerim"], sent["bolat"]
        assert first["txid"] != second["txid"] and {first["status"], second["status"]} == {"confirmed"}
        assert a.btc_node.balance_sat([outside(1)]) == b.btc_node.balance_sat([outside(1)]) == 50_000
        assert b.btc_node.confirmations(first["txid"]) >= 1
        a.verify()
        report = _reserves_agree(b)
        height = a.btc_node.height()
        balances = {actor: a.balances(actor) for actor in ("aigerim", "bolat")}
    finally:
        a.close()
        b.close()
    again = CryptoCity.from_config("crypto-city", db=db_url, seed=7)   # a restart
    try:
        assert again.btc_node.height() == height
        assert {actor: again.balances(actor) for actor in ("aigerim", "bolat")} == balances
        assert again.btc_node.balance_sat([outside(1), outside(2)]) == 100_000
        assert _reserves_agree(again) == report
        more = again.onchain_deposit(actor="aigerim", amount_minor=7_000)   # the chain goes on from there
        assert more.credited == 1 and again.btc_node.height() > height
        again.verify()
    finally:
        again.close()


def _post(port: int, path: str, token: str, key: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                                                 "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


# Several gunicorn workers and a second server over one PostgreSQL, both chains shared, a restart of
# everything: tests/web/test_web_shared_evm_serve.py (the scale-out test).


def test_verify_proves_the_chain_holds_what_the_ledger_says(sqlite_url):
    from sqlalchemy import update

    from wallet import tables
    city = CryptoCity.from_config("crypto-city", db=sqlite_url, seed=7)
    try:
        city.onboard(actor="aigerim", kyc_tier="full")
        arrived = city.onchain_deposit(actor="aigerim", amount_minor=100_000)
        city.verify()
        with city.ledger.unit_of_work() as uow:   # a coin vanishes from the chain behind the ledger's back
            uow.conn.execute(update(tables.btc_outputs).where(tables.btc_outputs.c.txid == arrived.txid)
                             .values(spent_by="ff" * 32))
            uow.commit()
        with pytest.raises(Exception) as broken:
            city.verify()
        assert str(broken.value).startswith("BTC on chain at the custodian's addresses")
        assert "100000 missing from the chain" in str(broken.value)
    finally:
        city.close()


def test_an_on_chain_deposit_of_nothing_is_refused_before_the_chain_is_touched(sqlite_url):
    city = CryptoCity.from_config("crypto-city", db=sqlite_url, seed=7)
    try:
        city.onboard(actor="aigerim", kyc_tier="full")
        height, balances = city.btc_node.height(), city.balances("aigerim")
        with pytest.raises(Exception) as refused:
            city.onchain_deposit(actor="aigerim", amount_minor=0)
        assert refused.value.code == "invalid_amount"
        assert (city.btc_node.height(), city.balances("aigerim")) == (height, balances)
        city.verify()
    finally:
        city.close()
