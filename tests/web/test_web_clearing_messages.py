"""Clearing-side network messages over HTTP: several partial captures and a tip over the authorization,
force posts, unlinked refunds and expiring a hold now — each once per Idempotency-Key, scoped to the merchant,
ending with verify and the events it wrote."""
from __future__ import annotations

from web_support import auth

PROBLEM = "application/problem+json"


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {}, headers=auth(token, **{"Idempotency-Key": key}))


def new_events(cc, mark):
    return [(e["type"], e["data"]) for e in cc.events(after=mark, limit=100)]


def _authorize(client, cc, key, amount_minor, merchant="alatau-coffee", token="coffee", actor="bob"):
    res = post(client, f"/api/v1/merchants/{merchant}/authorizations", cc.keys[token], key,
               {"card_id": cc.info[actor]["card_id"], "amount_minor": amount_minor})
    assert res.status_code == 201 and res.json["approved"], res.json
    return res.json


def test_partial_captures_then_a_tip_within_the_cafe_tolerance(cc_client, cc):
    coffee = cc.keys["coffee"]
    sale = _authorize(cc_client, cc, "dinner", 10_000_00)
    path = f"/api/v1/authorizations/{sale['id']}/capture"
    mark = cc.last_event_id()
    first = post(cc_client, path, coffee, "cap-1", {"amount_minor": 4_000_00, "final": False})
    assert first.status_code == 200 and (first.json["status"], first.json["captured_minor"]) == ("approved", 4_000_00)
    assert post(cc_client, path, coffee, "cap-1", {"amount_minor": 4_000_00, "final": False}).json == first.json
    refused = post(cc_client, path, coffee, "cap-2", {"amount_minor": 8_000_01})   # 20 % of 10 000 is the most over
    assert refused.status_code == 422 and refused.mimetype == PROBLEM
    assert refused.json["code"] == "over_capture_refused" and refused.json["response_code"] == "64"
    tip = post(cc_client, path, coffee, "cap-3", {"amount_minor": 8_000_00})
    assert tip.status_code == 200 and (tip.json["status"], tip.json["captured_minor"]) == ("captured", 12_000_00)
    assert cc.account_balance("merchant:alatau-coffee:KZT") == 12_000_00 - 12_000_00 * 150 // 10_000
    got = new_events(cc, mark)
    assert [(t, d["step_amount_minor"], d["final"]) for t, d in got] == [
        ("authorization.captured", 4_000_00, False), ("authorization.captured", 8_000_00, True)]
    assert got[1][1]["over_captured_minor"] == 2_000_00
    cc.verify()


def test_a_supermarket_capture_cannot_go_over(cc_client, cc):
    market = cc.keys["market"]
    sale = _authorize(cc_client, cc, "milk", 500_00, merchant="zone-market", token="market")
    over = post(cc_client, f"/api/v1/authorizations/{sale['id']}/capture", market, "c", {"amount_minor": 500_01})
    assert over.status_code == 422 and over.json["code"] == "over_capture_refused"
    assert post(cc_client, f"/api/v1/authorizations/{sale['id']}/capture", market, "c2").json["status"] == "captured"
    cc.verify()


def test_a_force_post_sells_just_in_time_on_a_frozen_card_and_pays_the_merchant(cc_client, cc):
    coffee = cc.keys["coffee"]
    card_id = cc.info["aigerim"]["card_id"]
    cc.freeze_card(card_id=card_id, by="aigerim")
    before = cc.balances("aigerim")
    mark = cc.last_event_id()
    body = {"card_id": card_id, "amount_minor": 150_000_00}   # more than her 100 000 KZT
    posted = post(cc_client, "/api/v1/merchants/alatau-coffee/force-posts", coffee, "offline-42", body)
    assert posted.status_code == 201, posted.json
    assert (posted.json["kind"], posted.json["status"], posted.json["response_code"]) == ("force_post", "captured", "00")
    assert posted.json["reference"] == "offline-42" and posted.json["captured_minor"] == 150_000_00
    assert "sold" not in posted.json                          # the merchant does not see the customer's crypto
    after = cc.balances("aigerim")
    assert after["USDT"] < before["USDT"] and after["KZT"] < 1_000_00
    again = post(cc_client, "/api/v1/merchants/alatau-coffee/force-posts", coffee, "offline-42", body)
    assert again.json == posted.json and again.headers["Idempotent-Replayed"] == "true"
    assert cc.balances("aigerim") == after
    [(kind, data)] = new_events(cc, mark)
    assert kind == "authorization.force_posted" and data["sold"][0]["asset"] == "USDT"
    # the merchant can refund a force post like any purchase
    refund = post(cc_client, f"/api/v1/authorizations/{posted.json['id']}/refund", coffee, "r-1",
                  {"amount_minor": 1_000_00})
    assert refund.status_code == 200 and refund.json["refunded_minor"] == 1_000_00
    # another merchant cannot post to the café's path
    other = post(cc_client, "/api/v1/merchants/alatau-coffee/force-posts", cc.keys["market"], "x", body)
    assert other.status_code in (403, 404)
    cc.verify()


def test_a_force_post_nobody_can_pay_is_a_problem_and_changes_nothing(cc_client, cc):
    before = cc.balances("bob")
    res = post(cc_client, "/api/v1/merchants/alatau-coffee/force-posts", cc.keys["coffee"], "big",
               {"card_id": cc.info["bob"]["card_id"], "amount_minor": 900_000_00})
    assert res.status_code == 422 and res.json["code"] == "clearing_unfunded" and res.json["response_code"] == "51"
    assert cc.balances("bob") == before
    cc.verify()


def test_an_unlinked_refund_pays_the_bank_account(cc_client, cc):
    coffee = cc.keys["coffee"]
    sale = _authorize(cc_client, cc, "lunch", 3_000_00)
    post(cc_client, f"/api/v1/authorizations/{sale['id']}/capture", coffee, "cap")
    bank = cc.balances("bob")["KZT"]
    mark = cc.last_event_id()
    body = {"pan": cc.info["bob"]["pan"], "amount_minor": 200_00}
    res = post(cc_client, "/api/v1/merchants/alatau-coffee/refunds", coffee, "sorry-1", body)
    assert res.status_code == 201 and (res.json["kind"], res.json["status"]) == ("unlinked_refund", "refunded")
    assert res.json["refunded_minor"] == 200_00 and cc.balances("bob")["KZT"] == bank + 200_00
    assert post(cc_client, "/api/v1/merchants/alatau-coffee/refunds", coffee, "sorry-1", body).json == res.json
    assert cc.balances("bob")["KZT"] == bank + 200_00
    too_much = post(cc_client, "/api/v1/merchants/alatau-coffee/refunds", coffee, "sorry-2",
                    {**body, "amount_minor": 50_000_00})
    assert too_much.status_code == 422 and too_much.json["code"] == "insufficient_funds"
    [(kind, data)] = new_events(cc, mark)
    assert kind == "authorization.refunded" and data["kind"] == "unlinked_refund"
    cc.verify()


def test_expire_releases_the_hold_now(cc_client, cc):
    coffee = cc.keys["coffee"]
    sale = _authorize(cc_client, cc, "hotel", 5_000_00)
    bank = cc.balances("bob")["KZT"]
    mark = cc.last_event_id()
    path = f"/api/v1/authorizations/{sale['id']}/expire"
    res = post(cc_client, path, coffee, "exp-1")
    assert res.status_code == 200 and (res.json["status"], res.json["reversed_minor"]) == ("expired", 5_000_00)
    assert cc.balances("bob")["KZT"] == bank + 5_000_00
    assert post(cc_client, path, coffee, "exp-1").json == res.json          # a retry: the same answer
    gone = post(cc_client, path, coffee, "exp-2")
    assert gone.status_code == 409 and gone.json["code"] == "nothing_to_expire"
    assert post(cc_client, path, cc.keys["market"], "exp-3").status_code in (403, 404)   # not its purchase
    [(kind, data)] = new_events(cc, mark)
    assert kind == "authorization.expired" and data["released_minor"] == 5_000_00 and data["by_request"]
    cc.verify()
