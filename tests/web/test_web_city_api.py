"""The facade's endpoints on a real city: customers, wallets, the exchange, cards, licences, reports and
scenario runs, as a client sees them. Every test that moves money ends with ``verify()``."""
from __future__ import annotations

import pytest

from web_support import auth

PROBLEM = "application/problem+json"


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {}, headers=auth(token, **{"Idempotency-Key": key}))


def get(client, path, token, **query):
    return client.get(path, headers=auth(token), query_string=query)


# ------------------------------------------------------------------ customers
def test_onboard_replays_and_conflicts_without_a_second_customer(cc_client, cc):
    op = cc.keys["operator"]
    body = {"actor": "dana", "kyc_tier": "full", "resident": False, "deposits": {"KZT": 5_000_00}}
    first = post(cc_client, "/api/v1/customers", op, "onb-1", body)
    assert first.status_code == 201 and first.json["masked_pan"].startswith("400000******")
    assert first.json["iban"].startswith("KZ") and len(first.json["iban"]) == 20
    again = post(cc_client, "/api/v1/customers", op, "onb-1", body)
    # the replay is the stored answer: the card's full number, expiry and CVV were shown once, in the first
    once = {k: v for k, v in first.json.items() if k not in ("pan", "expiry", "cvv")}
    assert again.status_code == 201 and again.json == once and again.headers["Idempotent-Replayed"] == "true"
    conflict = post(cc_client, "/api/v1/customers", op, "onb-1", {**body, "deposits": {"KZT": 9_000_00}})
    assert conflict.status_code == 409 and conflict.json["code"] == "idempotency_conflict"
    assert cc.balances("dana")["KZT"] == 5_000_00  # one deposit, not two or three
    twice = post(cc_client, "/api/v1/customers", op, "onb-2", body)
    assert twice.status_code == 409 and twice.json["code"] == "already_onboarded"
    one = get(cc_client, "/api/v1/customers/dana", op).json
    assert one["kyc_tier"] == "full" and one["resident"] is False and one["card_id"] == first.json["card_id"]
    page = get(cc_client, "/api/v1/customers", op, limit=2).json
    assert [c["actor"] for c in page["items"]] == ["aigerim", "bob"] and page["next_after_id"] == page["items"][1]["id"]
    rest = get(cc_client, "/api/v1/customers", op, limit=2, after_id=page["next_after_id"]).json
    assert [c["actor"] for c in rest["items"]] == ["dana"] and rest["next_after_id"] is None
    bad = post(cc_client, "/api/v1/customers", op, "onb-3", {"actor": "x", "kyc_tier": "platinum"})
    assert bad.status_code == 422 and bad.json["code"] == "invalid_kyc_tier"
    assert post(cc_client, "/api/v1/customers", op, "onb-4", {"actor": "a b"}).status_code == 422
    assert post(cc_client, "/api/v1/customers", cc.keys["aigerim"], "onb-5", body).status_code == 403
    cc.verify()


def test_onboard_stores_the_name_it_is_given_and_refuses_a_blank_one(cc_client, cc):
    op = cc.keys["operator"]
    made = post(cc_client, "/api/v1/customers", op, "name-1", {"actor": "saule", "full_name": "  Saule Nurlanovna "})
    assert made.status_code == 201
    assert get(cc_client, "/api/v1/customers/saule", op).json["full_name"] == "Saule Nurlanovna"
    blank = post(cc_client, "/api/v1/customers", op, "name-2", {"actor": "nameless", "full_name": "   "})
    assert blank.status_code == 422 and blank.json["code"] == "invalid_name"
    assert get(cc_client, "/api/v1/customers/nameless", op).status_code == 404  # the refusal created nobody
    cc.verify()


def test_a_customer_reads_its_own_profile_kyc_and_balances(cc_client, cc):
    me = cc.keys["bob"]
    kyc = get(cc_client, "/api/v1/customers/bob/kyc", me).json
    assert kyc["kyc_tier"] == "basic" and kyc["can_trade"] and kyc["per_transaction_limit_minor"] == 50_000_00
    lines = {(b["asset"], b["place"]): b["available_minor"]
             for b in get(cc_client, "/api/v1/customers/bob/balances", me).json["balances"]}
    assert lines[("KZT", "bank")] == 20_000_00 and lines[("USDT", "exchange")] == 100_000_000
    mine = get(cc_client, "/api/v1/customers", me).json["items"]
    assert [c["actor"] for c in mine] == ["bob"]


def test_the_faucet_is_the_operators_and_is_idempotent(cc_client, cc):
    op = cc.keys["operator"]
    before = cc.balances("bob")["KZT"]
    first = post(cc_client, "/api/v1/customers/bob/faucet", op, "f-1", {"asset": "KZT", "amount_minor": 1_000_00})
    assert first.status_code == 201
    assert post(cc_client, "/api/v1/customers/bob/faucet", op, "f-1",
                {"asset": "KZT", "amount_minor": 1_000_00}).headers["Idempotent-Replayed"] == "true"
    assert cc.balances("bob")["KZT"] == before + 1_000_00
    assert post(cc_client, "/api/v1/customers/bob/faucet", cc.keys["bob"], "f-2",
                {"asset": "KZT", "amount_minor": 1_000_00}).status_code == 403
    unknown = post(cc_client, "/api/v1/customers/bob/faucet", op, "f-3", {"asset": "DOGE", "amount_minor": 1})
    assert unknown.status_code == 422 and unknown.json["code"] == "unknown_asset"
    assert post(cc_client, "/api/v1/customers/nobody/faucet", op, "f-4",
                {"asset": "KZT", "amount_minor": 1}).status_code == 404
    assert cc.balances("bob")["KZT"] == before + 1_000_00
    cc.verify()


# ------------------------------------------------------------------ exchange
def test_market_data_is_readable_with_any_key(cc_client, cc):
    for token in ("bob", "coffee", "regulator"):
        markets = get(cc_client, "/api/v1/markets", cc.keys[token]).json["items"]
        assert {m["symbol"] for m in markets} >= {"BTC/KZT", "USDT/KZT"}
    depth = get(cc_client, "/api/v1/markets/BTC-KZT/depth", cc.keys["bob"], levels=3).json
    assert len(depth["bids"]) == 3 and depth["bids"][0][0] < depth["asks"][0][0]
    assert get(cc_client, "/api/v1/markets/DOGE-KZT/depth", cc.keys["bob"]).status_code == 404
    assert get(cc_client, "/api/v1/markets/BTC-KZT/candles", cc.keys["bob"], interval="7m").status_code == 422


def test_orders_limit_rests_market_fills_cancel_releases(cc_client, cc):
    me = cc.keys["aigerim"]
    before = cc.balances("aigerim")
    best_bid = cc.exchange.depth("BTC/KZT", 1)["bids"][0][0]
    limit = post(cc_client, "/api/v1/customers/aigerim/orders", me, "o-1",
                 {"instrument": "BTC/KZT", "side": "buy", "type": "limit", "qty_minor": 10_000,
                  "price_minor": best_bid // 2 // 100 * 100})
    assert limit.status_code == 201 and limit.json["status"] == "open", limit.json
    assert cc.balances("aigerim")["KZT"] < before["KZT"]  # tenge moved to the exchange and held
    open_ = get(cc_client, "/api/v1/customers/aigerim/orders", me).json["items"]
    assert [o["id"] for o in open_] == [limit.json["id"]]
    cancelled = post(cc_client, f"/api/v1/orders/{limit.json['id']}/cancel", me, "c-1")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert post(cc_client, f"/api/v1/orders/{limit.json['id']}/cancel", me, "c-2").status_code == 409
    assert get(cc_client, "/api/v1/customers/aigerim/orders", me).json["items"] == []
    after = cc.balances("aigerim")
    assert after["KZT"] + after.get("KZT@exchange", 0) == before["KZT"] + before.get("KZT@exchange", 0)
    sell = post(cc_client, "/api/v1/customers/aigerim/orders", me, "o-2",
                {"instrument": "USDT/KZT", "side": "sell", "type": "market", "qty_minor": 100_000_000})
    assert sell.status_code == 201 and sell.json["status"] == "filled" and sell.json["fills"]
    assert cc.balances("aigerim")["USDT"] == before["USDT"] - 100_000_000
    trades = get(cc_client, "/api/v1/markets/USDT-KZT/trades", me, limit=1).json
    assert trades["items"][0]["id"] == sell.json["fills"][-1]["trade_id"]
    tax = get(cc_client, "/api/v1/customers/aigerim/tax-statements/2025", me).json
    assert len(tax["disposals"]) == 1 and tax["disposals"][0]["asset"] == "USDT"
    wrong = post(cc_client, "/api/v1/customers/aigerim/orders", me, "o-3",
                 {"instrument": "BTC/KZT", "side": "buy", "type": "market", "qty_minor": 1000})
    assert wrong.status_code == 422 and "quote_qty_minor" in wrong.json["detail"]
    tick = post(cc_client, "/api/v1/customers/aigerim/orders", me, "o-4",
                {"instrument": "USDT/KZT", "side": "sell", "type": "limit", "qty_minor": 10_000_000, "price_minor": 60_001})
    assert tick.status_code in (201, 422)
    cc.verify()


def test_an_order_may_name_its_price_by_the_old_name_and_is_answered_with_the_new_one(cc_client, cc):
    me = cc.keys["aigerim"]
    price_minor = cc.exchange.depth("BTC/KZT", 1)["bids"][0][0] // 2 // 100 * 100
    order = {"instrument": "BTC/KZT", "side": "buy", "type": "limit", "qty_minor": 10_000}
    old = post(cc_client, "/api/v1/customers/aigerim/orders", me, "old-1", dict(order, price=price_minor))
    assert old.status_code == 201 and old.json["price_minor"] == price_minor and "price" not in old.json
    both = post(cc_client, "/api/v1/customers/aigerim/orders", me, "old-2",
                dict(order, price=price_minor, price_minor=price_minor))
    assert both.status_code == 422 and both.json["code"] == "validation_error"
    assert "'price' is the old name of 'price_minor'" in both.json["detail"]
    assert post(cc_client, f"/api/v1/orders/{old.json['id']}/cancel", me, "old-3").status_code == 200
    cc.verify()


# ------------------------------------------------------------------ cards
def test_card_freeze_controls_funding_and_statement(cc_client, cc):
    me, coffee = cc.keys["aigerim"], cc.keys["coffee"]
    card_id = cc.info["aigerim"]["card_id"]
    card = get(cc_client, f"/api/v1/cards/{card_id}", me).json
    assert card["status"] == "active" and card["masked_pan"].endswith(cc.info["aigerim"]["pan"][-4:])
    assert "*" in card["masked_pan"] and card["funding"]["order"] == ["KZTE", "USDT", "BTC", "ETH"]
    assert post(cc_client, f"/api/v1/cards/{card_id}/freeze", me, "fz-1").json["status"] == "frozen"
    tap = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "t-1",
               {"card_id": card_id, "amount_minor": 1_000_00}).json
    assert tap["response_code"] == "62"
    assert post(cc_client, f"/api/v1/cards/{card_id}/freeze", me, "fz-2").status_code == 409
    assert post(cc_client, f"/api/v1/cards/{card_id}/unfreeze", me, "uf-1").json["status"] == "active"
    controls = {"per_transaction_limit_minor": 2_000_00, "daily_limit_minor": 100_000_00, "daily_count_limit": 5}
    loose = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me),
                          json={**controls, "per_transaction_limit_minor": 900_000_00})
    assert loose.status_code == 422 and loose.json["code"] == "control_above_programme_limit"
    assert "at most the card programme's 250 000.00 KZT (got 90000000)" in loose.json["detail"]
    tight = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me), json=controls)
    assert tight.status_code == 200 and tight.json["controls"]["per_transaction_limit_minor"] == 2_000_00
    assert "7995" in tight.json["controls"]["blocked_mccs"]  # the programme's blocks stay
    over = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "t-2",
                {"card_id": card_id, "amount_minor": 3_000_00}).json
    assert over["response_code"] == "61"
    funding = cc_client.put(f"/api/v1/cards/{card_id}/funding", headers=auth(me),
                            json={"order": ["BTC", "USDT"], "mode": "fallback"})
    assert funding.status_code == 200 and funding.json["funding"]["order"] == ["BTC", "USDT"]
    assert cc_client.put(f"/api/v1/cards/{card_id}/funding", headers=auth(me),
                         json={"order": ["KZT"]}).status_code == 422
    ok = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "t-3",
              {"card_id": card_id, "amount_minor": 1_500_00}).json
    assert ok["response_code"] == "00"
    page = get(cc_client, f"/api/v1/cards/{card_id}/statement", me, limit=2).json
    assert [line["response_code"] for line in page["items"]] == ["62", "61"] and page["next_after_id"]
    rest = get(cc_client, f"/api/v1/cards/{card_id}/statement", me, after_id=page["next_after_id"]).json
    assert [line["response_code"] for line in rest["items"]] == ["00"] and rest["next_after_id"] is None
    cc.verify()


# ------------------------------------------------------------------ licences
def test_a_regulator_suspends_a_licence_and_trading_stops_until_reinstated(cc_client, cc):
    reg, me = cc.keys["regulator"], cc.keys["aigerim"]
    register = get(cc_client, "/api/v1/participants", me).json["items"]
    exchange = next(p for p in register if p["id"] == "aifc-exchange")
    assert exchange["licences"][0]["status"] == "active"
    assert post(cc_client, "/api/v1/licences/AFSA-TF-001/suspend", me, "s-0").status_code == 403
    suspended = post(cc_client, "/api/v1/licences/AFSA-TF-001/suspend", reg, "s-1", {"reason": "audit findings"})
    assert suspended.status_code == 200 and suspended.json["status"] == "suspended"
    before = cc.balances("aigerim")
    order = post(cc_client, "/api/v1/customers/aigerim/orders", me, "o-1",
                 {"instrument": "USDT/KZT", "side": "sell", "type": "market", "qty_minor": 1_000_000})
    assert order.status_code == 422 and order.json["code"] == "not_licensed" and "AFSA-TF-001" in order.json["detail"]
    assert cc.balances("aigerim") == before
    assert post(cc_client, "/api/v1/licences/AFSA-TF-001/reinstate", reg, "s-2").json["status"] == "active"
    again = post(cc_client, "/api/v1/customers/aigerim/orders", me, "o-2",
                 {"instrument": "USDT/KZT", "side": "sell", "type": "market", "qty_minor": 1_000_000})
    assert again.status_code == 201
    assert post(cc_client, "/api/v1/licences/NOPE-1/suspend", reg, "s-3").status_code == 404
    licences = get(cc_client, "/api/v1/licences", me, limit=3).json
    assert len(licences["items"]) == 3 and licences["next_after_id"] == 3
    cc.verify()


# ------------------------------------------------------------------ reports
def test_statements_and_the_regulators_daily_figures_count_days_in_the_citys_zone(cc_client, cc):
    """Sandbox time stays UTC on every line; the day a purchase counts in is Almaty's: 19:00 UTC is midnight."""
    from datetime import UTC, datetime, timedelta
    from sandbox.web import create_app
    coffee, card_id = cc.keys["coffee"], cc.info["aigerim"]["card_id"]
    cc.advance(datetime(2025, 6, 1, 18, 59, 59, tzinfo=UTC) - cc.now())
    for key in ("before-midnight", "at-midnight"):
        tap = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, key,
                   {"card_id": card_id, "amount_minor": 1_000_00})
        assert tap.json["response_code"] == "00"
        cc.advance(timedelta(seconds=1))
    lines = get(cc_client, f"/api/v1/cards/{card_id}/statement", cc.keys["aigerim"]).json["items"]
    assert [(ln["at"][:19], ln["day"]) for ln in lines] == [("2025-06-01T18:59:59", "2025-06-01"),
                                                            ("2025-06-01T19:00:00", "2025-06-02")]
    report = get(cc_client, "/api/v1/reports/regulator", cc.keys["regulator"]).json
    assert report["timezone"] == "Asia/Almaty"
    assert [(d["day"], d["approved"], d["approved_minor"]) for d in report["card_by_day"]] == [
        ("2025-06-01", 1, 1_000_00), ("2025-06-02", 1, 1_000_00)]
    csv = get(cc_client, "/api/v1/reports/regulator.csv", cc.keys["operator"]).get_data(as_text=True)
    assert "card_by_day[1].day,2025-06-02" in csv and "timezone,Asia/Almaty" in csv
    pages = create_app(cc, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()
    regulator = pages.get("/regulator").get_data(as_text=True)
    assert 'id="day-2025-06-02"' in regulator and "Calendar days in Asia/Almaty" in regulator
    wallet = pages.get("/wallet?customer=aigerim").get_data(as_text=True)
    assert "card day 2025-06-02" in wallet and "midnight to midnight, Asia/Almaty" in wallet
    cc.verify()


def test_regulator_report_json_and_csv_and_tax_statements(cc_client, cc):
    post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", cc.keys["coffee"], "p-1",
         {"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 150_000_00})
    report = get(cc_client, "/api/v1/reports/regulator", cc.keys["regulator"]).json
    assert report["card"]["approved"] == 1 and report["card"]["crypto_funded_minor"] > 0
    assert report["invariants"]["verified"] is True
    csv = get(cc_client, "/api/v1/reports/regulator.csv", cc.keys["operator"])
    assert csv.status_code == 200 and csv.mimetype == "text/csv" and "card.approved,1" in csv.get_data(as_text=True)
    tables = get(cc_client, "/api/v1/reports/regulator.zip", cc.keys["regulator"])
    assert tables.mimetype == "application/zip" and tables.data.startswith(b"PK")
    assert get(cc_client, "/api/v1/reports/regulator.zip", cc.keys["regulator"]).data == tables.data
    pdf = get(cc_client, "/api/v1/reports/regulator.pdf", cc.keys["regulator"])
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    for token in ("aigerim", "coffee"):
        for path in ("/api/v1/reports/regulator", "/api/v1/reports/regulator.zip", "/api/v1/reports/regulator.pdf"):
            assert get(cc_client, path, cc.keys[token]).status_code == 403
    tax = get(cc_client, "/api/v1/customers/aigerim/tax-statements/2025", cc.keys["aigerim"]).json
    assert tax["resident"] is True and tax["disposals"][0]["source"] == "card" and tax["pit_rate_pct"] == "10"
    assert get(cc_client, "/api/v1/customers/aigerim/aml-flags", cc.keys["aigerim"]).status_code == 403
    assert get(cc_client, "/api/v1/customers/aigerim/aml-flags", cc.keys["regulator"]).json["flags"] == []
    cc.verify()


# ------------------------------------------------------------------ scenarios
SCENARIO = """
name: per purchase limit over the API
config: crypto-city
actors:
  arman: {kyc: basic, deposits: ["100 000.00 KZT"]}
steps:
  - pay: {actor: arman, merchant: steppe-electronics, amount: "60 000.00 KZT", ref: tv}
    expect: {status: declined, response_code: "61"}
  - expect:
      balances: {arman: {KZT: "%s"}}
      verify: true
"""


def test_a_scenario_runs_in_its_own_city_and_reports_each_expectation(cc_client, cc):
    op = cc.keys["operator"]
    audit_before = cc.regulator_summary()["card"]
    passed = post(cc_client, "/api/v1/scenarios/runs", op, "run-1", {"scenario": SCENARIO % "100 000.00 KZT"})
    assert passed.status_code == 200 and passed.json["passed"] is True and passed.json["failures"] == 0
    assert passed.json["expectations"] >= 3
    failed = post(cc_client, "/api/v1/scenarios/runs", op, "run-2", {"scenario": SCENARIO % "1.00 KZT"}).json
    assert failed["passed"] is False and failed["failures"] == 1
    assert next(r for r in failed["results"] if not r["passed"])["actual"] == "100 000.00 KZT"
    assert cc.regulator_summary()["card"] == audit_before  # the server's city saw none of it
    with pytest.raises(Exception) as unknown:   # the scenario's actor was never onboarded here
        cc.profile("arman")
    assert unknown.value.code == "unknown_actor"
    for text, words in ((SCENARIO.replace("config: crypto-city", "config: /etc/passwd") % "1 KZT", "preset"),
                        ("name: [unclosed", "YAML"), ("name: x\nsteps: []\n", "steps")):
        bad = post(cc_client, "/api/v1/scenarios/runs", op, f"bad-{words}", {"scenario": text})
        assert bad.status_code == 422 and bad.mimetype == PROBLEM and words in bad.json["detail"], bad.json
    assert post(cc_client, "/api/v1/scenarios/runs", cc.keys["regulator"], "r", {"scenario": "x"}).status_code == 403


def test_an_alias_bomb_scenario_is_a_422_naming_the_line(cc_client, cc, yaml_bomb):
    text, line = yaml_bomb("name: laughs\nconfig: crypto-city\n")
    bomb = post(cc_client, "/api/v1/scenarios/runs", cc.keys["operator"], "bomb", {"scenario": text})
    assert bomb.status_code == 422 and bomb.mimetype == PROBLEM and bomb.json["code"] == "invalid_scenario"
    assert bomb.json["detail"].startswith(f"<request>:{line}: the document expands to more than")


# ------------------------------------------------------------------ without a city
def test_a_server_without_a_city_answers_503_on_city_endpoints(client, city):
    op = city.keys["operator"]
    for path in ("/api/v1/customers", "/api/v1/markets", "/api/v1/participants", "/api/v1/reports/regulator",
                 "/api/v1/stablecoin/attestation"):
        response = client.get(path, headers=auth(op))
        assert response.status_code == 503 and response.json["code"] == "city_required", path
        assert "--config" in response.json["detail"]
    assert post(client, "/api/v1/customers", op, "k", {"actor": "x"}).status_code == 503
    spec = client.get("/openapi.json").json
    assert "/api/v1/merchants/{merchant_id}/authorizations" in spec["paths"]


def test_a_cardholder_sets_a_weekly_and_a_lifetime_limit(cc, cc_client):
    me, coffee = cc.keys["aigerim"], cc.keys["coffee"]
    card_id = cc.info["aigerim"]["card_id"]
    controls = {"per_transaction_limit_minor": 250_000_00, "daily_limit_minor": 100_000_00, "daily_count_limit": 20,
                "weekly_limit_minor": 2_000_00, "lifetime_limit_minor": 50_000_00}
    set_ = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me), json=controls)
    assert set_.status_code == 200, set_.json
    assert (set_.json["controls"]["weekly_limit_minor"], set_.json["controls"]["lifetime_limit_minor"]) == \
        (2_000_00, 50_000_00)
    assert get(cc_client, f"/api/v1/cards/{card_id}", me).json["controls"]["weekly_limit_minor"] == 2_000_00
    first = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "w-1",
                 {"card_id": card_id, "amount_minor": 1_500_00}).json
    assert first["response_code"] == "00"
    over = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "w-2",
                {"card_id": card_id, "amount_minor": 600_00}).json
    assert over["response_code"] == "61" and "weekly limit of 2 000.00 KZT" in over["reason"]
    floats = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me),
                           json={**controls, "weekly_limit_minor": 2000.5})
    assert floats.status_code == 422
    cc.verify()


def test_a_cardholder_limits_one_category_and_counts_over_http(cc, cc_client):
    """Scoped limits (one merchant category, one merchant) and the weekly count, set over the API and
    enforced at the POS: 61 and 65 with reasons that name the scope; bad shapes are 422 and change nothing."""
    me, coffee, market = cc.keys["aigerim"], cc.keys["coffee"], cc.keys["market"]
    card_id = cc.info["aigerim"]["card_id"]
    controls = {"per_transaction_limit_minor": 250_000_00, "daily_limit_minor": 100_000_00, "daily_count_limit": 20,
                "weekly_count_limit": 3,
                "scoped_limits": [{"window": "day", "mcc": "5814", "amount_limit_minor": 2_000_00},
                                  {"window": "week", "merchant_id": "zone-market", "count_limit": 1}]}
    set_ = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me), json=controls)
    assert set_.status_code == 200, set_.json
    assert set_.json["controls"]["weekly_count_limit"] == 3
    assert set_.json["controls"]["scoped_limits"] == [
        {"window": "day", "mcc": "5814", "merchant_id": None, "amount_limit_minor": 2_000_00, "count_limit": None},
        {"window": "week", "mcc": None, "merchant_id": "zone-market", "amount_limit_minor": None, "count_limit": 1}]
    pay = lambda key, who, shop, amount: post(  # noqa: E731
        cc_client, f"/api/v1/merchants/{shop}/authorizations", who, key, {"card_id": card_id, "amount_minor": amount}).json
    assert pay("s-1", coffee, "alatau-coffee", 1_500_00)["response_code"] == "00"
    over = pay("s-2", coffee, "alatau-coffee", 600_00)
    assert over["response_code"] == "61" and "daily limit of 2 000.00 KZT at merchant category 5814" in over["reason"]
    assert pay("s-3", market, "zone-market", 600_00)["response_code"] == "00"
    again = pay("s-4", market, "zone-market", 600_00)
    assert (again["response_code"], again["reason"]) == ("65", "the card allows 1 purchase a week at merchant zone-market")
    assert pay("s-5", coffee, "alatau-coffee", 100_00)["response_code"] == "00"
    third = pay("s-6", coffee, "alatau-coffee", 100_00)
    assert (third["response_code"], third["reason"]) == ("65", "the card allows 3 purchases a week")
    for bad in ({"window": "day", "amount_limit_minor": 1},                      # no scope
                {"window": "day", "mcc": "5814"},                               # no limit
                {"window": "transaction", "mcc": "5814", "count_limit": 2},
                {"window": "hour", "mcc": "5814", "count_limit": 2}):
        refused = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me),
                                json={**controls, "scoped_limits": [bad]})
        assert refused.status_code == 422, bad
    typo = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me), json={
        **controls, "scoped_limits": [{"window": "day", "merchant_id": "zone-markte", "count_limit": 1}]})
    assert typo.status_code == 422 and typo.json["code"] == "invalid_spend_controls"
    assert get(cc_client, f"/api/v1/cards/{card_id}", me).json["controls"] == set_.json["controls"]
    again = cc_client.put(f"/api/v1/cards/{card_id}/controls", headers=auth(me), json=set_.json["controls"])
    assert again.status_code == 200 and again.json["controls"] == set_.json["controls"]   # its own output reads back
    page = cc_client.get("/wallet", headers=auth(me))
    assert page.status_code == 200 and "MCC 5814" in page.text and "at most 3 purchases" in page.text
    cc.verify()


def test_the_operator_rebalances_custody_tiers_over_http(cc, cc_client):
    """GET /custody/tiers (operator, regulator), POST /custody/rebalance (operator, idempotent): the custodian's
    BTC moves to the configured 5 / 15 / 80 % on the regtest chain; a customer key sees neither."""
    op, reg, me = cc.keys["operator"], cc.keys["regulator"], cc.keys["aigerim"]
    cc.withdraw(actor="aigerim", address=cc.deposit_address(actor="bob"), amount_minor=100_000, key="tiers")
    assert get(cc_client, "/api/v1/custody/tiers", reg).json["shares_bps"]["cold"] > 9_900
    assert get(cc_client, "/api/v1/custody/tiers", me).status_code == 403
    assert post(cc_client, "/api/v1/custody/rebalance", me, "r-0", {}).status_code == 403
    done = post(cc_client, "/api/v1/custody/rebalance", op, "r-1", {})
    assert done.status_code == 200, done.json
    assert [(m["source"], m["destination"]) for m in done.json["moves"]] == [("cold", "warm"), ("warm", "hot")]
    assert all(abs(done.json["shares_bps"][t] - done.json["targets_bps"][t]) <= 100 for t in ("hot", "warm", "cold"))
    assert post(cc_client, "/api/v1/custody/rebalance", op, "r-1", {}).json == done.json   # a replay moves nothing
    assert post(cc_client, "/api/v1/custody/rebalance", op, "r-2", {}).json["moves"] == []
    assert get(cc_client, "/api/v1/custody/tiers", op).json["held_minor"] == done.json["held_minor"]
    cc.verify()


def test_a_regulator_renews_on_afsa_terms_over_http(cc_client, cc):
    """AFSA renews for 2 years at most, asked at least 2 months before the licence ends (1 January 2027), on an
    application with an exit plan."""
    reg = cc.keys["regulator"]
    no_plan = post(cc_client, "/api/v1/licences/AFSA-TF-001/renew", reg, "r-0",
                   {"valid_until": "2029-01-01T00:00:00+00:00"})
    assert no_plan.status_code == 422 and no_plan.json["code"] == "exit_plan_required"
    plan = "wind down in 90 days; customers' coins returned from custody"
    too_long = post(cc_client, "/api/v1/licences/AFSA-TF-001/renew", reg, "r-1",
                    {"valid_until": "2029-06-01T00:00:00+00:00", "exit_plan": plan})
    assert too_long.status_code == 422 and too_long.json["code"] == "renewal_too_long"
    renewed = post(cc_client, "/api/v1/licences/AFSA-TF-001/renew", reg, "r-2",
                   {"valid_until": "2029-01-01T00:00:00+00:00", "exit_plan": plan})
    assert renewed.status_code == 200, renewed.json
    cc.advance("1250d")                                    # 2 November 2028: too late for the 2029 end
    late = post(cc_client, "/api/v1/licences/AFSA-TF-001/renew", reg, "r-3",
                {"valid_until": "2030-01-01T00:00:00+00:00", "exit_plan": plan})
    assert late.status_code == 409 and late.json["code"] == "renewal_too_late"
    assert "2028-11-01" in late.json["detail"]
    in_time = post(cc_client, "/api/v1/licences/AFSA-TF-001/renew", reg, "r-4",   # applied in time, decided now
                   {"valid_until": "2030-01-01T00:00:00+00:00", "applied_at": "2028-10-31T00:00:00+00:00",
                    "exit_plan": plan})
    assert in_time.status_code == 200 and in_time.json["valid_until"].startswith("2030-01-01"), in_time.json
    cc.verify()
