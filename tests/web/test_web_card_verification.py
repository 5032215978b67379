"""Card verification over HTTP: the card shown once at onboarding, card-not-present purchases checked
(54 wrong expiry, N7 wrong CVV2), the freeze and AML flag after 3 failures in 24 h, the operator-only
reveal, and the CVV never in a stored response, the audit log, an event or a log line."""
from __future__ import annotations

import logging
from datetime import timedelta

from databases import cells_holding
from sqlalchemy import select
from stdnum import luhn
from web_support import auth

from sandbox.tables import audit_log

PROBLEM = "application/problem+json"
AUTHORIZE = "/api/v1/merchants/alatau-coffee/authorizations"
CNP = "card_not_present"


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {}, headers=auth(token, **{"Idempotency-Key": key}))


def _other(cvv: str) -> str:
    return f"{(int(cvv) + 1) % 1000:03d}"


def test_onboarding_shows_the_full_card_once_and_every_later_read_masks_it(cc_client, cc):
    operator = cc.keys["operator"]
    first = post(cc_client, "/api/v1/customers", operator, "onb-1", {"actor": "dana", "kyc_tier": "full",
                                                                     "deposits": {"KZT": 10_000_00}})
    assert first.status_code == 201
    card = first.json
    assert card["pan"].startswith("400000") and luhn.is_valid(card["pan"]) and len(card["cvv"]) == 3
    assert card["masked_pan"] == card["pan"][:6] + "******" + card["pan"][-4:]
    replay = post(cc_client, "/api/v1/customers", operator, "onb-1", {"actor": "dana", "kyc_tier": "full",
                                                                      "deposits": {"KZT": 10_000_00}})
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.status_code == 201
    assert {"pan", "expiry", "cvv"}.isdisjoint(replay.json) and replay.json["masked_pan"] == card["masked_pan"]
    read = cc_client.get(f"/api/v1/cards/{card['card_id']}", headers=auth(operator))
    assert read.json["masked_pan"] == card["masked_pan"] and read.json["expiry"] == card["expiry"]
    listed = cc_client.get("/api/v1/customers/dana", headers=auth(operator))
    assert card["pan"] not in listed.get_data(as_text=True)
    # the details shown are the card's: an online purchase with them is approved
    paid = post(cc_client, AUTHORIZE, cc.keys["coffee"], "web-1", {"card_id": card["card_id"], "amount_minor": 500_00,
                                                                   "channel": CNP, "expiry": card["expiry"],
                                                                   "cvv": card["cvv"]})
    assert paid.status_code == 201 and paid.json["response_code"] == "00"
    cc.verify()


def test_card_not_present_declines_a_wrong_cvv2_n7_and_a_wrong_expiry_54_and_card_present_needs_neither(cc_client,
                                                                                                           cc):
    coffee, card = cc.keys["coffee"], cc.info["aigerim"]
    before = cc.balances("aigerim")
    base = {"card_id": card.card_id, "amount_minor": 1_000_00}
    wrong_cvv = post(cc_client, AUTHORIZE, coffee, "cnp-1", {**base, "channel": CNP, "expiry": card.expiry,
                                                             "cvv": _other(card.cvv)})
    assert wrong_cvv.status_code == 201 and wrong_cvv.json["approved"] is False
    assert wrong_cvv.json["response_code"] == "N7" and "CVV2" in wrong_cvv.json["reason"]
    month, year = card.expiry.split("/")
    wrong_expiry = post(cc_client, AUTHORIZE, coffee, "cnp-2", {**base, "channel": CNP, "cvv": card.cvv,
                                                                "expiry": f"{month}/{int(year) + 1:02d}"})
    assert wrong_expiry.json["response_code"] == "54" and "expiry" in wrong_expiry.json["reason"]
    assert cc.balances("aigerim") == before
    by_pan = post(cc_client, AUTHORIZE, coffee, "cnp-3", {"pan": card.pan, "amount_minor": 1_000_00, "channel": CNP,
                                                          "expiry": card.expiry, "cvv": card.cvv})
    assert by_pan.json["response_code"] == "00"
    tap = post(cc_client, AUTHORIZE, coffee, "tap-1", base)                  # card_present by default
    assert tap.json["response_code"] == "00"
    tap2 = post(cc_client, AUTHORIZE, coffee, "tap-2", {**base, "channel": "card_present"})
    assert tap2.json["response_code"] == "00"
    # a retry of the declined purchase with another CVV2 gets the first answer: the CVV2 is not part of it
    retried = post(cc_client, AUTHORIZE, coffee, "cnp-1", {**base, "channel": CNP, "expiry": card.expiry,
                                                           "cvv": card.cvv})
    assert retried.headers["Idempotent-Replayed"] == "true" and retried.json == wrong_cvv.json
    for bad in ({**base, "channel": CNP}, {**base, "channel": CNP, "expiry": card.expiry},
                {**base, "channel": CNP, "cvv": card.cvv}, {**base, "cvv": card.cvv},
                {**base, "channel": CNP, "expiry": "6/28", "cvv": card.cvv},
                {**base, "channel": CNP, "expiry": card.expiry, "cvv": "1234"}, {**base, "channel": "phone"}):
        refused = post(cc_client, AUTHORIZE, coffee, "bad-1", bad)
        assert refused.status_code == 422 and refused.mimetype == PROBLEM, bad
        assert card.cvv not in refused.get_data(as_text=True)
    lines = cc.cards.customer_statement("aigerim")
    assert [line["response_code"] for line in lines] == ["N7", "54", "00", "00", "00"]
    cc.verify()


def test_three_failures_in_24_hours_freeze_the_card_with_an_aml_flag_and_a_4th_attempt_declines_62(cc_client, cc):
    coffee, operator, card = cc.keys["coffee"], cc.keys["operator"], cc.info["bob"]
    start = cc.last_event_id()
    wrong = {"card_id": card.card_id, "amount_minor": 100_00, "channel": CNP, "expiry": card.expiry,
             "cvv": _other(card.cvv)}
    codes = [post(cc_client, AUTHORIZE, coffee, f"f{i}", wrong).json["response_code"] for i in range(3)]
    assert codes == ["N7", "N7", "N7"]
    assert cc_client.get(f"/api/v1/cards/{card.card_id}", headers=auth(operator)).json["status"] == "frozen"
    right = {**wrong, "cvv": card.cvv}
    fourth = post(cc_client, AUTHORIZE, coffee, "f3", right)
    assert fourth.json["response_code"] == "62" and "frozen" in fourth.json["reason"]
    events = cc_client.get(f"/api/v1/events?after={start}&limit=100", headers=auth(operator)).json["items"]
    types = [e["type"] for e in events]
    assert types.count("aml.flag_raised") == 1 and types.count("card.updated") == 1
    [flag] = [e for e in events if e["type"] == "aml.flag_raised"]
    assert flag["data"]["rule"] == "card_verification" and flag["data"]["response_code"] == "N7"
    # the merchant's answer does not tip anyone off: no flags in it
    assert "flags" not in fourth.json
    cc.verify()


def test_failures_spread_over_more_than_24_hours_do_not_freeze(cc_client, cc):
    coffee, card = cc.keys["coffee"], cc.info["bob"]
    wrong = {"card_id": card.card_id, "amount_minor": 100_00, "channel": CNP, "expiry": card.expiry,
             "cvv": _other(card.cvv)}
    for i in range(4):
        assert post(cc_client, AUTHORIZE, coffee, f"s{i}", wrong).json["response_code"] == "N7"
        cc.advance(timedelta(hours=13))
    right = post(cc_client, AUTHORIZE, coffee, "s-ok", {**wrong, "cvv": card.cvv})
    assert right.json["response_code"] == "00"
    cc.verify()


def test_the_reveal_is_for_the_operator_only_and_is_audited(cc_client, cc):
    card = cc.info["aigerim"]
    path = f"/api/v1/cards/{card.card_id}/reveal"
    for who in ("coffee", "aigerim", "bob", "regulator"):
        refused = post(cc_client, path, cc.keys[who], f"rv-{who}")
        assert refused.status_code in (403, 404) and refused.mimetype == PROBLEM, who
        assert card.cvv not in refused.get_data(as_text=True)
    assert post(cc_client, path, cc.keys["aigerim"], "rv-own").status_code == 403   # even the cardholder's own key
    assert post(cc_client, path, cc.keys["coffee"], "rv-m").status_code == 403
    shown = post(cc_client, path, cc.keys["operator"], "rv-1")
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert shown.json == {"id": card.card_id, "cardholder": "aigerim", "pan": card.pan, "expiry": card.expiry,
                          "cvv": card.cvv}
    assert post(cc_client, "/api/v1/cards/999999/reveal", cc.keys["operator"], "rv-2").status_code == 404
    with cc.ledger.unit_of_work(read_only=True) as uow:
        entries = uow.conn.execute(select(audit_log).where(audit_log.c.action == "card.revealed")).all()
    assert [(e.subject, card.cvv in e.details) for e in entries] == [(str(card.card_id), False)]


def test_the_cvv_never_appears_in_stored_responses_audit_events_or_server_logs(cc_client, cc, caplog):
    caplog.set_level(logging.DEBUG)
    operator, coffee = cc.keys["operator"], cc.keys["coffee"]
    made = post(cc_client, "/api/v1/customers", operator, "onb-9", {"actor": "dana", "kyc_tier": "full"}).json
    wrong = {"card_id": made["card_id"], "amount_minor": 100_00, "channel": CNP, "expiry": made["expiry"],
             "cvv": _other(made["cvv"])}
    for i in range(3):
        post(cc_client, AUTHORIZE, coffee, f"leak-{i}", wrong)
    post(cc_client, f"/api/v1/cards/{made['card_id']}/unfreeze", operator, "uf-1")
    post(cc_client, AUTHORIZE, coffee, "leak-ok", {**wrong, "cvv": made["cvv"]})
    post(cc_client, f"/api/v1/cards/{made['card_id']}/reveal", operator, "rv-9")
    for cvv in (made["cvv"], _other(made["cvv"]), cc.info["aigerim"].cvv):
        assert cells_holding(cc.ledger.db.engine, cvv) == []
    events = cc_client.get("/api/v1/events?limit=100", headers=auth(operator)).get_data(as_text=True)
    assert '"cvv"' not in events and f'"{made["cvv"]}"' not in events
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cvv" not in logged.lower() and made["cvv"] not in [w.strip("'\",.:") for w in logged.split()]
    cc.verify()
