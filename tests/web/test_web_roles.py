"""Who may do what: every customer-scoped endpoint, found by walking the app's url_map."""
from __future__ import annotations

import pytest

from web_support import auth
from sandbox.web.auth import OWNER_RESOLVERS, SCOPED_ROLES, policy_of


def scoped_get_rules(app):
    """GET rules a customer key may call with a resource id in the path (the scope check applies)."""
    for rule in app.url_map.iter_rules():
        policy = policy_of(app.view_functions[rule.endpoint])
        if "GET" in rule.methods and policy and "customer" in policy.roles and set(rule.arguments) & set(
                OWNER_RESOLVERS):
            yield rule


def build(rule, **values) -> str:
    path = rule.rule
    for name, value in values.items():
        path = path.replace(f"<id:{name}>", str(value)).replace(f"<{name}>", str(value))
    return path


def test_every_view_declares_who_may_call_it(app):
    undeclared = [r.rule for r in app.url_map.iter_rules()
                  if r.endpoint not in ("static", "dashboard.static", "dashboard.login")
                  and policy_of(app.view_functions[r.endpoint]) is None]
    assert undeclared == []


def test_customer_scoped_endpoints_exist(app):
    rules = {r.rule for r in scoped_get_rules(app)}
    assert {"/api/v1/accounts/<id:account_id>", "/api/v1/accounts/<id:account_id>/balance",
            "/api/v1/accounts/<id:account_id>/history", "/ledger/accounts/<id:account_id>"} <= rules


def test_a_customer_reads_its_own_but_nothing_of_another(app, client, city):
    alice = auth(city.keys["alice"])
    checked = 0
    for rule in scoped_get_rules(app):
        own = client.get(build(rule, account_id=city.alice), headers=alice)
        assert own.status_code == 200, (rule.rule, own.get_data(as_text=True))
        for foreign in (city.bob, city.shop, city.world):
            other = client.get(build(rule, account_id=foreign), headers=alice)
            assert other.status_code == 404, rule.rule
            assert b"cust:2" not in other.data and b"balance_minor" not in other.data
        missing = client.get(build(rule, account_id=987654), headers=alice)
        assert missing.status_code == 404  # the same answer: existence of others' accounts does not leak
        checked += 1
    assert checked >= 4


def test_list_endpoints_pin_a_customer_to_its_own_data(app, client, city):
    alice = auth(city.keys["alice"])
    for rule in app.url_map.iter_rules():
        policy = policy_of(app.view_functions[rule.endpoint])
        if "GET" not in rule.methods or not policy or policy.scope != "owner" or rule.arguments:
            continue
        if rule.endpoint.startswith("dashboard."):
            continue
        page = client.get(rule.rule, headers=alice)
        assert page.status_code == 200 and {a["owner"] for a in page.json["items"]} == {"cust:1"}
        assert client.get(rule.rule, headers=alice, query_string={"owner": "cust:2"}).status_code == 403


def test_a_merchant_sees_only_its_own_accounts(client, city):
    merchant = auth(city.keys["merchant"])
    assert client.get(f"/api/v1/accounts/{city.shop}/balance", headers=merchant).status_code == 200
    assert client.get(f"/api/v1/accounts/{city.alice}/balance", headers=merchant).status_code == 404
    owners = {a["owner"] for a in client.get("/api/v1/accounts", headers=merchant).json["items"]}
    assert owners == {"merchant:m1"}


@pytest.mark.parametrize("token", ["alice", "merchant"])
def test_scoped_keys_cannot_read_ledger_wide_data(client, city, token):
    for path in ("/api/v1/transfers", "/api/v1/ledger/verify"):
        assert client.get(path, headers=auth(city.keys[token])).status_code == 403


def test_the_regulator_reads_everything_and_writes_nothing_yet(app, client, city):
    regulator = auth(city.keys["regulator"])
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.endpoint.startswith("dashboard.") and rule.endpoint != "static":
            path = build(rule, account_id=city.bob)
            assert client.get(path, headers=regulator).status_code == 200, path
    before = client.get(f"/api/v1/accounts/{city.alice}", headers=regulator).json
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.endpoint.startswith("dashboard."):
            response = client.post(rule.rule, json={}, headers=auth(city.keys["regulator"],
                                                                    **{"Idempotency-Key": "r1"}))
            assert response.status_code == 403, rule.rule
    assert client.get(f"/api/v1/accounts/{city.alice}", headers=regulator).json == before


def test_revoked_keys_stop_working(client, city):
    from sandbox.apikeys import resolve_key, revoke_key
    with city.ledger.unit_of_work() as uow:
        principal = resolve_key(uow.conn, city.keys["bob"])
        assert revoke_key(uow.conn, principal.key_id, now=uow.now())
        uow.commit()
    assert client.get(f"/api/v1/accounts/{city.bob}", headers=auth(city.keys["bob"])).status_code == 401


def test_dashboard_with_a_customer_key_shows_only_its_accounts(city):
    from sandbox.web import create_app
    client = create_app(city.ledger, {"TESTING": True, "OPEN_DASHBOARD": False}).test_client()
    assert client.get("/").status_code == 302
    login = client.get("/login")
    csrf = login.get_data(as_text=True).split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/login", data={"api_key": "cck_nope", "csrf": csrf}).status_code == 401
    assert client.post("/login", data={"api_key": city.keys["alice"], "csrf": csrf}).status_code == 302
    page = client.get("/ledger").get_data(as_text=True)
    assert "customer:cust:1:KZT" in page and "cust:2" not in page
    assert client.get(f"/ledger/accounts/{city.bob}").status_code == 404
    assert client.get(f"/ledger/accounts/{city.alice}").status_code == 200
    assert client.get("/regulator").status_code == 403
    assert client.post("/login", data={"api_key": city.keys["alice"]}).status_code == 400  # no CSRF token


def test_a_scoped_policy_without_a_scope_is_refused_at_start(city):
    from flask_smorest import Blueprint

    from sandbox.web import api as api_modules
    from sandbox.web.app import create_app
    from sandbox.web.auth import access

    class Leaky:
        blp = Blueprint("leaky", __name__)

        @staticmethod
        @blp.route("/api/v1/leaky")
        @access("customer")
        def leaky():
            return {}

    original = api_modules.modules
    api_modules.modules = lambda: [*original(), Leaky]
    try:
        with pytest.raises(RuntimeError, match="no scope"):
            create_app(city.ledger)
    finally:
        api_modules.modules = original
    assert SCOPED_ROLES == {"merchant", "customer"}
