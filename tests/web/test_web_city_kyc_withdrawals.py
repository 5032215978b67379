"""KYC tier changes (operator only) and BTC withdrawals over HTTP on a real city: the withdrawal is paid
on the regtest chain from the exchange's treasury and confirmed; refusals are problems that change nothing."""
from __future__ import annotations

import json

from sqlalchemy import select

from sandbox.tables import audit_log
from wallet.keys import HDKeys, MasterSeed
from web_support import auth

PROBLEM = "application/problem+json"


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {}, headers=auth(token, **{"Idempotency-Key": key}))


def get(client, path, token, **query):
    return client.get(path, headers=auth(token), query_string=query)


def outside_address(index: int = 0) -> str:
    """A regtest address of someone's external wallet (a fresh HD key the custodian does not own)."""
    return HDKeys(MasterSeed.for_sandbox("outside-wallet")).address("bitcoin", "deposit", index)


# ------------------------------------------------------------------ KYC
def test_kyc_upgrade_by_the_operator_turns_a_declined_purchase_into_an_approved_one(cc_client, cc):
    op, coffee = cc.keys["operator"], cc.keys["coffee"]
    card = cc.info["bob"]["card_id"]
    assert post(cc_client, "/api/v1/customers/bob/faucet", op, "f-1",
                {"asset": "KZT", "amount_minor": 100_000_00}).status_code == 201
    declined = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "t-1",
                    {"card_id": card, "amount_minor": 60_000_00}).json
    assert declined["approved"] is False and declined["response_code"] == "61"   # basic: 50 000 KZT a purchase
    changed = post(cc_client, "/api/v1/customers/bob/kyc", op, "kyc-1", {"kyc_tier": "full", "reason": "passport"})
    assert changed.status_code == 200, changed.json
    assert changed.json == get(cc_client, "/api/v1/customers/bob/kyc", cc.keys["bob"]).json
    assert changed.json["kyc_tier"] == "full" and changed.json["per_transaction_limit_minor"] == 250_000_00
    assert get(cc_client, "/api/v1/customers/bob", cc.keys["regulator"]).json["kyc_tier"] == "full"
    replay = post(cc_client, "/api/v1/customers/bob/kyc", op, "kyc-1", {"kyc_tier": "full", "reason": "passport"})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json == changed.json
    assert post(cc_client, "/api/v1/customers/bob/kyc", op, "kyc-1", {"kyc_tier": "none"}).status_code == 409
    approved = post(cc_client, "/api/v1/merchants/alatau-coffee/authorizations", coffee, "t-2",
                    {"card_id": card, "amount_minor": 60_000_00}).json
    assert approved["approved"] is True and approved["response_code"] == "00", approved
    with cc.ledger.unit_of_work(read_only=True) as uow:
        details = [json.loads(d) for d in uow.conn.execute(
            select(audit_log.c.details).where(audit_log.c.action == "customer.kyc_changed")).scalars()]
    assert details == [{"customer": "bob", "from_tier": "basic", "to_tier": "full", "reason": "passport"}]
    cc.verify()


def test_kyc_change_refusals_unknown_tier_unknown_actor_and_who_may_not(cc_client, cc):
    op = cc.keys["operator"]
    bad = post(cc_client, "/api/v1/customers/bob/kyc", op, "k-1", {"kyc_tier": "platinum"})
    assert bad.status_code == 422 and bad.mimetype == PROBLEM
    assert bad.json["type"] == "urn:cryptocity:problem:invalid_kyc_tier" and "none, basic, full" in bad.json["detail"]
    missing = post(cc_client, "/api/v1/customers/nobody/kyc", op, "k-2", {"kyc_tier": "full"})
    assert missing.status_code == 404 and missing.json["code"] == "unknown_actor"
    assert post(cc_client, "/api/v1/customers/bob/kyc", op, "k-3", {}).status_code == 422   # the tier is required
    for token in ("bob", "aigerim", "coffee", "regulator"):   # a customer may not raise its own tier
        refused = post(cc_client, "/api/v1/customers/bob/kyc", cc.keys[token], f"k-{token}", {"kyc_tier": "full"})
        assert refused.status_code == 403 and refused.mimetype == PROBLEM, token
    assert get(cc_client, "/api/v1/customers/bob/kyc", op).json["kyc_tier"] == "basic"


# ------------------------------------------------------------------ withdrawals
def test_a_withdrawal_over_http_is_broadcast_and_confirmed_on_the_regtest_chain(cc_client, cc):
    op, me = cc.keys["operator"], cc.keys["aigerim"]
    onboarded = post(cc_client, "/api/v1/customers", op, "onb-1", {"actor": "dana", "kyc_tier": "full"})
    assert onboarded.status_code == 201
    assert post(cc_client, "/api/v1/customers/dana/faucet", op, "f-1",
                {"asset": "BTC", "amount_minor": 2_000_000}).status_code == 201
    dest = outside_address()
    body = {"asset": "BTC", "address": dest, "amount_minor": 400_000}
    sent = post(cc_client, "/api/v1/customers/dana/withdrawals", op, "w-1", body)
    assert sent.status_code == 201, sent.json
    w = sent.json
    assert w["status"] == "confirmed" and w["actor"] == "dana" and w["amount_minor"] == 400_000 and w["fee_minor"] > 0
    assert cc.btc_node.confirmations(w["txid"]) >= cc.cfg.custody.confirmations["BTC"]
    assert cc.btc_node.balance_sat([dest]) == 400_000           # the coins are at the address, on chain
    assert cc.balances("dana")["BTC"] == 2_000_000 - 400_000 - w["fee_minor"]
    replay = post(cc_client, "/api/v1/customers/dana/withdrawals", op, "w-1", body)
    assert replay.status_code == 201 and replay.json == w and replay.headers["Idempotent-Replayed"] == "true"
    conflict = post(cc_client, "/api/v1/customers/dana/withdrawals", op, "w-1", {**body, "amount_minor": 400_001})
    assert conflict.status_code == 409 and conflict.json["code"] == "idempotency_conflict"
    assert cc.btc_node.balance_sat([dest]) == 400_000 and cc.balances("dana")["BTC"] == 2_000_000 - 400_000 - w["fee_minor"]
    # the customer's own key withdraws too, and reads the list (paginated)
    assert post(cc_client, "/api/v1/customers/aigerim/withdrawals", me, "mine-1",
                {"address": outside_address(1), "amount_minor": 100_000}).status_code == 201
    assert [x["amount_minor"] for x in get(cc_client, "/api/v1/customers/aigerim/withdrawals", me).json["items"]] == [
        100_000]
    assert post(cc_client, "/api/v1/customers/dana/withdrawals", op, "w-2",
                {**body, "amount_minor": 50_000}).json["status"] == "confirmed"
    page = get(cc_client, "/api/v1/customers/dana/withdrawals", cc.keys["regulator"], limit=1).json
    assert [x["id"] for x in page["items"]] == [w["id"]] and page["next_after_id"] == w["id"]
    rest = get(cc_client, "/api/v1/customers/dana/withdrawals", op, after_id=page["next_after_id"]).json
    assert [x["amount_minor"] for x in rest["items"]] == [50_000] and rest["next_after_id"] is None
    reserves = cc.custodian.reserves_report("BTC")
    assert reserves["ledger_onchain_minor"] == reserves["onchain_minor"]   # the ledger's view of the chain is exact
    assert get(cc_client, "/api/v1/customers/dana/tax-statements/2025", op).json["disposals"] == []
    cc.verify()


def test_withdrawal_refusals_are_problems_and_change_nothing(cc_client, cc):
    op, me = cc.keys["operator"], cc.keys["aigerim"]
    dest = outside_address()
    before = cc.balances("aigerim")
    typo = dest[:-1] + ("q" if dest[-1] != "q" else "p")
    blocked = outside_address(7)
    cc.custodian.add_blocked_address("bitcoin", blocked, "anti-fraud centre")
    cases = [({"address": typo, "amount_minor": 100_000}, 422, "bad_address"),
             ({"address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "amount_minor": 100_000}, 422, "bad_address"),
             ({"address": blocked, "amount_minor": 100_000}, 422, "address_blocked"),
             ({"address": dest, "amount_minor": 900_000_000}, 422, "travel_rule_required"),
             ({"address": dest, "amount_minor": before["BTC"], "travel_rule": {
                 "originator_name": "Aigerim", "originator_account": "aigerim", "beneficiary_name": "Aigerim",
                 "beneficiary_account": dest, "originator_id": "900101400123"}}, 422, "insufficient_funds"),
             ({"asset": "USDT", "address": dest, "amount_minor": 1_000_000}, 422, "withdrawal_asset_not_supported"),
             ({"address": dest, "amount_minor": 100}, 422, "dust_amount"),
             ({"address": dest, "amount_minor": 1.5}, 422, "validation_error"),
             ({"address": dest, "amount_minor": 1000, "travel_rule": {"shoe_size": "42"}}, 422, "validation_error")]
    for n, (body, status, code) in enumerate(cases):
        refused = post(cc_client, "/api/v1/customers/aigerim/withdrawals", me, f"bad-{n}", body)
        assert (refused.status_code, refused.mimetype) == (status, PROBLEM), (body, refused.json)
        assert refused.json["type"] == f"urn:cryptocity:problem:{code}" and refused.json["detail"], refused.json
    assert cc.balances("aigerim") == before
    assert get(cc_client, "/api/v1/customers/aigerim/withdrawals", op).json["items"] == []
    cc.custodian.add_whitelisted_address("aigerim", "bitcoin", outside_address(2))
    listed = post(cc_client, "/api/v1/customers/aigerim/withdrawals", me, "wl-1",
                  {"address": dest, "amount_minor": 100_000})
    assert listed.status_code == 422 and listed.json["code"] == "address_not_whitelisted"
    # another customer's key, a merchant's, a regulator's write
    body = {"address": dest, "amount_minor": 100_000}
    assert post(cc_client, "/api/v1/customers/aigerim/withdrawals", cc.keys["bob"], "x-1", body).status_code == 404
    assert get(cc_client, "/api/v1/customers/aigerim/withdrawals", cc.keys["bob"]).status_code == 404
    assert post(cc_client, "/api/v1/customers/aigerim/withdrawals", cc.keys["coffee"], "x-2", body).status_code == 403
    assert post(cc_client, "/api/v1/customers/aigerim/withdrawals", cc.keys["regulator"], "x-3", body).status_code == 403
    assert post(cc_client, "/api/v1/customers/nobody/withdrawals", op, "x-4", body).status_code == 404
    assert cc.balances("aigerim") == before
    cc.verify()
