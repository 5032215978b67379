"""``cryptocity serve`` runs on the whole city: each worker builds its own CryptoCity over the shared
database, and the clock endpoints go through the city (holds expire, market makers requote, audit)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sandbox.apikeys import create_key
from sandbox.city import CryptoCity
from sandbox.web.app import create_app
from sandbox.web.serve import build_services


def _operator_key(city) -> str:
    with city.ledger.unit_of_work() as uow:
        token = create_key(uow.conn, "operator", None, now=uow.now()).token
        uow.commit()
    return token


def test_serve_builds_a_city_and_workers_share_its_clock(db_url):
    worker1 = build_services(db_url)               # default preset, as `cryptocity serve` does
    worker2 = build_services(db_url)               # a second worker joins the city, sets nothing up
    assert isinstance(worker1, CryptoCity) and worker1.set_up_here and not worker2.set_up_here
    worker1.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 1_000_000})
    paid = worker2.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee")
    assert paid.status == "approved"

    key = _operator_key(worker1)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "advance-8d"}
    client1 = create_app(worker1, {"TESTING": True}).test_client()
    client2 = create_app(worker2, {"TESTING": True}).test_client()
    start = datetime.fromisoformat(client2.get("/api/v1/clock", headers=headers).json["now"])
    moved = client1.post("/api/v1/clock/advance", json={"seconds": 8 * 86400}, headers=headers)
    assert moved.status_code == 200, moved.get_data(as_text=True)
    replay = client1.post("/api/v1/clock/advance", json={"seconds": 8 * 86400}, headers=headers)
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.json == moved.json
    # the other worker sees the new time; the unsettled hold expired (7-day holds) with the advance
    assert client2.get("/api/v1/clock", headers=headers).json["now"] == moved.json["now"]
    assert datetime.fromisoformat(moved.json["now"]) == start + timedelta(days=8)
    assert worker2.balances("aigerim")["KZT"] >= 1_500_00   # the hold was released
    worker1.verify()
    worker2.verify()
    worker1.close()
    worker2.close()
