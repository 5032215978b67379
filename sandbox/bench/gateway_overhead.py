"""``cryptocity bench card --gateway``: what asking a decision app costs a purchase. A loopback app that
answers ``{"approved": true}`` at once (keep-alive, like a real app behind the sandbox) decides every
other purchase; the rest take the no-gateway path (which still looks whether any decision URL is set).
Both run the same write transaction; the difference in p99 is the gateway's overhead: the read-only
pre-check, the signed request and its answer."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import click

from card import response_codes as rc
from card.authorization import authorize

from .. import gateway
from ..webhooks import signing
from .common import percentile

ANSWER = json.dumps({"approved": True}).encode()


class _App(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: the gateway's client reuses its connection
    disable_nagle_algorithm = True  # the status line and the body go out at once (no delayed-ACK stall)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def _programme(url: str | None) -> SimpleNamespace:
    return SimpleNamespace(decision_url=url, decision_secret=signing.new_secret() if url else None,
                           decision_deadline_ms=2000, stand_in="decline", partial_approval=False)


def run(cards, card_id: int, merchant_id: str, amount_minor: int, count: int, prefix: str = "gateway-bench"
        ) -> tuple[list[float], list[float]]:
    """``count`` purchases each way, alternating: (no-gateway latencies, gateway latencies) in ms."""
    # The app is another process, as a real one is (in this process it would wait for the GIL).
    app = subprocess.Popen([sys.executable, "-m", "sandbox.bench.gateway_overhead"], stdout=subprocess.PIPE,
                           text=True)
    port = int(app.stdout.readline())
    ledger = cards.ledger

    def read(fn):
        with ledger.unit_of_work(read_only=True) as uow:
            return fn(uow)
    ways = {"plain": _programme(None), "gateway": _programme(f"http://127.0.0.1:{port}/decide")}
    latencies: dict[str, list[float]] = {"plain": [], "gateway": []}
    try:
        for i in range(count):
            for way, programme in ways.items():
                key = f"{prefix}-{way}-{i}"
                t0 = time.perf_counter()
                decision = gateway.ask(cards, ledger, read, programme, merchant_id=merchant_id,
                                       amount_minor=amount_minor, key=key, reference=key, card_id=card_id)
                result = ledger.transaction(lambda uow: authorize(
                    cards, uow, amount_minor=amount_minor, merchant_id=merchant_id, idempotency_key=key,
                    card_id=card_id, decision=decision))
                latencies[way].append((time.perf_counter() - t0) * 1000)
                expected = rc.WEBHOOK_APPROVED if way == "gateway" else None
                if not result.approved or (decision.outcome if decision else None) != expected:
                    raise click.ClickException(f"{way} purchase {i} was not approved as expected: {result.reason} "
                                               f"({decision})")
    finally:
        app.terminate()
        app.wait(10)
    return latencies["plain"], latencies["gateway"]


def report(cards, card_id: int, merchant_id: str, amount_minor: int, count: int) -> list[str]:
    """The lines to print, the last one ``gateway overhead p99 N ms``."""
    plain, asked = run(cards, card_id, merchant_id, amount_minor, count)
    p50 = percentile(asked, 50) - percentile(plain, 50)
    p99 = percentile(asked, 99) - percentile(plain, 99)
    return [f"gateway: {count} purchases each way; no gateway p50 {percentile(plain, 50):.2f} ms, "
            f"p99 {percentile(plain, 99):.2f} ms; with the loopback app p50 {percentile(asked, 50):.2f} ms, "
            f"p99 {percentile(asked, 99):.2f} ms",
            f"gateway overhead p50 {p50:.2f} ms",
            f"gateway overhead p99 {p99:.2f} ms"]


def serve() -> None:
    """The loopback app: prints its port, then answers until terminated."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    server.daemon_threads = True
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve()
