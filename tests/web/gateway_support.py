"""A decision app on loopback for the gateway tests: a real HTTP server that verifies each
``authorization.request``'s Standard Webhooks signature and answers what the test's ``decide`` returns."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Callable

from standardwebhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class DecisionApp:
    """``decide(data) -> (status, body)`` answers each verified request (``data``: its ``data`` member);
    ``requests`` keeps every verified payload. ``secret`` must be set (from the PUT's answer) before
    purchases arrive; a request whose signature does not verify is answered 400 and kept in ``forged``."""

    decide: Callable[[dict], tuple[int, dict]] = lambda data: (200, {"approved": True})
    secret: str | None = None
    requests: list[dict] = field(default_factory=list)
    forged: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/decide"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @Request.application
    def _app(self, request: Request) -> Response:
        try:
            payload = Webhook(self.secret).verify(request.get_data(as_text=True), dict(request.headers))
        except (WebhookVerificationError, TypeError, ValueError):
            with self._lock:
                self.forged += 1
            return Response("{}", status=400, mimetype="application/json")
        with self._lock:
            self.requests.append(payload)
        status, body = self.decide(payload["data"])
        return Response(json.dumps(body), status=status, mimetype="application/json")

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
