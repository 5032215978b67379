"""Webhooks end to end: endpoints over the API, real HTTP deliveries to a receiver on loopback that
verifies every signature with ``standardwebhooks``, in order per endpoint, retried with backoff,
disabled after repeated failure, resent by hand, shared by several dispatchers through database leases,
surviving a dispatcher killed with -9, and ``cryptocity listen`` forwarding the stream."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger import Database, Ledger
from sandbox import events
from sandbox.webhooks import Dispatcher
from sandbox.webhooks import endpoints as webhook_endpoints
from web_support import auth, serve
from webhook_support import Receiver

BIN = Path(sys.executable).parent
PURCHASE = "/api/v1/merchants/alatau-coffee/authorizations"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def create_endpoint(client, token, url, key="we-1", **body):
    response = client.post("/api/v1/webhook-endpoints", json={"url": url, **body},
                           headers=auth(token, **{"Idempotency-Key": key}))
    assert response.status_code == 201, response.json
    return response.json


def buy(client, cc, n, amount_minor=1_000_00, prefix="p"):
    for i in range(n):
        response = client.post(PURCHASE, json={"card_id": cc.info["aigerim"]["card_id"], "amount_minor": amount_minor},
                               headers=auth(cc.keys["coffee"], **{"Idempotency-Key": f"{prefix}-{i}"}))
        assert response.status_code == 201, response.json


def event_ids(client, token, types="authorization.created"):
    page = client.get(f"/api/v1/events?type={types}&limit=100", headers=auth(token)).json
    return [e["id"] for e in page["items"]]


def deliveries(client, token, endpoint_id):
    return client.get(f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries?limit=200", headers=auth(token)).json["items"]


def test_every_delivery_is_signed_and_arrives_once_in_order(cc_client, cc, receiver):
    op = cc.keys["operator"]
    created = create_endpoint(cc_client, op, receiver.url, events=["authorization.*"], description="my shop")
    assert created["secret"].startswith("whsec_") and created["status"] == "enabled"
    receiver.secret = created["secret"]
    # the secret is shown once: never again in a read
    assert "secret" not in cc_client.get(f"/api/v1/webhook-endpoints/{created['id']}", headers=auth(op)).json
    assert all("secret" not in e for e in cc_client.get("/api/v1/webhook-endpoints", headers=auth(op)).json["items"])
    buy(cc_client, cc, 5)
    assert receiver.received == []   # nothing is sent on the request path
    Dispatcher(cc.ledger).run_until_idle(timeout_s=30)

    expected = event_ids(cc_client, op)
    assert len(expected) == 5
    assert [r.webhook_id for r in receiver.received] == expected      # each once, in order
    assert all(r.payload is not None for r in receiver.received)     # every signature verified
    first = receiver.received[0].payload
    assert first["id"] == expected[0] and first["type"] == "authorization.created"
    assert first["data"]["response_code"] == "00" and first["request"]["idempotency_key"] == "p-0"
    log = deliveries(cc_client, op, created["id"])
    assert [(d["event_id"], d["status"], d["attempts"]) for d in log] == [(e, "succeeded", 1) for e in expected]
    attempt = log[0]["attempt_log"][0]
    assert attempt["status_code"] == 200 and attempt["latency_ms"] >= 0 and attempt["error"] is None
    assert cc_client.get(f"/api/v1/webhook-endpoints/{created['id']}", headers=auth(op)).json["deliveries"] == \
        {"succeeded": 5}
    cc.verify()


def test_a_failing_receiver_is_retried_with_backoff_and_order_holds(cc_client, cc, receiver):
    op = cc.keys["operator"]
    created = create_endpoint(cc_client, op, receiver.url, events=["authorization.created"])
    receiver.secret = created["secret"]
    receiver.answers = [500, 503]                 # the first event fails twice, then the app recovers
    buy(cc_client, cc, 3)
    Dispatcher(cc.ledger, schedule=(0, 0.3, 0.6)).run_until_idle(timeout_s=30)

    expected = event_ids(cc_client, op)
    assert [(r.webhook_id, r.status) for r in receiver.received] == \
        [(expected[0], 500), (expected[0], 503), (expected[0], 200), (expected[1], 200), (expected[2], 200)]
    assert all(r.payload is not None for r in receiver.received)
    head = deliveries(cc_client, op, created["id"])[0]
    assert head["status"] == "succeeded" and head["attempts"] == 3
    assert [a["status_code"] for a in head["attempt_log"]] == [500, 503, 200]
    starts = [_time(a["started_at"]) for a in head["attempt_log"]]
    assert starts[1] - starts[0] >= 0.3 and starts[2] - starts[1] >= 0.6   # the schedule's backoff
    # the same webhook-id on every retry: the receiver can drop duplicates
    assert {r.webhook_id for r in receiver.received[:3]} == {expected[0]}
    cc.verify()


def _time(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text).timestamp()


def test_an_endpoint_that_fails_every_attempt_is_disabled_until_enabled(cc_client, cc, receiver):
    op = cc.keys["operator"]
    created = create_endpoint(cc_client, op, receiver.url)
    receiver.secret, receiver.default = created["secret"], 500
    buy(cc_client, cc, 2)
    dispatcher = Dispatcher(cc.ledger, schedule=(0, 0.05, 0.05))
    dispatcher.run_until_idle(timeout_s=30)

    endpoint = cc_client.get(f"/api/v1/webhook-endpoints/{created['id']}", headers=auth(op)).json
    assert endpoint["status"] == "disabled" and "failed all 3 attempts" in endpoint["disabled_reason"]
    log = deliveries(cc_client, op, created["id"])
    assert [(d["status"], d["attempts"]) for d in log] == [("failed", 3), ("pending", 0)]
    assert [a["error"] for a in log[0]["attempt_log"]] == ["HTTP 500"] * 3
    assert len(receiver.received) == 3            # the second event waited behind the first
    buy(cc_client, cc, 1, prefix="later")
    dispatcher.run_once()
    assert len(receiver.received) == 3            # a disabled endpoint gets nothing

    receiver.default = 200
    enabled = cc_client.post(f"/api/v1/webhook-endpoints/{created['id']}/enable",
                             headers=auth(op, **{"Idempotency-Key": "enable-1"}))
    assert enabled.status_code == 200 and enabled.json["status"] == "enabled"
    dispatcher.run_until_idle(timeout_s=30)
    expected = event_ids(cc_client, op)
    assert receiver.ok_ids() == expected[1:]      # the waiting ones resume, in order; the failed one stays failed


def test_resend_sends_the_event_again_with_its_webhook_id(cc_client, cc, receiver):
    op = cc.keys["operator"]
    created = create_endpoint(cc_client, op, receiver.url)
    receiver.secret = created["secret"]
    buy(cc_client, cc, 1)
    dispatcher = Dispatcher(cc.ledger)
    dispatcher.run_until_idle(timeout_s=30)
    [first] = deliveries(cc_client, op, created["id"])
    resent = cc_client.post(f"/api/v1/webhook-endpoints/{created['id']}/deliveries/{first['id']}/resend",
                            headers=auth(op, **{"Idempotency-Key": "resend-1"}))
    assert resent.status_code == 202 and resent.json["status"] == "pending" and resent.json["resend_of"] == first["id"]
    assert len(receiver.received) == 1            # queued, not sent on the request path
    dispatcher.run_until_idle(timeout_s=30)
    assert [r.webhook_id for r in receiver.received] == [first["event_id"]] * 2
    assert receiver.received[1].payload == receiver.received[0].payload
    missing = cc_client.post(f"/api/v1/webhook-endpoints/{created['id']}/deliveries/999/resend",
                             headers=auth(op, **{"Idempotency-Key": "resend-2"}))
    assert missing.status_code == 404 and missing.json["code"] == "webhook_delivery_not_found"


def test_the_api_refuses_bad_endpoints_and_other_roles(cc_client, cc, receiver):
    op = cc.keys["operator"]
    for body, field in (({"url": "ftp://example.org/x"}, "http"), ({"url": receiver.url, "events": ["nope.*"]}, "nope"),
                        ({"url": receiver.url, "events": ["authorization.made"]}, "authorization.made")):
        response = cc_client.post("/api/v1/webhook-endpoints", json=body,
                                  headers=auth(op, **{"Idempotency-Key": f"bad-{field}"}))
        assert response.status_code == 422 and field in response.json["detail"], response.json
    merchant = cc_client.post("/api/v1/webhook-endpoints", json={"url": receiver.url},
                              headers=auth(cc.keys["coffee"], **{"Idempotency-Key": "m-1"}))
    assert merchant.status_code == 403
    assert cc_client.get("/api/v1/webhook-endpoints", headers=auth(cc.keys["regulator"])).status_code == 200
    created = create_endpoint(cc_client, op, receiver.url)
    assert cc_client.delete(f"/api/v1/webhook-endpoints/{created['id']}", headers=auth(op)).status_code == 204
    assert cc_client.get(f"/api/v1/webhook-endpoints/{created['id']}", headers=auth(op)).status_code == 404
    buy(cc_client, cc, 1)
    Dispatcher(cc.ledger).run_until_idle(timeout_s=30)
    assert receiver.received == []                # a deleted endpoint gets nothing


# -- several dispatchers, one database ----------------------------------------------------------------
def _emit(ledger, n: int) -> None:
    for i in range(n):
        with ledger.unit_of_work() as uow:
            events.emit(uow, "clock.advanced", {"step": i})
            uow.commit()


def _endpoint(ledger, url: str) -> dict:
    with ledger.unit_of_work() as uow:
        created = webhook_endpoints.create(uow, url=url, events=["*"])
        uow.commit()
    return created


@pytest.mark.slow
def test_three_dispatchers_deliver_each_event_once_in_order(db_url, clock):
    db = Database(db_url)
    db.migrate()
    receivers = [Receiver(), Receiver()]
    try:
        ledger = Ledger(db, clock)
        for r in receivers:
            r.secret = _endpoint(ledger, r.url)["secret"]
        dispatchers = [Dispatcher(Ledger(Database(db_url), clock), poll_s=0.02).start(1) for _ in range(3)]
        try:
            _emit(ledger, 40)   # while the three are running
            for r in receivers:
                r.wait_for(40)
        finally:
            for d in dispatchers:
                d.stop()
                d.ledger.db.dispose()
        with ledger.unit_of_work(read_only=True) as uow:
            expected = [e.id for e in events.read(uow.conn, after=0, limit=100)]
        for r in receivers:
            assert [x.webhook_id for x in r.received] == expected   # each exactly once, in order
            assert all(x.payload is not None for x in r.received)
    finally:
        for r in receivers:
            r.close()
        db.dispose()


@pytest.mark.slow
def test_a_dispatcher_killed_mid_delivery_loses_no_event(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'city.db'}"
    db = Database(url)
    db.migrate()
    ledger = Ledger(db, clock)
    receiver = Receiver(delay_s=0.2)
    try:
        receiver.secret = _endpoint(ledger, receiver.url)["secret"]
        _emit(ledger, 15)
        command = [str(BIN / "cryptocity"), "webhooks", "dispatch", "--db", url, "--timeout", "1", "--lease", "2"]
        first = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 30
        while len(receiver.received) < 3:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)      # mid-batch: what it sent is not recorded
        first.wait()
        second = subprocess.Popen(command, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            with ledger.unit_of_work(read_only=True) as uow:
                expected = [e.id for e in events.read(uow.conn, after=0, limit=100)]
            deadline = time.monotonic() + 60
            while set(receiver.ok_ids()) != set(expected):
                assert time.monotonic() < deadline, f"missing {set(expected) - set(receiver.ok_ids())}"
                time.sleep(0.05)
        finally:
            second.terminate()
            second.wait(timeout=20)
        ids = receiver.ok_ids()
        assert all(r.payload is not None for r in receiver.received)
        first_seen = list(dict.fromkeys(ids))
        assert first_seen == expected                          # nothing lost, first arrivals in order
        assert len(ids) > len(expected) or len(ids) == len(expected)   # duplicates are allowed, ids tell them apart
    finally:
        receiver.close()
        db.dispose()


# -- cryptocity listen ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_listen_forwards_signed_events_to_a_local_app(cc, cc_client, receiver):
    from sandbox.web import create_app
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    receiver.secret = secret
    # streams end after a second here: listen reconnects with Last-Event-ID and misses nothing
    server = serve(create_app(cc, {"TESTING": True, "EVENTS_STREAM_SECONDS": 1.0}))
    base = next(server)
    try:
        buy(cc_client, cc, 1, prefix="before")   # an event before listen starts: not forwarded
        proc = subprocess.Popen([str(BIN / "cryptocity"), "listen", "--forward-to", receiver.url, "--server", base,
                                 "--key", cc.keys["operator"], "--secret", secret, "--events", "authorization.created",
                                 "--max-events", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = proc.stderr.readline()
        assert "Ready!" in ready and secret in ready, ready
        buy(cc_client, cc, 1, prefix="after")
        time.sleep(2.5)                           # the stream ended and listen reconnected meanwhile
        buy(cc_client, cc, 1, prefix="later")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        expected = event_ids(cc_client, cc.keys["operator"])[1:]
        assert out.splitlines() == [f"{e} authorization.created → 200" for e in expected]
        assert [r.webhook_id for r in receiver.received] == expected
        assert all(r.payload is not None and r.payload["type"] == "authorization.created" for r in receiver.received)
    finally:
        next(server, None)


@pytest.mark.slow
@pytest.mark.postgres
def test_three_gunicorn_workers_deliver_each_event_once(pg_url, tmp_path, receiver):
    import json
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([str(BIN / "cryptocity"), "serve", "--db", pg_url, "--workers", "3", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def call(method, path, body=None, key=None):
        request = urllib.request.Request(base + path, method=method, data=None if body is None else
                                         json.dumps(body).encode(), headers={
                                             "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                             **({"Idempotency-Key": key} if key else {})})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own server
            return json.loads(response.read() or b"null")

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(base + "/readyz", timeout=5)  # noqa: S310
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        token = subprocess.run([str(BIN / "cryptocity"), "keys", "create", "operator", "--db", pg_url],
                               capture_output=True, text=True, check=True).stdout.strip()
        receiver.secret = call("POST", "/api/v1/webhook-endpoints", {"url": receiver.url, "events": ["clock.*"]},
                               key="we")["secret"]
        for n in range(30):   # each request lands on whichever worker; each worker runs its own dispatcher
            call("POST", "/api/v1/clock/advance", {"seconds": 60}, key=f"tick-{n}")
        expected = [e["id"] for e in call("GET", "/api/v1/events?type=clock.advanced&limit=100")["items"]]
        assert len(expected) == 30
        receiver.wait_for(30, timeout_s=60)
        time.sleep(1)   # a duplicate would arrive now
        assert [r.webhook_id for r in receiver.received] == expected   # once each, in order
        assert all(r.payload is not None for r in receiver.received)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


# -- the dashboard -------------------------------------------------------------------------------------
def _form_field(html: str, name: str) -> str:
    import re
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


def test_the_dashboard_feed_streams_the_events_after_the_page_was_rendered(cc, cc_client):
    from sandbox.web import create_app
    client = create_app(cc, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()
    buy(cc_client, cc, 1, prefix="before")
    for page in ("/", "/pos"):
        html = client.get(page).get_data(as_text=True)
        assert 'id="event-feed"' in html and "live-feed.js" in html and "authorization.created" in html
    src = _form_field(client.get("/").get_data(as_text=True).replace('data-src="', 'name="src" value="'), "src")
    src = src.replace("&amp;", "&")
    assert client.get("/static/live-feed.js").status_code == 200
    buy(cc_client, cc, 1, prefix="after")
    stream = client.get(src + "&max_seconds=0.5").get_data(as_text=True)
    [after_id] = event_ids(cc_client, cc.keys["operator"])[1:]
    assert f"id: {after_id}\nevent: authorization.created\n" in stream
    assert stream.count("event: authorization.created") == 1        # the one from before the page is not replayed
    # a customer's dashboard feed carries only that customer's events
    bob = create_app(cc, {"TESTING": True, "OPEN_DASHBOARD": False}).test_client()
    mine = bob.get("/live/events?max_seconds=0.3", headers=auth(cc.keys["bob"])).get_data(as_text=True)
    assert after_id not in mine


def test_the_webhooks_page_creates_lists_and_resends(cc, cc_client, receiver):
    from sandbox.web import create_app
    client = create_app(cc, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()
    page = client.get("/webhooks").get_data(as_text=True)
    assert "No endpoint yet" in page and "Webhooks" in page
    csrf = _form_field(page, "csrf")
    created = client.post("/webhooks", data={"csrf": csrf, "action": "create", "url": receiver.url,
                                             "events": ["authorization.created"], "description": "till"})
    html = created.get_data(as_text=True)
    assert created.status_code == 201 and 'id="new-secret"' in html
    import re
    receiver.secret = re.search(r'<code class="secret">(whsec_[^<]+)</code>', html).group(1)
    buy(cc_client, cc, 1)
    Dispatcher(cc.ledger).run_until_idle(timeout_s=30)
    listing = client.get("/webhooks").get_data(as_text=True)
    assert receiver.url in listing and "1 succeeded" in listing and "whsec_" not in listing
    assert "200</span>" in listing and " ms</div>" in listing
    delivery = re.search(r'name="delivery" value="(\d+)"', listing).group(1)
    resent = client.post("/webhooks", data={"csrf": csrf, "action": "resend", "endpoint": "1", "delivery": delivery})
    assert resent.status_code == 303
    Dispatcher(cc.ledger).run_until_idle(timeout_s=30)
    assert len(receiver.ok_ids()) == 2 and len(set(receiver.ok_ids())) == 1
    assert "(resend of 1)" in client.get("/webhooks?show=1").get_data(as_text=True)
    # a customer key may not see the page
    closed = create_app(cc, {"TESTING": True, "OPEN_DASHBOARD": False}).test_client()
    assert closed.get("/webhooks", headers=auth(cc.keys["bob"])).status_code == 403


def test_webhooks_receive_prints_verified_deliveries_and_refuses_forged_ones():
    import json
    import socket
    import urllib.error
    import urllib.request

    from sandbox.webhooks import signing
    secret, other = signing.new_secret(), signing.new_secret()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(BIN / "cryptocity"), "webhooks", "receive", "--port", str(port), "--secret", secret,
                             "--max-events", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "receiving on" in proc.stderr.readline()
        body = json.dumps({"id": "evt_0000000000000007", "type": "clock.advanced", "data": {}})

        def post(key):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks", data=body.encode(), method="POST",
                                             headers=signing.headers(key, "evt_0000000000000007", body))
            try:
                return urllib.request.urlopen(request, timeout=10).status  # noqa: S310 - loopback
            except urllib.error.HTTPError as error:
                return error.code
        assert post(other) == 400          # signed with another secret
        assert post(secret) == 200
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.splitlines() == ["evt_0000000000000007 signature NOT verified (No matching signature found) → 400",
                                "evt_0000000000000007 clock.advanced verified"]


def test_a_filter_skips_a_long_run_of_other_events_in_one_pass(sqlite_url, clock, receiver):
    db = Database(sqlite_url)
    db.migrate()
    try:
        ledger = Ledger(db, clock)
        with ledger.unit_of_work() as uow:
            receiver.secret = webhook_endpoints.create(uow, url=receiver.url, events=["licence.*"])["secret"]
            uow.commit()
        with ledger.unit_of_work() as uow:
            for i in range(450):
                events.emit(uow, "clock.advanced", {"step": i})
            events.emit(uow, "licence.suspended", {"licence": "AFSA-TF-001"})
            uow.commit()
        stats = Dispatcher(ledger).run_once()
        assert stats.delivered == 1 and [r.payload["type"] for r in receiver.received] == ["licence.suspended"]
    finally:
        db.dispose()


def test_dispatch_once_delivers_what_is_due_and_exits(sqlite_url, clock, receiver):
    db = Database(sqlite_url)
    db.migrate()
    try:
        ledger = Ledger(db, clock)
        receiver.secret = _endpoint(ledger, receiver.url)["secret"]
        _emit(ledger, 3)
        done = subprocess.run([str(BIN / "cryptocity"), "webhooks", "dispatch", "--once", "--db", sqlite_url],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "delivered 3, failed attempts 0, endpoints served 1"
        assert len(receiver.ok_ids()) == 3 and all(r.payload is not None for r in receiver.received)
    finally:
        db.dispose()
