"""Scale-out, for real: ``cryptocity serve --anvil --workers 3`` (three gunicorn workers; anvil started and
supervised by serve, from the project's own install; bitcoind's JSON-RPC on the city's chain) and a second
``cryptocity serve --evm-url`` on another port, over one PostgreSQL. BTC deposits race through all the
processes and each is credited once; withdrawals get distinct txids; ETH and test-USDT deposits and KZTE
mint/redeem go through different processes; after a restart of everything the block heights and balances
are unchanged, and ``verify`` and the proof-of-reserves reports agree with both chains. Without anvil:
skipped; under CI: failed.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sandbox.anvil import anvil_binary, free_port
from sandbox.city import CryptoCity
from wallet.bitcoin.rpc import BitcoindRPC
from wallet.keys import HDKeys, MasterSeed

BIN = Path(sys.executable).parent
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ETH_GWEI, USDT_MICRO, KZTE_TIYN = 100_000_000, 250 * 10**6, 20_000_00
BTC_SAT, WITHDRAWN_SAT = 100_000, 20_000
OUTSIDE = HDKeys(MasterSeed.for_sandbox("someone else's wallet"))

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


class Server:
    def __init__(self, args: list[str], port: int, log: Path, env: dict) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("a") as out:
            self.proc = subprocess.Popen([str(BIN / "cryptocity"), "serve", "--port", str(port), "--no-webhooks",
                                          *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=env)
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=5)  # noqa: S310 - our own server
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError(log.read_text()) from None
                time.sleep(0.2)

    def call(self, token: str, method: str, path: str, body: dict | None = None, key: str | None = None):
        request = urllib.request.Request(self.base + "/api/v1" + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(), headers={
                                             "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                             **({"Idempotency-Key": key} if key else {})})
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own server
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)


def test_three_workers_and_a_second_server_share_both_chains_across_a_restart(pg_url, tmp_path):
    anvil = anvil_binary()
    if anvil is None:
        if CI:
            pytest.fail("anvil is not installed: `make chains` (CI runs it through .ci/run)")
        pytest.skip("anvil is not installed: run `make chains`")
    env = {**os.environ, "CRYPTOCITY_ANVIL": anvil}
    evm_port, rpc_port, port_a, port_b = free_port(), free_port(), free_port(), free_port()
    state = tmp_path / "evm-state.json"
    evm_url = f"http://127.0.0.1:{evm_port}"

    def start_all() -> tuple[Server, Server]:
        a = Server(["--db", pg_url, "--workers", "3", "--anvil", "--anvil-port", str(evm_port),
                    "--state", str(state), "--state-interval", "1",
                    "--btc-rpc-port", str(rpc_port), "--btc-rpc-password", "s3cret"], port_a, tmp_path / "a.log", env)
        try:
            b = Server(["--db", pg_url, "--evm-url", evm_url], port_b, tmp_path / "b.log", env)
        except BaseException:
            a.stop()
            raise
        return a, b

    def holdings(server: Server) -> dict[str, int]:
        lines = server.call(token, "GET", "/customers/aigerim/balances")["balances"]
        return {x["asset"]: x["available_minor"] for x in lines if x["asset"] in ("BTC", "ETH", "USDT", "KZTE")}

    def agree_with_both_chains() -> int:
        """verify() and the proof-of-reserves reports, from a third process; returns the BTC height."""
        city = CryptoCity.from_config("crypto-city", db=pg_url, evm_url=evm_url)
        try:
            city.verify()   # the ledger, the KZTE peg, and each chain against what the ledger says it holds
            btc = city.ctx.custodian.reserves_report("BTC")
            assert btc["onchain_minor"] == btc["ledger_onchain_minor"] > 0, btc
            return city.btc_node.height()
        finally:
            city.close()

    a, b = start_all()
    try:
        token = subprocess.run([str(BIN / "cryptocity"), "keys", "create", "operator", "--db", pg_url],
                               capture_output=True, text=True, check=True, env=env).stdout.strip()
        a.call(token, "POST", "/customers", {"actor": "aigerim", "kyc_tier": "full"}, key="onboard")
        addresses = {s.call(token, "POST", "/customers/aigerim/deposit-addresses", {"chain": "ethereum"},
                            key=f"address-{n}")["address"] for n, s in enumerate((a, b))}
        assert len(addresses) == 1   # the same deposit address from every process
        # BTC deposits at once through the three workers and the second server: each credited once
        with ThreadPoolExecutor(8) as pool:
            arrived = list(pool.map(lambda n: (a if n % 4 else b).call(
                token, "POST", "/customers/aigerim/onchain-deposits", {"asset": "BTC", "amount_minor": BTC_SAT},
                key=f"btc-{n}"), range(8)))
        assert len({d["txid"] for d in arrived}) == 8, arrived
        with ThreadPoolExecutor(2) as pool:   # withdrawals at once through two processes: distinct txids
            sent = list(pool.map(lambda n: (a, b)[n].call(
                token, "POST", "/customers/aigerim/withdrawals",
                {"address": OUTSIDE.address("bitcoin", "deposit", n), "amount_minor": WITHDRAWN_SAT},
                key=f"withdraw-{n}"), range(2)))
        assert len({w["txid"] for w in sent}) == 2 and {w["status"] for w in sent} == {"confirmed"}, sent
        node = BitcoindRPC(f"http://cryptocity:s3cret@127.0.0.1:{rpc_port}/")   # the chain as bitcoin-cli sees it
        assert node.balance_sat([OUTSIDE.address("bitcoin", "deposit", n) for n in range(2)]) == 2 * WITHDRAWN_SAT
        for n, (server, asset, amount) in enumerate([(a, "ETH", ETH_GWEI), (b, "USDT", USDT_MICRO),
                                                     (b, "ETH", ETH_GWEI), (a, "USDT", USDT_MICRO)]):
            server.call(token, "POST", "/customers/aigerim/onchain-deposits", {"asset": asset, "amount_minor": amount},
                        key=f"deposit-{n}")
        a.call(token, "POST", "/customers/aigerim/faucet", {"asset": "KZT", "amount_minor": 50_000_00}, key="kzt")
        a.call(token, "POST", "/customers/aigerim/kzte/mint", {"amount_minor": KZTE_TIYN}, key="mint")
        b.call(token, "POST", "/customers/aigerim/kzte/redeem", {"amount_minor": KZTE_TIYN // 4}, key="redeem")
        fees = sum(w["fee_minor"] for w in sent)
        expected = {"BTC": 8 * BTC_SAT - 2 * WITHDRAWN_SAT - fees, "ETH": 2 * ETH_GWEI, "USDT": 2 * USDT_MICRO,
                    "KZTE": KZTE_TIYN * 3 // 4}
        assert holdings(a) == holdings(b) == expected
        report = b.call(token, "GET", "/reports/regulator")
        assert report["invariants"]["verified"], report["invariants"]
        assert report["kzte"]["supply_minor"] == KZTE_TIYN * 3 // 4
        assert {k: v["difference_minor"] for k, v in report["custody_onchain"].items()} == {"ETH": 0, "USDT": 0}
        height = agree_with_both_chains()
        assert node.height() == height
    finally:
        b.stop()
        a.stop()   # stops anvil too, which writes its state file
    assert state.exists()

    a, b = start_all()   # a restart of everything
    try:
        assert holdings(b) == holdings(a) == expected
        assert BitcoindRPC(f"http://cryptocity:s3cret@127.0.0.1:{rpc_port}/").height() == height
        report = a.call(token, "GET", "/reports/regulator")
        assert report["invariants"]["verified"], report["invariants"]
        assert report["kzte"]["supply_minor"] == KZTE_TIYN * 3 // 4
        assert all(v["agrees"] for v in report["custody_onchain"].values())
        assert agree_with_both_chains() == height
    finally:
        b.stop()
        a.stop()
