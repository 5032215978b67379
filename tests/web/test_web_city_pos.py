"""The POS over HTTP on a real city: approvals with just-in-time crypto, declines as answers, retries that
never sell twice, clearing, and the idempotency of city verbs."""
from __future__ import annotations

from web_support import auth

PROBLEM = "application/problem+json"


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {}, headers=auth(token, **{"Idempotency-Key": key}))


def test_a_purchase_sells_crypto_just_in_time_and_a_retry_never_sells_twice(cc_client, cc):
    coffee = cc.keys["coffee"]
    before = cc.balances("aigerim")
    body = {"card_id": cc.info["aigerim"]["card_id"], "amount_minor": 150_000_00}  # more than her 100 000 KZT
    first = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "till-7-0001", body)
    assert first.status_code == 201 and first.json["approved"] and first.json["response_code"] == "00"
    assert first.json["reference"] == "till-7-0001" and first.json["status"] == "approved"
    assert "sold" not in first.json and "flags" not in first.json  # the merchant does not see the customer's crypto
    after = cc.balances("aigerim")
    assert after["USDT"] < before["USDT"] and after["KZT"] < 1_000_00
    again = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "till-7-0001", body)
    assert again.status_code == 201 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert cc.balances("aigerim") == after  # nothing sold or held a second time
    # by card number instead of id: the same purchase reference, the same answer, still one sale
    other = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "till-7-0001",
                 {"pan": cc.info["aigerim"]["pan"], "amount_minor": 150_000_00})
    assert other.status_code == 409 and other.mimetype == PROBLEM  # a different body under the same key
    assert cc.balances("aigerim") == after
    statement = cc.cards.customer_statement("aigerim")
    assert [line["response_code"] for line in statement] == ["00"]
    cc.verify()


def test_the_same_key_with_another_amount_is_a_conflict_and_changes_nothing(cc_client, cc):
    coffee = cc.keys["coffee"]
    body = {"card_id": cc.info["bob"]["card_id"], "amount_minor": 1_500_00}
    assert post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "k-1", body).status_code == 201
    before = cc.balances("bob")
    conflict = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "k-1",
                    {**body, "amount_minor": 1_600_00})
    assert conflict.status_code == 409 and conflict.json["type"] == "urn:cryptocity:problem:idempotency_conflict"
    assert "different request" in conflict.json["detail"]
    assert cc.balances("bob") == before and len(cc.cards.customer_statement("bob")) == 1
    cc.verify()


def test_a_decline_is_an_answer_with_the_iso_code_not_an_http_error(cc_client, cc):
    coffee = cc.keys["coffee"]
    before = cc.balances("bob")
    # bob has basic KYC: 50 000 KZT per purchase at most
    declined = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "big-1",
                    {"card_id": cc.info["bob"]["card_id"], "amount_minor": 60_000_00})
    assert declined.status_code == 201 and declined.mimetype == "application/json"
    assert declined.json["approved"] is False and declined.json["response_code"] == "61"
    assert "per purchase" in declined.json["reason"] and declined.json["status"] == "declined"
    assert cc.balances("bob") == before
    bad_pan = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "pan-1",
                   {"pan": "4000000000000011", "amount_minor": 100_00})
    assert bad_pan.status_code == 201 and bad_pan.json["response_code"] == "14"
    # malformed requests ARE problems
    for body in ({"card_id": 1, "amount_minor": 1.5}, {"card_id": 1}, {"card_id": 1, "pan": "4000000000000010",
                                                                      "amount_minor": 100}, {"amount_minor": 100}):
        response = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "bad", body)
        assert response.status_code == 422 and response.mimetype == PROBLEM, body
    assert cc.balances("bob") == before
    cc.verify()


def test_capture_part_refund_and_retries_that_never_pay_twice(cc_client, cc):
    coffee = cc.keys["coffee"]
    sale = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "order-9",
                {"card_id": cc.info["bob"]["card_id"], "amount_minor": 10_000_00}).json
    settlement = cc.account_balance("merchant:alatau-coffee:KZT")
    path = f"/api/v1/authorizations/{sale['id']}"
    captured = post(cc_client, f"{path}/capture", coffee, "cap-1", {"amount_minor": 8_000_00})
    assert captured.status_code == 200 and captured.json["captured_minor"] == 8_000_00
    assert captured.json["reversed_minor"] == 2_000_00 and captured.json["status"] == "captured"
    paid = cc.account_balance("merchant:alatau-coffee:KZT") - settlement
    assert 0 < paid < 8_000_00  # minus the merchant fee
    assert post(cc_client, f"{path}/capture", coffee, "cap-1", {"amount_minor": 8_000_00}).json == captured.json
    assert cc.account_balance("merchant:alatau-coffee:KZT") - settlement == paid
    again = post(cc_client, f"{path}/capture", coffee, "cap-2", {})
    assert again.status_code == 409 and again.json["code"] == "nothing_to_capture"  # in card terms
    assert f"authorization {sale['id']} has nothing left to capture" in again.json["detail"]
    bank = cc.balances("bob")["KZT"]
    refund = post(cc_client, f"{path}/refund", coffee, "ref-1", {"amount_minor": 3_000_00})
    assert refund.status_code == 200 and refund.json["refunded_minor"] == 3_000_00
    assert cc.balances("bob")["KZT"] == bank + 3_000_00
    too_much = post(cc_client, f"{path}/refund", coffee, "ref-2", {"amount_minor": 6_000_00})
    assert too_much.status_code == 422 and cc.balances("bob")["KZT"] == bank + 3_000_00
    assert post(cc_client, f"{path}/refund", coffee, "ref-1", {"amount_minor": 3_000_00}).json == refund.json
    assert cc.balances("bob")["KZT"] == bank + 3_000_00
    listed = cc_client.get("/api/v1/merchants/alatau-coffee/authorizations", headers=auth(coffee)).json
    assert [a["id"] for a in listed["items"]] == [sale["id"]] and listed["items"][0]["status"] == "captured"
    cc.verify()


def test_reverse_releases_the_hold(cc_client, cc):
    coffee = cc.keys["coffee"]
    before = cc.balances("bob")["KZT"]
    sale = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "r-1",
                {"card_id": cc.info["bob"]["card_id"], "amount_minor": 5_000_00}).json
    assert cc.balances("bob")["KZT"] == before - 5_000_00
    reversed_ = post(cc_client, f"/api/v1/authorizations/{sale['id']}/reverse", coffee, "rv-1")
    assert reversed_.status_code == 200 and reversed_.json["status"] == "reversed"
    assert cc.balances("bob")["KZT"] == before
    cc.verify()


def test_a_second_full_refund_is_nothing_to_refund_in_card_terms(cc_client, cc):
    """Before, a second full refund answered the ledger's internal ``zero_amount`` naming an internal
    account; it is a 409 ``nothing_to_refund`` about the authorization, and nothing moves."""
    coffee = cc.keys["coffee"]
    sale = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "order-r",
                {"card_id": cc.info["bob"]["card_id"], "amount_minor": 2_000_00}).json
    path = f"/api/v1/authorizations/{sale['id']}"
    assert post(cc_client, f"{path}/capture", coffee, "cap-r", {}).json["status"] == "captured"
    assert post(cc_client, f"{path}/refund", coffee, "ref-r1", {}).json["status"] == "refunded"
    bank, till = cc.balances("bob")["KZT"], cc.account_balance("merchant:alatau-coffee:KZT")
    again = post(cc_client, f"{path}/refund", coffee, "ref-r2", {})
    assert again.status_code == 409 and again.json["code"] == "nothing_to_refund"
    assert again.json["detail"].startswith(f"authorization {sale['id']} has nothing left to refund")
    assert "zero" not in again.json["detail"] and "card-acquirer" not in again.json["detail"]
    assert cc.balances("bob")["KZT"] == bank and cc.account_balance("merchant:alatau-coffee:KZT") == till
    cc.verify()
