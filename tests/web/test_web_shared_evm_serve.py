"""Scale-out with the shared EVM node, for real: ``cryptocity serve --anvil --workers 2`` (anvil started
and supervised by serve, from the project's own install) and a second ``cryptocity serve --evm-url`` on
another port, over one PostgreSQL. ETH and test-USDT deposits and KZTE mint/redeem go through both;
after a restart of everything the balances are unchanged and the regulator report (verify, the KZTE
peg, the custodian's holdings on chain) agrees with the chain. Without anvil: skipped; under CI: failed.
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
from pathlib import Path

import pytest

from sandbox.anvil import anvil_binary, free_port

BIN = Path(sys.executable).parent
CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ETH_GWEI, USDT_MICRO, KZTE_TIYN = 100_000_000, 250 * 10**6, 20_000_00

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


def test_two_serve_processes_share_the_anvil_node_that_serve_supervises(pg_url, tmp_path):
    anvil = anvil_binary()
    if anvil is None:
        if CI:
            pytest.fail("anvil is not installed: `make chains` (CI runs it through .ci/run)")
        pytest.skip("anvil is not installed: run `make chains`")
    env = {**os.environ, "CRYPTOCITY_ANVIL": anvil}
    evm_port, port_a, port_b = free_port(), free_port(), free_port()
    state = tmp_path / "evm-state.json"

    def start_all() -> tuple[Server, Server]:
        a = Server(["--db", pg_url, "--workers", "2", "--anvil", "--anvil-port", str(evm_port),
                    "--state", str(state), "--state-interval", "1"], port_a, tmp_path / "a.log", env)
        try:
            b = Server(["--db", pg_url, "--evm-url", f"http://127.0.0.1:{evm_port}"], port_b, tmp_path / "b.log",
                       env)
        except BaseException:
            a.stop()
            raise
        return a, b

    def holdings(server: Server) -> dict[str, int]:
        lines = server.call(token, "GET", "/customers/aigerim/balances")["balances"]
        return {x["asset"]: x["available_minor"] for x in lines if x["asset"] in ("ETH", "USDT", "KZTE")}

    a, b = start_all()
    try:
        token = subprocess.run([str(BIN / "cryptocity"), "keys", "create", "operator", "--db", pg_url],
                               capture_output=True, text=True, check=True, env=env).stdout.strip()
        a.call(token, "POST", "/customers", {"actor": "aigerim", "kyc_tier": "full"}, key="onboard")
        addresses = {s.call(token, "POST", "/customers/aigerim/deposit-addresses", {"chain": "ethereum"},
                            key=f"address-{n}")["address"] for n, s in enumerate((a, b))}
        assert len(addresses) == 1   # the same deposit address from every process
        for n, (server, asset, amount) in enumerate([(a, "ETH", ETH_GWEI), (b, "USDT", USDT_MICRO),
                                                     (b, "ETH", ETH_GWEI), (a, "USDT", USDT_MICRO)]):
            server.call(token, "POST", "/customers/aigerim/onchain-deposits", {"asset": asset, "amount_minor": amount},
                        key=f"deposit-{n}")
        # Bitcoin's chain is in the database: a BTC deposit through any process is credited once
        a.call(token, "POST", "/customers/aigerim/onchain-deposits", {"asset": "BTC", "amount_minor": 10_000},
               key="btc")
        a.call(token, "POST", "/customers/aigerim/faucet", {"asset": "KZT", "amount_minor": 50_000_00}, key="kzt")
        a.call(token, "POST", "/customers/aigerim/kzte/mint", {"amount_minor": KZTE_TIYN}, key="mint")
        b.call(token, "POST", "/customers/aigerim/kzte/redeem", {"amount_minor": KZTE_TIYN // 4}, key="redeem")
        expected = {"ETH": 2 * ETH_GWEI, "USDT": 2 * USDT_MICRO, "KZTE": KZTE_TIYN * 3 // 4}
        assert holdings(a) == holdings(b) == expected
        report = b.call(token, "GET", "/reports/regulator")
        assert report["invariants"]["verified"], report["invariants"]
        assert report["kzte"]["supply_minor"] == KZTE_TIYN * 3 // 4
        assert {k: v["difference_minor"] for k, v in report["custody_onchain"].items()} == {"ETH": 0, "USDT": 0}
    finally:
        b.stop()
        a.stop()   # stops anvil too, which writes its state file
    assert state.exists()

    a, b = start_all()   # a restart of everything
    try:
        assert holdings(b) == holdings(a) == expected
        report = a.call(token, "GET", "/reports/regulator")
        assert report["invariants"]["verified"], report["invariants"]
        assert report["kzte"]["supply_minor"] == KZTE_TIYN * 3 // 4
        assert all(v["agrees"] for v in report["custody_onchain"].values())
    finally:
        b.stop()
        a.stop()
