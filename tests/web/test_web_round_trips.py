"""What one POS card authorization over HTTP costs in round trips to the database, counted by the server
itself (``X-Round-Trips``, ledger.db.count_round_trips: every statement, each BEGIN and COMMIT, a
pipelined batch once) and split into the web's own overhead — the API key and scope check, the city's
row, the idempotency claim, the audit entry, the stored response and the COMMIT — and the card's
authorization (the JIT crypto sale, the hold, the records).

The web overhead is pinned: a change that adds a round trip around every POST must show up here. The
authorization's part may only fall (card/ and ledger/ are being made cheaper separately)."""
from __future__ import annotations

import pytest
from web_support import auth

from ledger.db import count_round_trips
from sandbox.apikeys import create_key
from sandbox.city import CryptoCity
from sandbox.services import payments
from sandbox.web import create_app

# The web's round trips around one approved POS authorization:
# SQLite: key, whether any decision URL is set (the decision gateway, sandbox/gateway/: none here, so no app
# is asked), scope (merchant), BEGIN, city row, claim, audit head, audit entry, audit head move, stored
# response, the event log's INSERT, COMMIT. PostgreSQL: key with the decision URL's read and the scope (one
# pipelined trip), BEGIN with the city row (one pipelined trip), claim, then the audit entry (numbered,
# hashed and chained by PostgreSQL under the head's row lock), the stored response, the event log's INSERT
# and the COMMIT in one pipelined trip.
WEB_OVERHEAD = {"sqlite": 12, "postgresql": 4}
# The card's authorization with a JIT crypto sale when these were pinned (it may only fall).
AUTHORIZATION_AT_MOST = {"sqlite": 23, "postgresql": 8}


@pytest.fixture
def pos(db_url, monkeypatch):
    """A city on ``db_url`` with a crypto-only cardholder, a merchant key and an app that counts."""
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    info = city.onboard(actor="aigerim", kyc_tier="full", deposits={"USDT": 500_000_000})
    with city.ledger.unit_of_work() as uow:
        token = create_key(uow.conn, "merchant", "alatau-coffee", now=uow.now()).token
        uow.commit()
    client = create_app(city, {"TESTING": True, "ROUND_TRIPS_HEADER": True}).test_client()
    card_trips: list[int] = []
    authorize = payments.card_authorization.authorize

    def counted(*args, **kwargs):   # the real authorization, its round trips noted
        with count_round_trips() as meter:
            result = authorize(*args, **kwargs)
        card_trips.append(meter[0])
        return result
    monkeypatch.setattr(payments.card_authorization, "authorize", counted)

    def pay(key: str):
        return client.post("/api/v1/merchants/alatau-coffee/authorizations",
                           json={"card_id": info["card_id"], "amount_minor": 600_00},
                           headers=auth(token, **{"Idempotency-Key": key}))
    yield city, pay, card_trips, client, token
    city.close()


def test_one_pos_authorization_costs_the_pinned_web_overhead_plus_the_card(pos, db_url):
    city, pay, card_trips, client, token = pos
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    assert pay("warm-up").json["approved"] is True   # opens the fee accounts, fills the caches
    city.advance("1d")
    answer = pay("counted")
    assert answer.status_code == 201 and answer.json["approved"] is True
    total, card = int(answer.headers["X-Round-Trips"]), card_trips[-1]
    web = total - card
    print(f"{dialect}: round trips per POS authorization {total} = web overhead {web} + authorization {card}")
    assert web == WEB_OVERHEAD[dialect], f"web overhead {web} round trips (pinned {WEB_OVERHEAD[dialect]})"
    assert card <= AUTHORIZATION_AT_MOST[dialect]
    # The answer is built from the card's result, not read back: it is what the database holds.
    stored = client.get(f"/api/v1/authorizations/{answer.json['id']}", headers=auth(token))
    assert stored.status_code == 200 and stored.json == answer.json
    # A retry is the stored answer: the key check, the city row, the claim that finds it, and no write (and
    # the decision gateway's read of whether any decision URL is set).
    replay = pay("counted")
    assert replay.json == answer.json and replay.headers["Idempotent-Replayed"] == "true"
    assert int(replay.headers["X-Round-Trips"]) <= 8
    city.verify()


def test_the_count_is_only_sent_when_asked_for(cc_client, cc):
    answer = cc_client.get("/api/v1/clock", headers=auth(cc.keys["operator"]))
    assert answer.status_code == 200 and "X-Round-Trips" not in answer.headers


@pytest.mark.parametrize("statement", ["SELECT now, licences_version", "INSERT INTO ledger_idempotency",
                                       "WITH head AS (SELECT seq, hash FROM sandbox_audit_head",
                                       "INSERT INTO sandbox_audit_log", "UPDATE ledger_idempotency",
                                       "INSERT INTO sandbox_events", "WITH head AS (UPDATE sandbox_event_head",
                                       "COMMIT"])
def test_a_fault_in_a_batched_statement_leaves_nothing_and_the_key_free(pos, db_url, monkeypatch, statement):
    """The statements sent in one pipelined round trip (BEGIN with the city row; the audit entry, the stored
    response and the COMMIT) fail as a whole: a fault at any of them keeps nothing of the request."""
    from sqlalchemy import func, select

    from card.tables import authorizations
    from ledger import tables as lt
    from ledger.unit_of_work import CountingCursor
    from sandbox.tables import audit_log
    city, pay, _card_trips, _client, _token = pos
    monkeypatch.setattr("ledger.core.backoff", lambda attempt: None)
    assert pay("warm-up").json["approved"] is True
    city.advance("1d")

    def rows() -> tuple:
        with city.ledger.unit_of_work(read_only=True) as uow:
            count = lambda table: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()  # noqa: E731
            return count(authorizations), count(lt.idempotency), count(audit_log), count(lt.transfers)
    before, execute, hit = rows(), CountingCursor.execute, []

    def faulty(cursor, sql, params=None):  # noqa: ANN001
        if sql.startswith(statement):
            hit.append(sql)
            raise RuntimeError(f"fault injected at {statement}")
        return execute(cursor, sql, params)
    monkeypatch.setattr(CountingCursor, "execute", faulty)
    failed = pay("faulted")
    monkeypatch.setattr(CountingCursor, "execute", execute)
    if not hit:   # SQLite: the audit entry and its head in two statements, its COMMIT through the driver
        pytest.skip(f"{statement!r} is not sent on this database")
    assert failed.status_code == 500
    assert rows() == before
    retried = pay("faulted")   # the key was never kept: the retry runs afresh
    assert retried.status_code == 201 and retried.json["approved"] is True
    city.verify()
