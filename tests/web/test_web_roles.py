"""Who may do what: every customer-scoped endpoint, found by walking the app's url_map."""
from __future__ import annotations

import pytest

from web_support import auth
from sandbox.web.auth import OWNER_RESOLVERS, SCOPED_ROLES, policy_of


def scoped_get_rules(app, args=frozenset({"account_id"})):
    """GET rules a customer key may call with (only) these resource ids in the path (the scope check applies)."""
    for rule in app.url_map.iter_rules():
        policy = policy_of(app.view_functions[rule.endpoint])
        if "GET" in rule.methods and policy and "customer" in policy.roles and set(rule.arguments) & set(
                OWNER_RESOLVERS) and set(rule.arguments) <= args:
            yield rule


def build(rule, **values) -> str:
    path = rule.rule
    for name, value in values.items():
        for converter in ("id:", "name:", "market:", "int(min=2000, max=2100):", ""):
            path = path.replace(f"<{converter}{name}>", str(value))
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


def test_list_endpoints_pin_a_customer_to_its_own_data(cc_app, cc_client, cc):
    app, client = cc_app, cc_client
    alice = auth(cc.keys["aigerim"])
    checked = 0
    for rule in app.url_map.iter_rules():
        policy = policy_of(app.view_functions[rule.endpoint])
        if "GET" not in rule.methods or not policy or policy.scope != "owner" or rule.arguments:
            continue
        if rule.endpoint.startswith("dashboard."):
            continue
        if rule.rule.startswith("/api/v1/events"):
            continue  # events name no owner (a customer and a merchant each see theirs): tests/web/test_web_events.py
        page = client.get(rule.rule, headers=alice)
        assert page.status_code == 200 and {a["owner"] for a in page.json["items"]} == {"aigerim"}, rule.rule
        assert client.get(rule.rule, headers=alice, query_string={"owner": "bob"}).status_code == 403
        checked += 1
    assert checked >= 2  # accounts and customers


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


def test_the_regulator_reads_everything_and_writes_only_what_names_it(cc_app, cc_client, cc):
    app, client = cc_app, cc_client
    regulator = auth(cc.keys["regulator"])
    values = resource_values(cc, "bob")
    values["authorization_id"] = cc.pay(actor="bob", merchant="alatau-coffee", amount_minor=500_00,
                                        ref="reg-1").authorization_id
    values["endpoint_id"] = client.post("/api/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9/hooks"},
                                        headers=auth(cc.keys["operator"], **{"Idempotency-Key": "we-1"})).json["id"]
    values["delivery_id"] = 1
    values["farm"] = cc.register_farm(farm="bob", location="ekibastuz", hashrate_ths=1, efficiency_j_per_th=34).farm
    values["incident_id"] = 1   # none exists: the refusal (403) comes first
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.endpoint.startswith("dashboard.") and rule.endpoint != "static":
            path = build(rule, **values)
            assert client.get(path, headers=regulator).status_code == 200, path
    before = snapshot(cc, "bob")
    allowed = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and not rule.endpoint.startswith("dashboard."):
            response = client.post(build(rule, **values), json={},
                                   headers=auth(cc.keys["regulator"], **{"Idempotency-Key": "r1"}))
            if policy_of(app.view_functions[rule.endpoint]).regulator_write:
                assert response.status_code != 403, rule.rule
                allowed.append(rule.rule)
            else:
                assert response.status_code == 403, rule.rule
    assert "/api/v1/licences/<name:licence_id>/suspend" in allowed
    assert "/api/v1/customers/<name:actor>/kyc" not in allowed   # a regulator reads KYC tiers, the operator sets them
    after = snapshot(cc, "bob")
    assert after.pop("audit") >= before.pop("audit")  # the licence writes it may make are audited
    assert after == before
    cc.verify()


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


# ------------------------------------------------------------------------------------------------------
# The city's resources: every customer-scoped endpoint, every merchant-scoped POS operation.
# ------------------------------------------------------------------------------------------------------
def resource_values(city, actor: str) -> dict:
    """Path values naming ``actor``'s own resources (an open order is placed for them if they have none)."""
    from sqlalchemy import select

    from exchange import tables as xt
    with city.ledger.unit_of_work(read_only=True) as uow:
        order_id = uow.conn.execute(select(xt.orders.c.id).where(xt.orders.c.owner == actor,
                                                                xt.orders.c.status == "open")).scalar()
        account_id = uow.find_account(f"bank:{actor}:KZT").id
    if order_id is None:
        order_id = city.place_order(actor=actor, instrument="USDT/KZT", side="sell", type="limit",
                                    qty_minor=1_000_000, price_minor=900_00).order_id
    return {"actor": actor, "card_id": city.info[actor]["card_id"], "order_id": order_id, "account_id": account_id,
            "year": 2025, "symbol": "BTC-KZT", "licence_id": "AFSA-TF-001", "merchant_id": "alatau-coffee",
            "authorization_id": 1}


def snapshot(city, actor: str) -> dict:
    """What a user would notice changing: balances, the card, open orders, statement, audit length."""
    from sqlalchemy import func, select

    from sandbox.tables import audit_log
    card = city.cards.card(city.info[actor]["card_id"])
    with city.ledger.unit_of_work(read_only=True) as uow:
        orders = [(o.order_id, o.status, o.remaining_minor) for o in city.exchange.open_orders(uow, actor)]
        audit_len = uow.conn.execute(select(func.count()).select_from(audit_log)).scalar()
    return {"balances": city.balances(actor), "card": (card.status, card.controls, card.funding), "orders": orders,
            "statement": city.cards.customer_statement(actor), "audit": audit_len}


def customer_rules(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue  # the dashboard has its own session-based pages (tested with the dashboard)
        policy = policy_of(app.view_functions[rule.endpoint])
        if policy and "customer" in policy.roles and set(rule.arguments) & set(OWNER_RESOLVERS):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_a_customer_cannot_touch_another_customers_city_resources(cc_app, cc_client, cc):
    """For EVERY customer-scoped endpoint (GET, POST, PUT): aigerim's key on bob's resources is a 404 that
    says nothing about them, and nothing of bob's changes; on her own resources the same GETs answer."""
    app, client = cc_app, cc_client
    aigerim = auth(cc.keys["aigerim"], **{"Idempotency-Key": "scoping-1"})
    mine, bobs = resource_values(cc, "aigerim"), resource_values(cc, "bob")
    before = snapshot(cc, "bob")
    checked = set()
    for rule, method in customer_rules(app):
        foreign = client.open(build(rule, **bobs), method=method, headers=aigerim,
                              json=None if method == "GET" else {})
        assert foreign.status_code == 404, (method, rule.rule, foreign.get_data(as_text=True))
        assert foreign.mimetype == "application/problem+json", (method, rule.rule, foreign.data)
        assert foreign.get_json(force=True)["code"] == "not_found", (method, rule.rule)  # the same answer as for a resource that does not exist
        assert not any(word in foreign.data for word in (b"iban", b"balance", b"masked_pan", b"KZ"))
        if method == "GET":
            own = client.get(build(rule, **mine), headers=aigerim)
            assert own.status_code == 200, (rule.rule, own.get_data(as_text=True))
        checked.add(f"{method} {rule.rule}")
    assert snapshot(cc, "bob") == before
    for expected in ("GET /api/v1/customers/<name:actor>", "POST /api/v1/customers/<name:actor>/orders",
                     "POST /api/v1/cards/<id:card_id>/freeze", "PUT /api/v1/cards/<id:card_id>/controls",
                     "POST /api/v1/orders/<id:order_id>/cancel", "POST /api/v1/customers/<name:actor>/kzte/mint",
                     "GET /api/v1/customers/<name:actor>/tax-statements/<int(min=2000, max=2100):year>",
                     "GET /api/v1/cards/<id:card_id>/statement", "GET /api/v1/customers/<name:actor>/balances",
                     "POST /api/v1/customers/<name:actor>/withdrawals", "GET /api/v1/customers/<name:actor>/withdrawals"):
        assert expected in checked
    assert len(checked) >= 20
    cc.verify()


def test_a_merchant_acts_only_for_itself(cc_client, cc):
    """Merchant X cannot authorize as Y, nor see, capture, reverse or refund Y's authorizations."""
    client = cc_client
    market = auth(cc.keys["market"], **{"Idempotency-Key": "sale-1"})
    sale = client.post("/api/v1/merchants/zone-market/authorizations", headers=market,
                       json={"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 2_000_00})
    assert sale.status_code == 201 and sale.json["approved"], sale.json
    auth_id = sale.json["id"]
    before = snapshot(cc, "aigerim")
    settlement_before = cc.account_balance("merchant:zone-market:KZT")
    coffee = auth(cc.keys["coffee"], **{"Idempotency-Key": "steal-1"})
    for verb in ("capture", "reverse", "refund"):
        response = client.post(f"/api/v1/authorizations/{auth_id}/{verb}", headers=coffee, json={})
        assert response.status_code == 404, verb
    assert client.get(f"/api/v1/authorizations/{auth_id}", headers=coffee).status_code == 404
    assert client.get("/api/v1/merchants/zone-market/authorizations", headers=coffee).status_code == 404
    as_other = client.post("/api/v1/merchants/zone-market/authorizations", headers=coffee,
                           json={"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 1_00})
    assert as_other.status_code == 404
    assert snapshot(cc, "aigerim") == before
    assert cc.account_balance("merchant:zone-market:KZT") == settlement_before
    # a customer key is not a POS either
    assert client.post(f"/api/v1/authorizations/{auth_id}/capture", json={},
                       headers=auth(cc.keys["aigerim"], **{"Idempotency-Key": "k"})).status_code == 403
    # and the right merchant can
    done = client.post(f"/api/v1/authorizations/{auth_id}/capture", json={},
                       headers=auth(cc.keys["market"], **{"Idempotency-Key": "cap-1"}))
    assert done.status_code == 200 and done.json["status"] == "captured"
    cc.verify()
