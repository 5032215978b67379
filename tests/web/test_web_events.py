"""The event log over HTTP: a page of events scoped by role, paging with ``after``/``limit``, the request
that caused each event, replays that write nothing, and the Server-Sent Events stream that a client
leaves and resumes with ``Last-Event-ID`` without missing an event (a real server on loopback)."""
from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlparse

import pytest

from sandbox.web import create_app
from web_support import auth, serve


def _pay(client, token, key, amount_minor=1_500_00, merchant="alatau-coffee", card_id=1, request_id=None):
    headers = auth(token, **{"Idempotency-Key": key})
    if request_id:
        headers["X-Request-Id"] = request_id
    return client.post(f"/api/v1/merchants/{merchant}/authorizations", json={"card_id": card_id,
                                                                            "amount_minor": amount_minor},
                       headers=headers)


def _events(client, token, **query):
    response = client.get("/api/v1/events", query_string=query, headers=auth(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _all(client, token, **query):
    out, after = [], None
    while True:
        page = _events(client, token, limit=100, **({"after": after} if after else {}), **query)
        out += page["items"]
        if page["next_after"] is None:
            return out
        after = page["next_after"]


def test_an_authorization_over_http_writes_one_event_with_its_request_and_a_replay_writes_none(cc, cc_client):
    op = cc.keys["operator"]
    before = _all(cc_client, op)
    first = _pay(cc_client, op, "pos-1", request_id="till-7-0001")
    assert first.status_code == 201 and first.headers["X-Request-Id"] == "till-7-0001"
    replay = _pay(cc_client, op, "pos-1")
    assert replay.headers.get("Idempotent-Replayed") == "true" and replay.get_json() == first.get_json()
    new = _all(cc_client, op)[len(before):]
    assert [e["type"] for e in new] == ["authorization.created"]
    assert new[0]["request"] == {"id": "till-7-0001", "idempotency_key": "pos-1"}
    assert new[0]["data"]["authorization_id"] == first.get_json()["id"]
    # a request without its own id gets one, echoed on the response
    other = _pay(cc_client, op, "pos-2", amount_minor=900_00)
    assert other.headers["X-Request-Id"].startswith("req_")
    assert _all(cc_client, op)[-1]["request"]["id"] == other.headers["X-Request-Id"]
    # a refused request (an unknown card) writes nothing
    assert _pay(cc_client, op, "pos-3", card_id=999).status_code in (201, 404, 422)
    cc.verify()


def test_each_role_sees_its_own_events(cc, cc_client):
    keys = cc.keys
    _pay(cc_client, keys["operator"], "coffee-1")                                   # aigerim at the café
    flagged = _pay(cc_client, keys["operator"], "tv-1", merchant="zone-market", amount_minor=210_000_00).get_json()
    assert flagged["approved"], flagged                                            # a large purchase: flagged
    _pay(cc_client, keys["operator"], "market-1", merchant="zone-market", card_id=2, amount_minor=500_00)  # bob
    everything = _all(cc_client, keys["operator"])
    assert _all(cc_client, keys["regulator"]) == everything
    assert {"customer.created", "card.created", "deposit.confirmed", "authorization.created"} <= \
        {e["type"] for e in everything}
    flags = [e for e in everything if e["type"] == "aml.flag_raised"]
    assert [(f["data"]["rule"], f["data"]["customer"]) for f in flags] == [("large_transaction", "aigerim")]
    mine = _all(cc_client, keys["aigerim"])
    assert mine and all(e["data"].get("customer") == "aigerim" for e in mine)
    # her own events, but not the AML flag on her (no tipping-off), nor the flags on her purchases
    assert {e["id"] for e in mine} == {e["id"] for e in everything if e["data"].get("customer") == "aigerim"} - \
        {flags[0]["id"]}
    assert all("flags" not in e["data"] for e in mine)
    assert [e["data"]["sold"] != [] for e in mine if e["type"] == "authorization.created"] == [False, True]
    bobs = _all(cc_client, keys["bob"])
    assert bobs and not {e["id"] for e in bobs} & {e["id"] for e in mine}
    cafe = _all(cc_client, keys["coffee"])
    assert [(e["type"], e["data"]["merchant_id"], e["data"]["response_code"]) for e in cafe] == \
        [("authorization.created", "alatau-coffee", "00")]
    market = _all(cc_client, keys["market"])
    assert [(e["type"], e["data"]["amount_minor"]) for e in market] == [("authorization.created", 210_000_00),
                                                                         ("authorization.created", 500_00)]
    # a merchant sees what its POS sees: not who paid with which crypto, nor AML flags
    for e in cafe + market:
        assert not {"customer", "sold", "flags", "shortfall_minor", "conversion_fee_minor"} & set(e["data"])
    # a scoped key may not ask for someone else's events
    refused = cc_client.get("/api/v1/events?owner=bob", headers=auth(keys["aigerim"]))
    assert refused.status_code == 403
    assert cc_client.get("/api/v1/events").status_code == 401


def test_paging_with_after_and_limit_walks_the_log_once_in_order(cc, cc_client):
    op = cc.keys["operator"]
    for n in range(3):
        _pay(cc_client, op, f"page-{n}", amount_minor=100_00 + n)
    everything = _all(cc_client, op)
    ids = [e["id"] for e in everything]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    walked, after = [], None
    while True:
        page = _events(cc_client, op, limit=2, **({"after": after} if after else {}))
        assert len(page["items"]) <= 2
        walked += [e["id"] for e in page["items"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert walked == ids
    # polling from the last id: nothing new, and the cursor stays put
    tail = _events(cc_client, op, after=ids[-1])
    assert tail == {"items": [], "next_after": None, "last_id": ids[-1]}
    # filtered by type
    only = _all(cc_client, op, type="authorization.created,deposit.confirmed")
    assert {e["type"] for e in only} == {"authorization.created", "deposit.confirmed"}
    assert [e["data"]["amount_minor"] for e in only if e["type"] == "authorization.created"] == \
        [100_00, 100_01, 100_02]
    for bad, code in ((dict(after="12"), "invalid_event_id"), (dict(type="payment.made"), "unknown_event_type"),
                      (dict(limit=101), "validation_error")):
        response = cc_client.get("/api/v1/events", query_string=bad, headers=auth(op))
        assert response.status_code == 422 and response.get_json()["code"] == code, response.get_json()


# ------------------------------------------------------------------------------------------- the stream
class SseClient:
    """A minimal EventSource: reads ``id``/``event``/``data`` fields; remembers the last id."""

    def __init__(self, base: str, token: str, *, last_event_id: str | None = None, query: str = "") -> None:
        url = urlparse(base)
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/api/v1/events/stream" + query, headers=headers)
        self.response = self.conn.getresponse()
        assert self.response.status == 200, self.response.read()
        assert self.response.getheader("Content-Type").startswith("text/event-stream")
        self.comments: list[str] = []

    def next_event(self) -> dict | None:
        """The next event, or None when the server ended the stream."""
        fields: dict = {}
        while True:
            line = self.response.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if not line:
                if "data" in fields:
                    return fields
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(": ")
            fields[name] = value

    def close(self) -> None:
        self.conn.close()


def test_a_stream_client_that_leaves_and_resumes_with_last_event_id_misses_nothing(cc):
    op = cc.keys["operator"]
    app = create_app(cc, {"TESTING": True, "EVENTS_POLL_SECONDS": 0.05, "EVENTS_HEARTBEAT_SECONDS": 0.2,
                          "EVENTS_STREAM_SECONDS": 30})
    client = app.test_client()
    start = len(_all(client, op))
    for base in serve(app):
        first = SseClient(base, op)
        seen = []
        while len(seen) < start:                      # the log so far, from the first event
            event = first.next_event()
            seen.append(event)
        _pay(client, op, "live-1")                    # written while the client listens
        live = first.next_event()
        assert live["event"] == "authorization.created"
        assert json.loads(live["data"])["request"]["idempotency_key"] == "live-1"
        seen.append(live)
        first.close()                                 # the client goes away...
        for n in range(3):                            # ...and the city goes on
            _pay(client, op, f"while-away-{n}", amount_minor=200_00 + n)
        again = SseClient(base, op, last_event_id=seen[-1]["id"])
        for _ in range(3):
            seen.append(again.next_event())
        _pay(client, op, "after-resume")
        seen.append(again.next_event())
        again.close()
    numbers = [int(e["id"].removeprefix("evt_")) for e in seen]
    assert numbers == list(range(1, len(seen) + 1))   # every event once, in order, no gap
    assert [json.loads(e["data"])["data"]["amount_minor"] for e in seen[-4:]] == [200_00, 200_01, 200_02, 1_500_00]
    assert [e["id"] for e in seen] == [e["id"] for e in _all(client, op)]
    cc.verify()


def test_a_stream_is_scoped_sends_heartbeats_and_ends_after_its_lifetime(cc):
    app = create_app(cc, {"TESTING": True, "EVENTS_POLL_SECONDS": 0.05, "EVENTS_HEARTBEAT_SECONDS": 0.1,
                          "EVENTS_STREAM_SECONDS": 30})
    client = app.test_client()
    _pay(client, cc.keys["operator"], "scoped-1")
    for base in serve(app):
        started = time.monotonic()
        stream = SseClient(base, cc.keys["coffee"], query="?max_seconds=1")
        got = []
        while (event := stream.next_event()) is not None:
            got.append(event)
        stream.close()
        assert 0.9 <= time.monotonic() - started < 10       # the stream ended by itself
        assert [(e["event"], json.loads(e["data"])["data"]["merchant_id"]) for e in got] == \
            [("authorization.created", "alatau-coffee")]
        assert ": heartbeat" in stream.comments and any("reconnect with Last-Event-ID" in c for c in stream.comments)
    refused = client.get("/api/v1/events/stream", headers=auth(cc.keys["aigerim"], **{"Last-Event-ID": "nope"}))
    assert refused.status_code == 422 and refused.get_json()["code"] == "invalid_event_id"


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/events/stream"])
def test_the_event_endpoints_are_in_the_openapi_spec(cc_client, path):
    spec = cc_client.get("/openapi.json").get_json()
    assert "get" in spec["paths"][path]


def test_a_process_serves_a_bounded_number_of_streams(cc):
    app = create_app(cc, {"TESTING": True, "EVENTS_POLL_SECONDS": 0.05, "EVENTS_MAX_STREAMS": 1})
    for base in serve(app):
        first = SseClient(base, cc.keys["operator"], query="?max_seconds=2")
        busy = app.test_client().get("/api/v1/events/stream", headers=auth(cc.keys["operator"]))
        assert busy.status_code == 503 and busy.get_json()["code"] == "too_many_streams"
        assert busy.headers["Retry-After"] == "5"
        first.close()
        deadline = time.monotonic() + 10   # the server notices the client left at its next write
        while time.monotonic() < deadline:
            again = app.test_client().get("/api/v1/events/stream?max_seconds=0.1", headers=auth(cc.keys["operator"]))
            if again.status_code == 200:
                break
            time.sleep(0.2)
        assert again.status_code == 200
