"""The API's conventions as a client sees them: problem+json, idempotency, limits, pagination."""
from __future__ import annotations

import json

import pytest

from web_support import auth

PROBLEM = "application/problem+json"


def balances(client, city) -> dict[int, int]:
    key = auth(city.keys["operator"])
    return {a: client.get(f"/api/v1/accounts/{a}", headers=key).json["balance_minor"]
            for a in (city.world, city.alice, city.bob, city.shop)}


def transfer(client, city, body, key="t-1", token="operator", **kw):
    headers = auth(city.keys[token], **({"Idempotency-Key": key} if key else {}))
    return client.post("/api/v1/transfers", headers=headers, **({"json": body} if body is not None else kw))


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.json if response.is_json else json.loads(response.get_data())
    assert body["type"] == f"urn:cryptocity:problem:{code}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_health_readiness_and_contract(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["status"] == "ready"
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/accounts/{account_id}/balance" in spec["paths"]
    post = spec["paths"]["/api/v1/transfers"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and b"/api/v1/transfers" in docs.data and b"cdn" not in docs.data.lower()


def test_readiness_reports_missing_migrations(tmp_path, clock):
    from ledger import Database, Ledger
    from sandbox.web import create_app
    db = Database(f"sqlite:///{tmp_path / 'half.db'}")
    db.migrate(["ledger"])
    response = create_app(Ledger(db, clock)).test_client().get("/readyz")
    body = assert_problem(response, 503, "migrations_pending")
    assert "sandbox_web_0001" in body["detail"]
    db.dispose()


def test_transfer_moves_money_and_replays_with_the_same_key(db_client, db_city):
    client, city = db_client, db_city
    before = balances(client, city)
    body = {"from_account_id": city.alice, "to_account_id": city.bob, "amount_minor": 1_000_00, "memo": "rent"}
    first = transfer(client, city, body)
    assert first.status_code == 201 and first.json["postings"][1] == {"account_id": city.bob, "amount_minor": 100000}
    again = transfer(client, city, body)
    assert again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    after = balances(client, city)
    assert after[city.alice] == before[city.alice] - 1_000_00 and after[city.bob] == before[city.bob] + 1_000_00
    city.ledger.verify()


def test_reused_key_with_a_different_body_is_a_conflict_and_changes_nothing(db_client, db_city):
    client, city = db_client, db_city
    body = {"from_account_id": city.alice, "to_account_id": city.bob, "amount_minor": 1_00}
    assert transfer(client, city, body).status_code == 201
    before = balances(client, city)
    problem = assert_problem(transfer(client, city, {**body, "amount_minor": 2_00}), 409, "idempotency_conflict")
    assert "different request" in problem["detail"]
    assert balances(client, city) == before
    city.ledger.verify()


@pytest.mark.parametrize("send, status, code, field", [
    ({"data": b'{"from_account_id": 1,', "content_type": "application/json"}, 400, "malformed_body", None),
    ({"data": b'[1, 2]', "content_type": "application/json"}, 400, "malformed_body", None),
    ({"json": {"from_account_id": 1, "to_account_id": 2, "amount_minor": 5, "colour": "red"}}, 422,
     "validation_error", "colour"),
    ({"json": {"from_account_id": 1, "to_account_id": 2, "amount_minor": "5"}}, 422, "validation_error",
     "amount_minor"),
    ({"json": {"from_account_id": 1, "to_account_id": 2, "amount_minor": 1.5}}, 422, "validation_error",
     "amount_minor"),
    ({"json": {"from_account_id": 1, "to_account_id": 2}}, 422, "validation_error", "amount_minor"),
    ({"json": {"from_account_id": 1, "to_account_id": 2, "amount_minor": 2**70}}, 422, "validation_error",
     "amount_minor"),
])
def test_bad_input_is_a_problem_naming_the_field_and_changes_nothing(client, city, send, status, code, field):
    before = balances(client, city)
    response = transfer(client, city, None, **send)
    problem = assert_problem(response, status, code)
    if field:
        assert field in problem["errors"] and field in problem["detail"]
    assert balances(client, city) == before


def test_domain_refusals_map_to_4xx_problems(db_client, db_city):
    client, city = db_client, db_city
    before = balances(client, city)
    too_much = {"from_account_id": city.bob, "to_account_id": city.alice, "amount_minor": 10**12}
    problem = assert_problem(transfer(client, city, too_much, key="k-1"), 422, "insufficient_funds")
    assert "KZT" in problem["detail"]
    missing = {"from_account_id": city.bob, "to_account_id": 999_999, "amount_minor": 1}
    assert_problem(transfer(client, city, missing, key="k-2"), 404, "account_not_found")
    same = {"from_account_id": city.bob, "to_account_id": city.bob, "amount_minor": 1}
    assert transfer(client, city, same, key="k-3").status_code in (400, 409, 422)
    assert balances(client, city) == before
    # A refusal stores nothing under the key: fixing the request and retrying with it works.
    ok = {"from_account_id": city.bob, "to_account_id": city.alice, "amount_minor": 1}
    assert transfer(client, city, ok, key="k-1").status_code == 201
    city.ledger.verify()


def test_keys_and_headers(client, city):
    body = {"from_account_id": city.alice, "to_account_id": city.bob, "amount_minor": 1}
    before = balances(client, city)
    assert_problem(client.get("/api/v1/accounts"), 401, "unauthorized")
    assert_problem(client.get("/api/v1/accounts", headers=auth("cck_wrong")), 401, "invalid_api_key")
    assert client.get("/api/v1/accounts", headers={"X-API-Key": city.keys["operator"]}).status_code == 200
    assert_problem(transfer(client, city, body, key=None), 400, "idempotency_key_required")
    assert_problem(transfer(client, city, body, key="x" * 256), 400, "invalid_idempotency_key")
    assert_problem(transfer(client, city, body, token="regulator"), 403, "forbidden")
    assert_problem(transfer(client, city, body, token="alice"), 403, "forbidden")
    assert balances(client, city) == before


def test_body_size_limit_is_a_413_problem(client, city):
    body = {"from_account_id": city.alice, "to_account_id": city.bob, "amount_minor": 1, "memo": "x" * 70_000}
    assert_problem(transfer(client, city, body), 413, "request_too_large")


def test_unknown_routes_and_methods_are_problems(client, city):
    assert_problem(client.get("/api/v1/nothing", headers=auth(city.keys["operator"])), 404, "not_found")
    assert_problem(client.get("/api/v1/accounts/99999999999999999999999", headers=auth(city.keys["operator"])),
                   404, "not_found")
    assert_problem(client.delete("/api/v1/accounts", headers=auth(city.keys["operator"])), 405,
                   "method_not_allowed")


def test_accounts_paginate_and_filter(client, city):
    key = auth(city.keys["operator"])
    seen, after = [], None
    while True:
        page = client.get("/api/v1/accounts", headers=key, query_string={"limit": 2, **({"after_id": after}
                                                                                          if after else {})}).json
        seen += [a["id"] for a in page["items"]]
        after = page["next_after_id"]
        if after is None:
            break
    assert seen == sorted(seen) and {city.world, city.alice, city.bob, city.shop} <= set(seen)
    mine = client.get("/api/v1/accounts", headers=key, query_string={"owner": "cust:1"}).json["items"]
    assert [a["id"] for a in mine] == [city.alice]
    assert_problem(client.get("/api/v1/accounts", headers=key, query_string={"limit": 201}), 422,
                   "validation_error")


def test_balance_as_of_and_history(client, city):
    key = auth(city.keys["operator"])
    t0 = city.ledger.clock.now()
    city.ledger.clock.advance(__import__("datetime").timedelta(hours=1))
    body = {"from_account_id": city.alice, "to_account_id": city.bob, "amount_minor": 7_00}
    assert transfer(client, city, body).status_code == 201
    now = client.get(f"/api/v1/accounts/{city.bob}/balance", headers=key).json
    then = client.get(f"/api/v1/accounts/{city.bob}/balance", headers=key,
                      query_string={"as_of": t0.isoformat()}).json
    assert now["ledger_minor"] - then["ledger_minor"] == 7_00
    history = client.get(f"/api/v1/accounts/{city.bob}/history", headers=key, query_string={"limit": 1}).json
    assert len(history["items"]) == 1 and history["next_after_id"] == history["items"][0]["entry_id"]
    rest = client.get(f"/api/v1/accounts/{city.bob}/history", headers=key,
                      query_string={"after_id": history["next_after_id"]}).json
    assert [e["amount_minor"] for e in rest["items"]] == [7_00] and rest["next_after_id"] is None
    assert_problem(client.get(f"/api/v1/accounts/{city.bob}/balance", headers=key,
                              query_string={"as_of": "yesterday"}), 422, "validation_error")
    city.ledger.verify()


def test_clock_reads_for_everyone_and_advances_for_the_operator(client, city):
    start = client.get("/api/v1/clock", headers=auth(city.keys["alice"])).json["now"]
    advance = lambda token, key: client.post("/api/v1/clock/advance", json={"seconds": 3600},  # noqa: E731
                                             headers=auth(city.keys[token], **{"Idempotency-Key": key}))
    assert_problem(advance("alice", "c1"), 403, "forbidden")
    assert_problem(advance("regulator", "c1"), 403, "forbidden")
    moved = advance("operator", "c1")
    assert moved.status_code == 200 and moved.json["now"] > start
    assert advance("operator", "c1").json == moved.json  # a replay does not move time twice
    assert client.get("/api/v1/clock", headers=auth(city.keys["operator"])).json["now"] == moved.json["now"]


def test_verify_for_operator_and_regulator_only(client, city):
    for token in ("operator", "regulator"):
        report = client.get("/api/v1/ledger/verify", headers=auth(city.keys[token])).json
        assert report["ok"] is True and report["problem"] is None
    assert_problem(client.get("/api/v1/ledger/verify", headers=auth(city.keys["alice"])), 403, "forbidden")


def test_open_account_is_idempotent(client, city):
    key = auth(city.keys["operator"], **{"Idempotency-Key": "open-1"})
    body = {"owner": "cust:3", "asset": "BTC", "purpose": "customer"}
    first = client.post("/api/v1/accounts", json=body, headers=key)
    assert first.status_code == 201 and first.json["code"] == "customer:cust:3:BTC"
    assert client.post("/api/v1/accounts", json=body, headers=key).json == first.json
    bad = client.post("/api/v1/accounts", json={**body, "asset": "DOGE"},
                      headers=auth(city.keys["operator"], **{"Idempotency-Key": "open-2"}))
    assert_problem(bad, 422, "unknown_asset")


def test_every_domain_packages_refusals_become_problems(city):
    """Errors of every package (one DomainError family) map by code, never to a 500."""
    from flask_smorest import Blueprint

    from card.errors import CardNotFound
    from exchange.errors import UnknownInstrument
    from sandbox.errors import UnknownActor
    from sandbox.web import api as api_modules
    from sandbox.web.app import create_app
    from sandbox.web.auth import access
    from sandbox.web.problems import card_decline
    from stablecoin.errors import InsufficientKZTE
    from wallet.errors import BadAddress

    refusals = {"card": CardNotFound("no card 42 in this sandbox"), "wallet": BadAddress("a typo"),
                "exchange": UnknownInstrument("no DOGE/KZT"), "stablecoin": InsufficientKZTE("not enough"),
                "sandbox": UnknownActor("nobody")}

    class Probe:
        blp = Blueprint("probe", __name__)

        @staticmethod
        @blp.route("/api/v1/probe/<kind>")
        @access(public=True)
        def probe(kind):
            if kind in refusals:
                raise refusals[kind]
            if kind == "decline":
                return card_decline("51", "not enough money, even after selling crypto", card_id=42)
            raise RuntimeError("a bug")

    original = api_modules.modules
    api_modules.modules = lambda: [*original(), Probe]
    try:
        client = create_app(city.ledger).test_client()
    finally:
        api_modules.modules = original
    problem = assert_problem(client.get("/api/v1/probe/card"), 404, "card_not_found")
    assert problem["detail"] == "no card 42 in this sandbox"
    for kind, status in (("wallet", 422), ("exchange", 404), ("stablecoin", 422), ("sandbox", 404)):
        assert_problem(client.get(f"/api/v1/probe/{kind}"), status, refusals[kind].code)
    decline = assert_problem(client.get("/api/v1/probe/decline"), 402, "card_declined")
    assert decline["response_code"] == "51" and decline["context"] == {"card_id": 42}
    bug = assert_problem(client.get("/api/v1/probe/bug"), 500, "internal_error")
    assert "a bug" not in bug["detail"]  # internals stay in the log
