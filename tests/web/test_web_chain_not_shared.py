"""The embedded Bitcoin chain lives in one process's memory: a city served by several processes refuses
on-chain verbs (503 ``chain_not_shared``) rather than lose deposits — before, each gunicorn worker had its
own chain from the same seed, workers produced identical txids and the credit-once rule dropped real
deposits. One process keeps working, and a second process on the same database is refused while the
first owns the chain."""
from __future__ import annotations

import http.client
import json
from datetime import datetime, timezone

import pytest

from ledger import Database
from sandbox.apikeys import create_key
from sandbox.bench.http import HOST, _free_port, start_server, stop_server, wait_ready
from sandbox.city import CryptoCity

PROBLEM = "application/problem+json"
BTC_ADDRESS = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"   # a valid regtest P2WPKH address


def _post(port: int, path: str, token: str, key: str, body: dict) -> tuple[int, str, dict]:
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                                                 "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type", ""), json.loads(response.read() or b"{}")


@pytest.mark.postgres
def test_a_city_served_by_two_gunicorn_workers_refuses_on_chain_verbs_with_503(pg_url, tmp_path):
    port = _free_port()
    server = start_server(pg_url, port, 2, log_path=tmp_path / "server.log")
    try:
        wait_ready(port, server)
        db = Database(pg_url)
        with db.engine.begin() as conn:
            operator = create_key(conn, "operator", None, now=datetime(2025, 6, 1, tzinfo=timezone.utc)).token
        db.dispose()
        status, _, _ = _post(port, "/api/v1/customers", operator, "onboard-1",
                             {"actor": "aigerim", "kyc_tier": "full", "deposits": {"KZT": 100_000_00}})
        assert status == 201
        # Every worker answers the same: several processes serve this city (whichever takes the request).
        for n in range(4):
            status, media, problem = _post(port, "/api/v1/customers/aigerim/onchain-deposits", operator,
                                           f"dep-{n}", {"amount_minor": 100_000})
            assert status == 503 and media.startswith(PROBLEM), problem
            assert problem["code"] == "chain_not_shared" and "--workers 1" in problem["detail"]
        status, _, problem = _post(port, "/api/v1/customers/aigerim/withdrawals", operator, "wd-1",
                                   {"address": BTC_ADDRESS, "amount_minor": 10_000})
        assert status == 503 and problem["code"] == "chain_not_shared"
        # Everything off chain still works with several workers.
        status, _, _ = _post(port, "/api/v1/customers/aigerim/faucet", operator, "faucet-1",
                             {"asset": "BTC", "amount_minor": 100_000})
        assert status == 201
    finally:
        stop_server(server)


def test_one_process_owns_the_embedded_chain_of_a_database(db_url):
    """Two cities on one database stand for two processes: the first to do on-chain work owns the chain;
    the other is refused (nothing changes) until the first closes and releases it."""
    first = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    second = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    try:
        first.onboard(actor="aigerim", kyc_tier="full")
        assert first.onchain_deposit(actor="aigerim", amount_minor=100_000).credited == 1
        before = second.balances("aigerim")
        with pytest.raises(Exception) as refused:
            second.onchain_deposit(actor="aigerim", amount_minor=100_000)
        assert refused.value.code == "chain_not_shared" and "another process" in str(refused.value)
        assert second.balances("aigerim") == before
        first.close()
        # Released: the second may now use a chain of its own. (That chain starts afresh from the seed —
        # a chain that outlives its process is the shared-chains work, not this refusal.)
        second.onchain_deposit(actor="aigerim", amount_minor=50_000)
        second.verify()
    finally:
        first.close()
        second.close()
