"""The decision gateway over HTTP: the developer's app approves, declines or partly approves a purchase;
when it is slow, refuses the connection or fails, the programme's stand-in decides and the authorization
says why. Nothing is held while the app thinks: another card's purchase completes meanwhile."""
from __future__ import annotations

import socket
import threading

import pytest

from gateway_support import DecisionApp
from web_support import auth

POS = "/api/v1/merchants/alatau-coffee/authorizations"


@pytest.fixture
def app_():
    decision_app = DecisionApp()
    yield decision_app
    decision_app.close()


def set_programme_app(client, cc, decision_app, **body):
    answer = client.put("/api/v1/card-programme/decision", json={"url": decision_app.url, **body},
                        headers=auth(cc.keys["operator"]))
    assert answer.status_code == 200, answer.json
    decision_app.secret = answer.json["secret"]
    return answer.json


def buy(client, cc, key, amount_minor, actor="aigerim"):
    answer = client.post(POS, json={"card_id": cc.info[actor]["card_id"], "amount_minor": amount_minor},
                         headers=auth(cc.keys["coffee"], **{"Idempotency-Key": key}))
    assert answer.status_code == 201, answer.json
    return answer.json


def created_event(cc, authorization_id):
    events = [e for e in cc.events(types=["authorization.created"]) if e["data"]["authorization_id"] == authorization_id]
    assert len(events) == 1
    return events[0]["data"]


def test_the_app_approves_with_the_proposed_plan_in_a_signed_request(cc_client, cc, app_):
    app_.decide = lambda data: (200, {"approved": True, "metadata": {"rule": "coffee is fine"}})
    set_programme_app(cc_client, cc, app_)
    before = cc.balances("aigerim")
    sale = buy(cc_client, cc, "g-1", 150_000_00)   # more than her 100 000 KZT: crypto sold just in time
    assert sale["approved"] and sale["response_code"] == "00" and sale["amount_minor"] == 150_000_00
    [request] = app_.requests
    assert request["type"] == "authorization.request" and app_.forged == 0
    data = request["data"]
    assert data["card"]["id"] == cc.info["aigerim"]["card_id"] and data["merchant"]["id"] == "alatau-coffee"
    assert data["amount_minor"] == 150_000_00 and data["shortfall_minor"] == 150_000_00 - before["KZT"]
    plan = data["funding"]["plan"]
    assert plan and sum(leg["expected_proceeds_minor"] for leg in plan) == (
        data["shortfall_minor"] + data["funding"]["conversion_fee_minor"])
    order = data["funding"]["order"]
    assert plan[0]["asset"] == "USDT" and order.index("USDT") > order.index("KZTE")   # she holds no KZTE
    assert data["funding"]["slippage_cap_bps"] == 200
    event = created_event(cc, sale["id"])
    assert event["decision"] == "webhook_approved" and event["decision_metadata"] == {"rule": "coffee is fine"}
    assert cc.balances("aigerim")["KZT"] < before["KZT"]
    cc.verify()


def test_the_app_declines_05_and_nothing_moves(cc_client, cc, app_):
    app_.decide = lambda data: (200, {"approved": False, "metadata": {"reason": "not at lunch time"}})
    set_programme_app(cc_client, cc, app_)
    before = cc.balances("aigerim")
    sale = buy(cc_client, cc, "g-2", 5_000_00)
    assert not sale["approved"] and sale["response_code"] == "05" and "not at lunch time" in sale["reason"]
    assert cc.balances("aigerim") == before
    event = created_event(cc, sale["id"])
    assert event["decision"] == "webhook_declined" and event["status"] == "declined"
    cc.verify()


def test_the_app_approves_part_of_the_amount_with_10_and_it_clears(cc_client, cc, app_):
    app_.decide = lambda data: (200, {"approved": True, "amount_minor": data["amount_minor"] // 2})
    set_programme_app(cc_client, cc, app_)
    before = cc.balances("aigerim")
    sale = buy(cc_client, cc, "g-3", 8_000_00)
    assert sale["approved"] and sale["response_code"] == "10" and sale["amount_minor"] == 4_000_00
    assert sale["reason"] == "partial approval"
    assert cc.balances("aigerim")["KZT"] == before["KZT"] - 4_000_00
    event = created_event(cc, sale["id"])
    assert event["decision"] == "webhook_approved" and event["requested_minor"] == 8_000_00
    assert event["response_code"] == "10" and event["amount_minor"] == 4_000_00
    captured = cc_client.post(f"/api/v1/authorizations/{sale['id']}/capture", json={},
                              headers=auth(cc.keys["coffee"], **{"Idempotency-Key": "cap-g-3"}))
    assert captured.status_code == 200 and captured.json["captured_minor"] == 4_000_00
    cc.verify()


def test_the_apps_funding_order_is_the_order_the_crypto_is_sold_in(cc_client, cc, app_):
    app_.decide = lambda data: (200, {"approved": True, "funding": ["BTC", "USDT"]})
    set_programme_app(cc_client, cc, app_)
    before = cc.balances("aigerim")
    sale = buy(cc_client, cc, "g-4", 110_000_00)   # 10 000 KZT short: BTC pays, USDT untouched
    assert sale["response_code"] == "00"
    after = cc.balances("aigerim")
    assert after["BTC"] < before["BTC"] and after["USDT"] == before["USDT"]
    assert [leg["asset"] for leg in created_event(cc, sale["id"])["sold"]] == ["BTC"]
    cc.verify()


def test_an_answer_after_the_deadline_gets_the_stand_in_and_says_so(cc_client, cc, app_):
    release = threading.Event()

    def slow(data):
        release.wait(3.0)   # a 3 s answer; the programme waits 500 ms
        return 200, {"approved": True}
    app_.decide = slow
    set_programme_app(cc_client, cc, app_, deadline_ms=500, stand_in="decline")
    before = cc.balances("aigerim")
    try:
        declined = buy(cc_client, cc, "g-5", 5_000_00)
    finally:
        release.set()
    assert declined["response_code"] == "91" and "500 ms" in declined["reason"]
    assert cc.balances("aigerim") == before
    assert created_event(cc, declined["id"])["decision"] == "webhook_timeout"
    # the stand-in that approves with the sandbox's rules
    release.clear()
    set_programme_app(cc_client, cc, app_, deadline_ms=500, stand_in="approve_with_sandbox_rules")
    try:
        approved = buy(cc_client, cc, "g-6", 5_000_00)
    finally:
        release.set()
    assert approved["response_code"] == "00"
    assert created_event(cc, approved["id"])["decision"] == "webhook_timeout"
    assert cc.balances("aigerim")["KZT"] == before["KZT"] - 5_000_00
    cc.verify()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_and_a_500_are_webhook_errors(cc_client, cc, app_):
    operator = auth(cc.keys["operator"])
    answer = cc_client.put("/api/v1/card-programme/decision", headers=operator,
                           json={"url": f"http://127.0.0.1:{_closed_port()}/decide", "stand_in": "decline"})
    assert answer.status_code == 200 and answer.json["secret"].startswith("whsec_")
    before = cc.balances("aigerim")
    refused = buy(cc_client, cc, "g-7", 5_000_00)
    assert refused["response_code"] == "91" and "ConnectionRefused" in refused["reason"]
    event = created_event(cc, refused["id"])
    assert event["decision"] == "webhook_error" and "ConnectionRefused" in event["decision_detail"]
    assert cc.balances("aigerim") == before
    app_.decide = lambda data: (500, {"oops": True})
    set_programme_app(cc_client, cc, app_, stand_in="approve_with_sandbox_rules")
    approved = buy(cc_client, cc, "g-8", 5_000_00)
    assert approved["response_code"] == "00" and len(app_.requests) == 1
    event = created_event(cc, approved["id"])
    assert event["decision"] == "webhook_error" and event["decision_detail"] == "HTTP 500"
    # a 2xx that is not a decision is an error too
    app_.decide = lambda data: (200, {"approved": "yes"})
    odd = buy(cc_client, cc, "g-9", 5_000_00)
    assert odd["response_code"] == "00" and created_event(cc, odd["id"])["decision"] == "webhook_error"
    cc.verify()


def test_the_tenge_only_stand_in_switches_the_funding_source(cc_client, cc, app_):
    """Marqeta's Commando Mode: with the app failing, the stand-in funds purchases from the bank account's
    tenge alone — approved with nothing sold while the tenge covers it, 51 (nothing sold, nothing held)
    when it does not, though her crypto could have paid."""
    app_.decide = lambda data: (503, {"down": True})
    set_programme_app(cc_client, cc, app_, stand_in="tenge_only")
    start = cc.balances("aigerim")
    small = buy(cc_client, cc, "c-1", 5_000_00)
    assert small["response_code"] == "00"
    event = created_event(cc, small["id"])
    assert event["decision"] == "webhook_error" and event["decision_detail"] == "stand-in tenge only: HTTP 503"
    before = cc.balances("aigerim")
    assert before == {**start, "KZT": start["KZT"] - 5_000_00}   # her crypto untouched
    big = buy(cc_client, cc, "c-2", before["KZT"] + 1_00)
    assert big["response_code"] == "51" and "spends only the tenge" in big["reason"]
    assert cc.balances("aigerim") == before
    cc.verify()


def test_a_retried_purchase_never_asks_the_app_again(cc_client, cc, app_):
    app_.decide = lambda data: (200, {"approved": True})
    set_programme_app(cc_client, cc, app_)
    first = buy(cc_client, cc, "g-10", 5_000_00)
    again = buy(cc_client, cc, "g-10", 5_000_00)
    assert again == first and len(app_.requests) == 1
    cc.verify()


def test_a_purchase_the_sandbox_declines_itself_never_reaches_the_app(cc_client, cc, app_):
    set_programme_app(cc_client, cc, app_)
    # bob has basic KYC: 50 000 KZT per purchase at most (61 before any app is asked)
    declined = buy(cc_client, cc, "g-11", 60_000_00, actor="bob")
    assert declined["response_code"] == "61" and app_.requests == []
    assert created_event(cc, declined["id"])["decision"] is None
    cc.verify()


def test_a_cards_own_app_overrides_the_programmes(cc_client, cc, app_):
    programme_app = DecisionApp(decide=lambda data: (200, {"approved": False}))
    try:
        set_programme_app(cc_client, cc, programme_app)
        card_id = cc.info["aigerim"]["card_id"]
        answer = cc_client.put(f"/api/v1/cards/{card_id}/decision", json={"url": app_.url},
                               headers=auth(cc.keys["operator"]))
        assert answer.status_code == 200 and answer.json["scope"] == f"card:{card_id}"
        app_.secret = answer.json["secret"]
        shown = cc_client.get(f"/api/v1/cards/{card_id}/decision", headers=auth(cc.keys["operator"]))
        assert shown.status_code == 200 and "secret" not in shown.json and shown.json["url"] == app_.url
        assert buy(cc_client, cc, "g-12", 5_000_00)["response_code"] == "00"          # the card's app approves
        assert buy(cc_client, cc, "g-13", 5_000_00, actor="bob")["response_code"] == "05"  # the programme's declines
        assert len(app_.requests) == 1 and len(programme_app.requests) == 1
        gone = cc_client.delete(f"/api/v1/cards/{card_id}/decision", headers=auth(cc.keys["operator"]))
        assert gone.status_code == 204
        assert buy(cc_client, cc, "g-14", 5_000_00)["response_code"] == "05"
    finally:
        programme_app.close()
    cc.verify()


def test_only_the_operator_sets_decision_urls_and_bad_ones_are_refused(cc_client, cc):
    for role in ("aigerim", "coffee", "regulator"):
        answer = cc_client.put("/api/v1/card-programme/decision", json={"url": "http://127.0.0.1:9/x"},
                               headers=auth(cc.keys[role]))
        assert answer.status_code == 403, role
    operator = auth(cc.keys["operator"])
    for body in ({"url": "ftp://x/y"}, {"url": "http://127.0.0.1:9/x", "deadline_ms": 100},
                 {"url": "http://127.0.0.1:9/x", "stand_in": "approve"}, {"url": "http://127.0.0.1:9/x",
                                                                          "secret": "not-a-secret"}):
        answer = cc_client.put("/api/v1/card-programme/decision", json=body, headers=operator)
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json", body
    unset = cc_client.get("/api/v1/card-programme/decision", headers=operator)
    assert unset.status_code == 200 and unset.json["url"] is None
    assert cc_client.put("/api/v1/cards/999999/decision", json={"url": "http://127.0.0.1:9/x"},
                         headers=operator).status_code == 404


def _waiting_purchase(cc_app, cc, key, amount_minor, actor):
    """Start a purchase on its own thread (its own client); returns (thread, answers list)."""
    answers: list = []

    def run():
        answers.append(buy(cc_app.test_client(), cc, key, amount_minor, actor=actor))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, answers


def _held_app(card_id):
    """A decision app that holds the first request for ``card_id`` until released; answers others at once."""
    arrived, release = threading.Event(), threading.Event()

    def decide(data):
        if data["card"]["id"] == card_id and not arrived.is_set():
            arrived.set()
            release.wait(10.0)
        return 200, {"approved": True}
    return decide, arrived, release


def test_another_cards_purchase_completes_while_one_waits_for_the_app(cc_app, cc_client, cc, app_):
    app_.decide, arrived, release = _held_app(cc.info["aigerim"]["card_id"])
    set_programme_app(cc_client, cc, app_, deadline_ms=3000)
    waiting, answers = _waiting_purchase(cc_app, cc, "slow-1", 5_000_00, "aigerim")
    try:
        assert arrived.wait(10.0)
        # aigerim's purchase is waiting for the app: no lock or transaction is open, so bob's completes
        other = buy(cc_client, cc, "fast-1", 3_000_00, actor="bob")
        assert other["response_code"] == "00" and waiting.is_alive()
    finally:
        release.set()
    waiting.join(10.0)
    [slow] = answers
    # the app answered her purchase after bob's had completed: it was decided by the app, not a stand-in
    assert slow["response_code"] == "00" and created_event(cc, slow["id"])["decision"] == "webhook_approved"
    cc.verify()


def test_a_second_purchase_on_the_same_card_is_not_blocked_and_the_first_is_rechecked(cc_app, cc_client, cc, app_):
    """The rule: nothing is locked while the app decides, so a second purchase on the same card is decided
    on its own and may complete first; the waiting purchase's write transaction re-checks the balance
    and limits, so the money is never spent twice — here it declines 51 (the second took what was there)."""
    app_.decide, arrived, release = _held_app(cc.info["bob"]["card_id"])
    set_programme_app(cc_client, cc, app_, deadline_ms=3000)
    waiting, answers = _waiting_purchase(cc_app, cc, "slow-2", 45_000_00, "bob")
    try:
        assert arrived.wait(10.0)
        second = buy(cc_client, cc, "fast-2", 45_000_00, actor="bob")   # bob: 20 000 KZT and 100 USDT
        assert second["response_code"] == "00" and waiting.is_alive()
    finally:
        release.set()
    waiting.join(10.0)
    [first] = answers
    assert first["response_code"] == "51" and created_event(cc, first["id"])["decision"] == "webhook_approved"
    assert len(app_.requests) == 2
    cc.verify()


@pytest.fixture
def cc_partial(cc, tmp_path):
    """The ``cc`` city (its database) served with the programme's ``partial_approval: true``."""
    from sandbox.city import CryptoCity
    cfg = cc.ctx.cfg
    cfg = cfg.model_copy(update={"card": cfg.card.model_copy(update={"partial_approval": True})})
    city = CryptoCity.from_config(cfg, db=f"sqlite:///{tmp_path / 'city.db'}", seed=cc.ctx.seed)
    city.keys, city.info = cc.keys, cc.info
    yield city
    city.close()


def test_a_programme_with_partial_approval_approves_what_tenge_and_crypto_can_fund(cc_partial):
    from sandbox.web import create_app
    cc = cc_partial
    client = create_app(cc, {"TESTING": True}).test_client()
    first = buy(client, cc, "p-1", 45_000_00, actor="bob")
    assert first["response_code"] == "00"
    left = cc.balances("bob")
    second = buy(client, cc, "p-2", 45_000_00, actor="bob")
    assert second["approved"] and second["response_code"] == "10" and second["reason"] == "partial approval"
    assert left["KZT"] < second["amount_minor"] < 45_000_00
    after = cc.balances("bob")
    assert after["USDT"] < left["USDT"] and after["KZT"] == 0
    event = created_event(cc, second["id"])
    assert event["requested_minor"] == 45_000_00 and event["decision"] is None
    cc.verify()


def test_listen_decide_lets_a_local_function_decide(cc, cc_client, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from sandbox.web import create_app
    from web_support import serve
    script = tmp_path / "rules.py"
    script.write_text("def decide(request):\n"
                      "    small = request['amount_minor'] <= 10_000_00\n"
                      "    return {'approved': small, 'metadata': {'rule': 'at most 10 000 KZT'}}\n")
    server = serve(create_app(cc, {"TESTING": True}))
    base = next(server)
    try:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "cryptocity"), "listen", "--decide", str(script),
                                 "--server", base, "--key", cc.keys["operator"], "--max-events", "2"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = proc.stderr.readline()
        assert "Ready!" in ready and "whsec_" in ready, ready
        small = buy(cc_client, cc, "l-1", 5_000_00)
        large = buy(cc_client, cc, "l-2", 20_000_00)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        next(server, None)
    assert small["response_code"] == "00" and large["response_code"] == "05"
    assert created_event(cc, small["id"])["decision_metadata"] == {"rule": "at most 10 000 KZT"}
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].endswith("5 000.00 KZT → approved") and lines[1].endswith("→ declined")
    # on exit the registration is removed: the programme asks nobody again
    assert cc_client.get("/api/v1/card-programme/decision", headers=auth(cc.keys["operator"])).json["url"] is None
    cc.verify()


def test_the_facade_asks_the_app_too(cc, app_):
    app_.decide = lambda data: (200, {"approved": True, "amount_minor": 2_000_00})
    app_.secret = cc.set_decision_url(app_.url, deadline_ms=1000)
    res = cc.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=3_000_00, ref="facade-1")
    assert res.status == "approved" and res.response_code == "10" and res.amount_minor == 2_000_00
    assert (res.decision, res.requested_minor) == ("webhook_approved", 3_000_00)
    assert app_.requests[0]["data"]["reference"] == "facade-1"
    again = cc.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=3_000_00, ref="facade-1")
    assert again.replayed and len(app_.requests) == 1
    assert cc.remove_decision_url() and not cc.remove_decision_url()
    assert cc.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=3_000_00, ref="facade-2").response_code == "00"
    assert len(app_.requests) == 1
    cc.verify()


@pytest.mark.postgres
def test_on_postgresql_a_waiting_purchase_holds_no_lock(pg_url, app_):
    """The same as above on PostgreSQL (row locks, advisory locks): while the app holds aigerim's purchase,
    a purchase on another card and a second one on her own card both complete; hers is then re-checked."""
    from sandbox.city import CryptoCity
    from sandbox.services import customers
    city = CryptoCity.from_config("crypto-city", db=pg_url, seed=7)
    try:
        city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 20_000_00})
        city.onboard(actor="bob", kyc_tier="full", deposits={"KZT": 20_000_00})
        card = city.read(lambda ctx, uow: customers.require(uow, "aigerim").card_id)
        app_.decide, arrived, release = _held_app(card)
        app_.secret = city.set_decision_url(app_.url, deadline_ms=3000)
        answers: list = []
        waiting = threading.Thread(target=lambda: answers.append(city.pay(
            actor="aigerim", merchant="alatau-coffee", amount_minor=15_000_00, ref="pg-slow")), daemon=True)
        waiting.start()
        try:
            assert arrived.wait(10.0)
            other = city.pay(actor="bob", merchant="alatau-coffee", amount_minor=3_000_00, ref="pg-other")
            same = city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=15_000_00, ref="pg-same")
            assert other.response_code == "00" and same.response_code == "00" and waiting.is_alive()
        finally:
            release.set()
        waiting.join(10.0)
        [slow] = answers
        assert slow.response_code == "51"   # 20 000 KZT, no crypto: the second 15 000 took what was there
        city.verify()
    finally:
        city.close()


def test_a_merchant_never_sees_how_the_app_decided(cc_client, cc, app_):
    app_.decide = lambda data: (200, {"approved": True, "metadata": {"risk": "low"}})
    set_programme_app(cc_client, cc, app_)
    sale = buy(cc_client, cc, "g-15", 5_000_00)
    seen = {}
    for key in ("coffee", "aigerim", "operator"):
        page = cc_client.get("/api/v1/events?type=authorization.created", headers=auth(cc.keys[key])).json
        [seen[key]] = [e["data"] for e in page["items"] if e["data"]["authorization_id"] == sale["id"]]
    assert not {"decision", "decision_detail", "decision_metadata"} & set(seen["coffee"])
    assert seen["aigerim"]["decision"] == "webhook_approved" and "decision_metadata" not in seen["aigerim"]
    assert seen["operator"]["decision_metadata"] == {"risk": "low"}
    cc.verify()
