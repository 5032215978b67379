"""A webhook receiver on loopback for the tests: a real HTTP server that verifies every delivery's
signature with ``standardwebhooks`` and answers what the test scripts (200 by default)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Received:
    webhook_id: str
    payload: dict | None      # the verified JSON body; None if the signature did not verify
    status: int               # what the receiver answered
    headers: dict


@dataclass
class Receiver:
    """Serve on 127.0.0.1; ``answers`` is consumed one status per request (then ``default``);
    ``delay_s`` slows every answer. ``secret`` must be set before deliveries arrive."""

    secret: str | None = None
    answers: list[int] = field(default_factory=list)
    default: int = 200
    delay_s: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        body = request.get_data(as_text=True)
        headers = dict(request.headers)
        try:
            payload = Webhook(self.secret).verify(body, headers) if self.secret else None
        except WebhookVerificationError:
            payload = None
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            status = self.answers.pop(0) if self.answers else self.default
            self.received.append(Received(request.headers.get("webhook-id", ""), payload, status, headers))
        return Response(json.dumps({"ok": status < 300}), status=status, mimetype="application/json")

    def ok_ids(self) -> list[str]:
        """The webhook ids this receiver answered 2xx, in arrival order."""
        with self._lock:
            return [r.webhook_id for r in self.received if r.status < 300]

    def wait_for(self, count: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.ok_ids()) < count:
            assert time.monotonic() < deadline, f"{len(self.ok_ids())} of {count} deliveries arrived"
            time.sleep(0.05)

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
