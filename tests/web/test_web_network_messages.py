"""Network messages over HTTP on a real city: incremental authorization, authorization advice, and the
kinds of message (ATM withdrawal, P2P) the pilot's programme declines 57."""
from __future__ import annotations

from web_support import auth

PROBLEM = "application/problem+json"


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {}, headers=auth(token, **{"Idempotency-Key": key}))


def _types(cc, mark):
    return [e["type"] for e in cc.events(after=mark)]


def test_an_atm_withdrawal_is_declined_57_with_its_kind(cc_client, cc):
    coffee = cc.keys["coffee"]
    before = cc.balances("aigerim")
    mark = cc.last_event_id()
    cash = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "cash-1",
                {"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 5_000_00, "kind": "atm_withdrawal"})
    assert cash.status_code == 201 and cash.json["approved"] is False
    assert (cash.json["response_code"], cash.json["kind"]) == ("57", "atm_withdrawal")
    assert "not permitted under this card programme" in cash.json["reason"]
    fetched = cc_client.get(f"/api/v1/authorizations/{cash.json['id']}", headers=auth(coffee)).json
    assert fetched["kind"] == "atm_withdrawal" and fetched["status"] == "declined"
    bad = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "cash-2",
               {"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 5_000_00, "kind": "cash"})
    assert bad.status_code == 422 and bad.mimetype == PROBLEM
    assert cc.balances("aigerim") == before
    assert _types(cc, mark) == ["authorization.created"]
    cc.verify()


def test_an_increment_over_http_holds_more_once_and_a_decline_is_an_answer(cc_client, cc):
    coffee = cc.keys["coffee"]
    sale = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "room-12",
                {"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 50_000_00}).json
    assert sale["approved"]
    mark = cc.last_event_id()
    path = f"/api/v1/authorizations/{sale['id']}/increment"
    more = post(cc_client, path, coffee, "night-2", {"amount_minor": 80_000_00})
    assert more.status_code == 200 and more.json["approved"] and more.json["response_code"] == "00"
    assert more.json["authorization"]["amount_minor"] == 130_000_00 and more.json["increment_minor"] == 80_000_00
    after = cc.balances("aigerim")
    assert after["KZT"] < 1_000_00   # the 100 000 KZT went first, then USDT for the rest
    again = post(cc_client, path, coffee, "night-2", {"amount_minor": 80_000_00})
    assert again.json == more.json and again.headers["Idempotent-Replayed"] == "true"
    assert cc.balances("aigerim") == after
    # over the per-transaction limit (250 000 KZT): declined, still 200, nothing changes
    over = post(cc_client, path, coffee, "night-3", {"amount_minor": 150_000_00})
    assert over.status_code == 200 and over.json["approved"] is False and over.json["response_code"] == "61"
    assert over.json["authorization"]["amount_minor"] == 130_000_00
    assert cc.balances("aigerim") == after
    # another merchant cannot touch it; a malformed amount is a problem
    assert post(cc_client, path, cc.keys["market"], "x", {"amount_minor": 100}).status_code == 404
    assert post(cc_client, path, coffee, "bad", {"amount_minor": -5}).status_code == 422
    captured = post(cc_client, f"/api/v1/authorizations/{sale['id']}/capture", coffee, "cap-1")
    assert captured.json["captured_minor"] == 130_000_00
    late = post(cc_client, path, coffee, "night-4", {"amount_minor": 100_00})
    assert late.status_code == 409 and late.mimetype == PROBLEM
    assert _types(cc, mark) == ["authorization.incremented", "authorization.increment_declined",
                                "authorization.captured"]
    cc.verify()


def test_an_advice_over_http_is_booked_with_a_debt_for_what_is_short(cc_client, cc):
    coffee = cc.keys["coffee"]
    mark = cc.last_event_id()
    path = "/api/v1/merchants/alatau-coffee/authorization-advices"
    # bob: 20 000 KZT and 100 USDT (≈ 47 000 KZT); the network approved 100 000 KZT in stand-in
    booked = post(cc_client, path, coffee, "offline-1", {"card_id": cc.info["bob"]["card_id"],
                                                         "amount_minor": 100_000_00})
    assert booked.status_code == 201
    body = booked.json
    assert body["authorization"]["approved"] and body["authorization"]["status"] == "approved"
    assert body["authorization"]["reference"] == "offline-1" and body["authorization"]["amount_minor"] == 100_000_00
    assert body["tenge_minor"] == 20_000_00 and body["crypto_minor"] > 0 and body["debt_minor"] > 0
    assert body["tenge_minor"] + body["crypto_minor"] + body["debt_minor"] == 100_000_00
    assert cc.balances("bob")["KZT"] == 0 and cc.balances("bob")["USDT"] >= 0
    assert cc.card_debt("bob") == body["debt_minor"]
    again = post(cc_client, path, coffee, "offline-1", {"card_id": cc.info["bob"]["card_id"],
                                                        "amount_minor": 100_000_00})
    assert again.json == body and again.headers["Idempotent-Replayed"] == "true"
    assert cc.card_debt("bob") == body["debt_minor"]
    # the same purchase reference for a different advice is a conflict; an unknown card is a 404
    assert post(cc_client, path, coffee, "offline-1", {"card_id": cc.info["bob"]["card_id"],
                                                       "amount_minor": 1_00}).status_code == 409
    assert post(cc_client, path, coffee, "offline-2", {"card_id": 999, "amount_minor": 1_00}).status_code == 404
    captured = post(cc_client, f"/api/v1/authorizations/{body['authorization']['id']}/capture", coffee, "cap-1")
    assert captured.json["captured_minor"] == 100_000_00
    found = cc.events(after=mark)
    assert [e["type"] for e in found] == ["authorization.advice_booked", "authorization.captured"]
    assert found[0]["data"]["debt_minor"] == body["debt_minor"]
    cc.verify()


def test_the_debt_of_an_advice_is_read_and_repaid_over_http_by_the_customer(cc_client, cc):
    booked = post(cc_client, "/api/v1/merchants/alatau-coffee/authorization-advices", cc.keys["coffee"], "off-1",
                  {"card_id": cc.info["bob"]["card_id"], "amount_minor": 100_000_00}).json
    debt = booked["debt_minor"]
    bob = cc.keys["bob"]
    assert cc_client.get("/api/v1/customers/bob/card-debt", headers=auth(bob)).json == {
        "customer": "bob", "debt_minor": debt, "repaid_minor": 0}
    assert cc_client.get("/api/v1/customers/bob/card-debt", headers=auth(cc.keys["aigerim"])).status_code in (403, 404)
    mark = cc.last_event_id()
    cc.deposit(actor="bob", asset="KZT", amount_minor=10_000_00)
    part = post(cc_client, "/api/v1/customers/bob/card-debt/repay", bob, "repay-1", {"amount_minor": 5_000_00})
    assert part.status_code == 200 and part.json == {"customer": "bob", "debt_minor": debt - 5_000_00,
                                                     "repaid_minor": 5_000_00}
    again = post(cc_client, "/api/v1/customers/bob/card-debt/repay", bob, "repay-1", {"amount_minor": 5_000_00})
    assert again.json == part.json and again.headers["Idempotent-Replayed"] == "true"
    rest = post(cc_client, "/api/v1/customers/bob/card-debt/repay", bob, "repay-2")
    # at most what is available: the other 5 000 KZT of the deposit
    assert rest.json["repaid_minor"] == 5_000_00 and rest.json["debt_minor"] == debt - 10_000_00
    assert cc.balances("bob")["KZT"] == 0
    assert [e["type"] for e in cc.events(after=mark)] == ["deposit.confirmed"]   # a repayment is audited, no event
    cc.verify()


def test_a_programme_that_permits_atm_withdrawals_approves_one_over_http(tmp_path):
    from sandbox.apikeys import create_key
    from sandbox.city import CryptoCity
    from sandbox.config import load_config
    from sandbox.web import create_app
    cfg = load_config("crypto-city")
    cfg = cfg.model_copy(update={"card": cfg.card.model_copy(update={"allow_atm": True})})
    city = CryptoCity.from_config(cfg, db=f"sqlite:///{tmp_path / 'atm.db'}", seed=7)
    try:
        city.register_merchant(merchant_id="halyk-atm", name="Halyk ATM", mcc="6011")
        card_id = city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 5_000_00, "USDT": 100_000_000}
                               )["card_id"]
        with city.ledger.unit_of_work() as uow:
            atm = create_key(uow.conn, "merchant", "halyk-atm", now=uow.now()).token
            uow.commit()
        client = create_app(city, {"TESTING": True}).test_client()
        mark = city.last_event_id()
        cash = post(client, "/api/v1/merchants/halyk-atm/authorizations", atm, "atm-1",
                    {"card_id": card_id, "amount_minor": 20_000_00})
        assert cash.status_code == 201 and cash.json["approved"] and cash.json["kind"] == "atm_withdrawal"
        assert city.balances("aigerim")["KZT"] < 1_000_00   # 5 000 KZT, then USDT sold for the other 15 000
        captured = post(client, f"/api/v1/authorizations/{cash.json['id']}/capture", atm, "cap-1")
        assert captured.json["status"] == "captured"
        assert city.account_balance("merchant:halyk-atm:KZT") > 0
        found = city.events(after=mark)
        assert [e["type"] for e in found] == ["authorization.created", "authorization.captured"]
        assert found[0]["data"]["kind"] == "atm_withdrawal" and found[0]["data"]["shortfall_minor"] == 15_000_00
        city.verify()
    finally:
        city.close()
