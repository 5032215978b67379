"""Concurrent writers over real HTTP: a threaded server on a CryptoCity, client threads racing card
captures against transfers on the same accounts (PostgreSQL row locks, retries). A caller never sees
a database conflict: no 500, no error, the money adds up."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest
from sqlalchemy import select

from sandbox.apikeys import create_key
from sandbox.bench.http_setup import write_bench_config
from sandbox.city import CryptoCity
from sandbox.config.loader import load_config
from sandbox.tables import audit_log
from sandbox.web import create_app
from web_support import serve

THREADS = 8
PURCHASES = 30          # per capturing thread; as many transfers per transferring thread
MERCHANT = "alatau-coffee"
PRICE_MINOR = 1_000_00


def _post(base: str, path: str, body: dict, token: str, key: str) -> int:
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def racing_city(pg_url, tmp_path):
    """A city on PostgreSQL (card count and velocity limits raised, as the HTTP bench has them) with four
    customers, each with ``PURCHASES`` approved, uncaptured purchases at one café."""
    city = CryptoCity.from_config(load_config(write_bench_config(tmp_path)), db=pg_url, seed=7)
    city.customers = [f"racer-{i}" for i in range(4)]
    city.purchases = {}
    for actor in city.customers:
        city.onboard(actor=actor, kyc_tier="full", deposits={"KZT": 200_000_00})
        city.purchases[actor] = [city.pay(actor=actor, merchant=MERCHANT, amount_minor=PRICE_MINOR,
                                          ref=f"{actor}-{n}").authorization_id for n in range(PURCHASES)]
    with city.ledger.unit_of_work() as uow:
        city.tokens = {"merchant": create_key(uow.conn, "merchant", MERCHANT, now=uow.now()).token,
                       "operator": create_key(uow.conn, "operator", None, now=uow.now()).token}
        city.bank = {actor: uow.account_by_code(f"bank:{actor}:KZT").id for actor in city.customers}
        city.till = uow.account_by_code(f"merchant:{MERCHANT}:KZT").id
        uow.commit()
    yield city
    city.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_captures_racing_transfers_on_shared_accounts_over_http_give_no_errors(racing_city):
    """Captures move money from a customer's bank account (opened late: a high id) to the café's
    settlement account (opened at set-up: a low id) while transfers move it the other way round and back.
    Before one lock order and one retry filter this gave deadlocks surfacing as 500s."""
    city = racing_city
    statuses: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def client(base: str, i: int) -> None:
        actor = city.customers[i % 4]
        seen = Counter()
        barrier.wait(timeout=60)
        for n in range(PURCHASES):
            if i < 4:
                status = _post(base, f"/api/v1/authorizations/{city.purchases[actor][n]}/capture", {},
                               city.tokens["merchant"], f"capture-{i}-{n}")
            else:
                src, dst = (city.till, city.bank[actor]) if n % 2 else (city.bank[actor], city.till)
                status = _post(base, "/api/v1/transfers", {"from_account_id": src, "to_account_id": dst,
                                                           "amount_minor": 100_00, "memo": "race"},
                               city.tokens["operator"], f"transfer-{i}-{n}")
            seen[status] += 1
        with lock:
            statuses.update(seen)

    for base in serve(create_app(city)):
        threads = [threading.Thread(target=client, args=(base, i)) for i in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert dict(statuses) == {200: 4 * PURCHASES, 201: 4 * PURCHASES}, statuses
    mdr = PRICE_MINOR * 150 // 10_000   # the café's 1.5 % merchant fee
    assert city.account_balance(f"merchant:{MERCHANT}:KZT") == 4 * PURCHASES * (PRICE_MINOR - mdr)
    city.verify()


def test_a_conflict_that_outlasts_every_retry_is_a_503_to_retry_not_a_500(client, city, monkeypatch):
    """psycopg raises its own DeadlockDetected from the hot paths' raw cursor; the retry filter knows
    it, the transaction is run again (here: it always deadlocks), and the client gets a 503 problem
    telling it to retry with the same key, never a 500."""
    import psycopg.errors

    from ledger.core import MAX_RETRIES
    from ledger.unit_of_work import UnitOfWork
    from web_support import auth
    attempts = []

    def deadlocks(self, postings, **options):
        attempts.append(1)
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(UnitOfWork, "transfer", deadlocks)
    monkeypatch.setattr("ledger.core.backoff", lambda attempt: None)
    response = client.post("/api/v1/transfers", json={"from_account_id": city.alice, "to_account_id": city.bob,
                                                      "amount_minor": 1_00},
                           headers=auth(city.keys["operator"], **{"Idempotency-Key": "busy-1"}))
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["code"] == "database_busy" and response.headers["Retry-After"] == "1"
    assert len(attempts) == MAX_RETRIES + 1
    city.ledger.verify()


def test_a_conflict_after_the_capture_retries_the_whole_request_and_pays_once(cc_client, cc, monkeypatch):
    """The capture, its audit entry and the stored response are one transaction: a conflict after the
    capture ran rolls all of it back, and the retried transaction captures, audits and answers once."""
    import psycopg.errors

    from sandbox.services import payments
    from web_support import auth
    coffee = cc.keys["coffee"]
    approved = cc_client.post("/api/v1/merchants/alatau-coffee/authorizations",
                              json={"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 1_500_00},
                              headers=auth(coffee, **{"Idempotency-Key": "till-1"})).json
    real_clear, runs = payments.clear, []

    def clear_then_conflict(*args, **kwargs):
        runs.append(real_clear(*args, **kwargs))
        if len(runs) == 1:
            raise psycopg.errors.SerializationFailure("could not serialize access")
        return runs[-1]

    monkeypatch.setattr(payments, "clear", clear_then_conflict)
    monkeypatch.setattr("ledger.core.backoff", lambda attempt: None)
    captured = cc_client.post(f"/api/v1/authorizations/{approved['id']}/capture", json={},
                              headers=auth(coffee, **{"Idempotency-Key": "cap-1"}))
    assert captured.status_code == 200 and captured.json["captured_minor"] == 1_500_00
    assert len(runs) == 2 and cc.account_balance("merchant:alatau-coffee:KZT") == 1_500_00 - 22_50
    with cc.ledger.unit_of_work(read_only=True) as uow:
        actions = list(uow.conn.execute(select(audit_log.c.action)).scalars())
    assert actions.count("card.capture") == 1
    cc.verify()
