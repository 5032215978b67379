"""Helpers for the web tests: a seeded city (two customers, a merchant, keys per role)."""
from __future__ import annotations

import html
import re
import threading
from dataclasses import dataclass

from werkzeug.serving import make_server

from ledger import Ledger, move
from sandbox.apikeys import create_key


@dataclass
class City:
    ledger: Ledger
    world: int
    alice: int  # cust:1's KZT account
    bob: int    # cust:2's KZT account
    shop: int   # merchant m1's KZT settlement account
    keys: dict[str, str]


def seed(ledger: Ledger) -> City:
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external")
        alice = uow.open_account("cust:1", "KZT", "customer")
        bob = uow.open_account("cust:2", "KZT", "customer")
        shop = uow.open_account("merchant:m1", "KZT", "merchant")
        uow.transfer(move(world.id, alice.id, 500_000_00), memo="salary")
        uow.transfer(move(world.id, bob.id, 120_000_00), memo="salary")
        uow.transfer(move(alice.id, shop.id, 4_500_00), memo="coffee")
        keys = {name: create_key(uow.conn, role, subject, now=uow.now()).token for name, role, subject in (
            ("operator", "operator", None), ("regulator", "regulator", None), ("alice", "customer", "cust:1"),
            ("bob", "customer", "cust:2"), ("merchant", "merchant", "merchant:m1"))}
        uow.commit()
    return City(ledger, world.id, alice.id, bob.id, shop.id, keys)


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def serve(app):
    """Serve ``app`` on a free loopback port (threaded: a thread per request); yields its base URL and
    stops it afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def curl_commands(page: str) -> dict[str, str]:
    """operationId -> the curl example the /docs page shows for it."""
    found = re.findall(r'<article class="op" id="([^"]+)">.*?<pre class="curl"><code>(.*?)</code></pre>', page,
                       flags=re.S)
    return {op_id: html.unescape(command) for op_id, command in found}
