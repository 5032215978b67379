"""Webhook deliveries a scenario can wait for and assert on, as a tester's app would see them.

A scenario's header names its receivers (``webhooks: {shop_app: {events: ["authorization.*"]}}``). Before
the first step the runner starts one loopback HTTP server for them, registers one real webhook endpoint
per receiver in the city (``/r/<name>`` on that server), and from then on every delivery the city makes
is received, its Standard Webhooks signature verified with the endpoint's secret, and recorded.

``webhooks:`` on a step (or in an ``expect`` step) then waits — up to the receiver's ``within_ms`` — until every
event the step wrote (or every event so far) that the receiver subscribes to has arrived, and matches
the deliveries against the patterns. In process the runner delivers by running the city's dispatcher
(real HTTP to the loopback server); against ``--server`` the server's own dispatcher does, so the
receiver's address must be one the server can reach (the loopback works when both run on one machine).
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

MAX_BODY_BYTES = 1024 * 1024
MAX_DELIVERIES = 10_000        # per receiver: a scenario that receives more is not one a person reads
POLL_S = 0.02


@dataclass
class Delivery:
    """One POST the receiver got: the event it carried and whether its signature verified."""
    event_id: str
    type: str
    data: dict
    verified: bool


@dataclass
class _Receiver:
    name: str
    events: list[str]
    answer: int
    endpoint_id: int | None = None
    verifier: Webhook | None = None
    deliveries: list[Delivery] = field(default_factory=list)


class Receivers:
    """The scenario's receivers on one loopback server, each registered as an endpoint of the city."""

    def __init__(self, specs: dict[str, Any], host: str = "127.0.0.1") -> None:
        self._receivers = {name: _Receiver(name, list(spec.events), spec.answer) for name, spec in specs.items()}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="scenario-webhooks", daemon=True)
        self._thread.start()
        self.base_url = f"http://{host}:{self._server.server_address[1]}"
        self._port: WebhookPort | None = None

    def register(self, port: "WebhookPort") -> None:
        """Create one endpoint per receiver in the city (its secret kept for verifying)."""
        self._port = port
        for receiver in self._receivers.values():
            created = port.create_endpoint(url=f"{self.base_url}/r/{receiver.name}", events=receiver.events,
                                           description=f"scenario receiver {receiver.name}")
            receiver.endpoint_id, receiver.verifier = created["id"], Webhook(created["secret"])

    def close(self) -> None:
        """Delete the endpoints (a server must not go on retrying to a receiver that is gone), then stop."""
        try:
            for receiver in self._receivers.values():
                if receiver.endpoint_id is not None and self._port is not None:
                    self._port.delete_endpoint(receiver.endpoint_id)
        finally:
            self._server.shutdown()
            self._server.server_close()

    def subscribes(self, name: str, event_type: str) -> bool:
        from sandbox.webhooks.dispatcher import matches
        return matches(self._receivers[name].events, event_type)

    def received(self, name: str) -> list[Delivery]:
        with self._lock:
            return list(self._receivers[name].deliveries)

    def deliveries_of(self, name: str, event_ids: list[str]) -> tuple[list[dict], int, int]:
        """The deliveries of ``event_ids`` in the events' order, each once with the number of POSTs it took
        so far (``{"id", "type", "data", "attempts"}``); how many have not arrived; how many POSTs did not
        verify."""
        wanted = set(event_ids)
        posts = [d for d in self.received(name) if d.event_id in wanted]
        first: dict[str, Delivery] = {}
        for d in posts:
            first.setdefault(d.event_id, d)
        attempts = Counter(d.event_id for d in posts)
        got = [{"id": i, "type": first[i].type, "data": first[i].data, "attempts": attempts[i]}
               for i in event_ids if i in first]
        return got, len(event_ids) - len(got), sum(1 for d in posts if not d.verified)

    def _record(self, name: str, headers: Any, body: bytes) -> int:
        receiver = self._receivers.get(name)
        if receiver is None or receiver.verifier is None:
            return 404
        try:
            receiver.verifier.verify(body, {k.lower(): v for k, v in headers.items()})
            verified = True
        except WebhookVerificationError:
            verified = False
        try:
            event = json.loads(body)
        except ValueError:
            return 400
        with self._lock:
            if len(receiver.deliveries) < MAX_DELIVERIES:
                receiver.deliveries.append(Delivery(str(event.get("id")), str(event.get("type")),
                                                    event.get("data") or {}, verified))
        return receiver.answer if verified else 400

    def _handler(self):
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive: the dispatcher reuses its connection

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    status = 413
                    self.rfile.read(length)
                else:
                    name = self.path.rstrip("/").rsplit("/", 1)[-1]
                    status = receivers._record(name, self.headers, self.rfile.read(length))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # a scenario's output is its report, not access logs
                pass

        return Handler


class WebhookPort:
    """How the runner registers endpoints and gets deliveries made, whatever the facade."""

    def __init__(self, facade: Any) -> None:
        self.facade = facade
        self._dispatcher = None
        if hasattr(facade, "create_webhook_endpoint"):          # the live facade: the server delivers
            self._create, self._delete = facade.create_webhook_endpoint, facade.delete_webhook_endpoint
        else:                                                   # in process: this process delivers
            from sandbox.webhooks import endpoints
            from sandbox.webhooks.dispatcher import Dispatcher

            def create(*, url: str, events: list[str], description: str) -> dict:
                return facade.ledger.transaction(lambda uow: endpoints.create(
                    uow, url=url, events=events, description=description))

            def delete(endpoint_id: int) -> None:
                facade.ledger.transaction(lambda uow: endpoints.delete(uow, endpoint_id))
            self._create, self._delete = create, delete
            # retries a moment apart, so an app answering 500 is retried while the scenario waits
            self._dispatcher = Dispatcher(facade.ledger, schedule=(0, 0.05, 0.1), poll_s=0.02)

    def create_endpoint(self, *, url: str, events: list[str], description: str) -> dict:
        """A new endpoint: ``{"id", "secret", …}``."""
        return self._create(url=url, events=events, description=description)

    def delete_endpoint(self, endpoint_id: int) -> None:
        self._delete(endpoint_id)

    def deliver(self) -> None:
        """Make what is due now (in process); a server delivers on its own."""
        if self._dispatcher is not None:
            self._dispatcher.run_once()

    def strip(self, value: Any) -> Any:
        """A delivered event as the file wrote its names (a live run's prefixes taken off)."""
        return self.facade.strip(value) if hasattr(self.facade, "strip") else value


# --- matching ------------------------------------------------------------------------------------------
def _matches(pattern: Any, delivery: dict) -> bool:
    from .matching import _event_matches, _number_checks
    if not _event_matches(pattern, delivery):
        return False
    return pattern.attempts is None or all(ok for _, _, ok in _number_checks("", pattern.attempts,
                                                                             delivery["attempts"], ""))


def match_deliveries(receivers: Receivers | None, port: WebhookPort | None, facade: Any, step: Any, expect: Any,
                     mark: Any, specs: dict[str, Any]) -> list:
    """``webhooks:`` (per receiver, these deliveries in this order, others may come between) and
    ``webhooks_exactly:``: for a step, the deliveries of the events it wrote; for an ``expect`` step, of
    every event so far. Like a tester waiting for a callback, it waits — up to the receiver's
    ``within_ms`` — until each such event the receiver subscribes to has arrived and the patterns match
    (a retried delivery's ``attempts`` grows meanwhile); a POST whose signature did not verify fails it."""
    from .matching import ExpectationResult, _error_text, wants_deliveries
    if not wants_deliveries(expect) or receivers is None or port is None:
        return []
    what = "webhooks for this step's events" if step.verb != "expect" else "webhooks so far"
    try:
        return _match_deliveries(step, expect, facade, mark, receivers, port, specs, what)
    except Exception as error:  # noqa: BLE001 - a failed read is a failed expectation, as for events
        return [ExpectationResult(what, "deliveries", _error_text(error), step.label, False)]


def _match_deliveries(step, expect, facade, mark, receivers, port, specs, what: str) -> list:
    from .matching import ExpectationResult, _events_after, _in_order, _shown, _wanted
    events = _events_after(facade, None if step.verb == "expect" else mark)
    out = []
    for exact, wanted in ((False, expect.webhooks or {}), (True, expect.webhooks_exactly or {})):
        for name, patterns in wanted.items():
            ids = [e["id"] for e in events if receivers.subscribes(name, e["type"])]
            deadline = time.monotonic() + specs[name].within_ms / 1000
            while True:
                port.deliver()
                got, missing, forged = receivers.deliveries_of(name, ids)
                got = [{**d, "data": port.strip(d["data"])} for d in got]
                if exact:
                    ok = len(got) == len(patterns) and all(_matches(p, d) for p, d in zip(patterns, got))
                else:
                    ok = _in_order(patterns, got, _matches)
                ok = ok and not missing and not forged
                if ok or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_S)
            shown = _shown(got, patterns, nothing="no deliveries") + (f"; {missing} not delivered" if missing else "")
            if forged:
                shown += f"; {forged} POSTs with a signature that did not verify"
            label = f"{what} delivered to {name} " + ("are exactly" if exact else "include, in order")
            out.append(ExpectationResult(label, _wanted(patterns), shown, step.label, ok))
    return out
