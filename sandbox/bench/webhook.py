"""``cryptocity bench http --webhook``: the same run with one webhook endpoint registered, whose receiver
is a loopback HTTP server in the bench process that verifies every signature (``standardwebhooks``) and
answers 200. The server's own dispatcher threads deliver while the load runs; afterwards the bench waits
(bounded) for the deliveries to catch up and reports how many events arrived, duplicates and the lag."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from ledger import Database, Ledger
from sandbox import events
from sandbox.webhooks import endpoints

DRAIN_TIMEOUT_S = 120.0


class WebhookSink:
    """A receiver on 127.0.0.1 plus its endpoint in the bench's database."""

    def __init__(self, db_url: str) -> None:
        self.ids: list[str] = []
        self.bad_signatures = 0
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # keep-alive, as the dispatcher's sender uses it

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    Webhook(sink.secret).verify(body.decode(), dict(self.headers))
                    ok = True
                except WebhookVerificationError:
                    ok = False
                with sink._lock:
                    sink.ids.append(self.headers.get("webhook-id", ""))
                    sink.bad_signatures += not ok
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        db = Database(db_url)
        try:
            with Ledger(db).unit_of_work() as uow:
                self.first_seq = events.last_seq(uow.conn)   # the endpoint gets the events after this one
                created = endpoints.create(uow, url=f"http://127.0.0.1:{self.server.server_port}/hooks",
                                           events=["*"], description="bench receiver")
                uow.commit()
        finally:
            db.dispose()
        self.secret = created["secret"]
        self.db_url = db_url

    def drain(self) -> list[tuple[str, str]]:
        """Wait until every event has arrived (or the bound); the rows for the bench's table."""
        db = Database(self.db_url)
        try:
            with db.engine.connect() as conn:
                total = events.last_seq(conn) - self.first_seq
        finally:
            db.dispose()
        started = time.perf_counter()
        while len(set(self.ids)) < total and time.perf_counter() - started < DRAIN_TIMEOUT_S:
            time.sleep(0.1)
        lag_s = time.perf_counter() - started
        self.server.shutdown()
        unique = len(set(self.ids))
        return [("webhook deliveries (events, unique, duplicates)", f"{total:,}, {unique:,}, {len(self.ids) - unique:,}"),
                ("webhook signatures that failed to verify", f"{self.bad_signatures:,}"),
                ("webhook lag after the load stopped", f"{lag_s:.1f} s")]
