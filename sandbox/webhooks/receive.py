"""``cryptocity webhooks receive``: a stand-in for your app while you try webhooks or ``listen`` — a
loopback HTTP server that verifies each delivery's Standard Webhooks signature (``standardwebhooks``),
prints one line per delivery and answers 200 (400 when the signature does not verify)."""
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import click
from standardwebhooks import Webhook, WebhookVerificationError

from . import signing

MAX_BODY_BYTES = 1024 * 1024


@click.command("receive")
@click.option("--port", required=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1 (0: any free one).")
@click.option("--secret", required=True, envvar="CRYPTOCITY_WEBHOOK_SECRET", metavar="WHSEC",
              help="The whsec_ secret the deliveries are signed with.")
@click.option("--max-events", default=None, type=click.IntRange(1), help="Stop after this many verified deliveries.")
def receive_command(port: int, secret: str, max_events: int | None) -> None:
    """Print each signed delivery POSTed to http://127.0.0.1:PORT/ (any path), verified."""
    try:
        verifier = Webhook(signing.check_secret(secret))
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--secret") from None
    seen: set[str] = set()
    lock = threading.Lock()
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # keep-alive: the dispatcher and listen reuse their connection

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
            body = self.rfile.read(length)
            try:
                event = verifier.verify(body, dict(self.headers))
            except (WebhookVerificationError, ValueError) as error:
                click.echo(f"{self.headers.get('webhook-id', '?')} signature NOT verified ({error}) → 400")
                self._answer(400)
                return
            with lock:
                again = event["id"] in seen
                seen.add(event["id"])
                count = len(seen)
            click.echo(f"{event['id']} {event['type']} verified" + (" (a duplicate)" if again else ""))
            sys.stdout.flush()
            self._answer(200)
            if max_events is not None and count >= max_events:
                done.set()

        def log_message(self, *args) -> None:  # noqa: ANN002 - one line per delivery is printed above
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    click.echo(f"receiving on http://127.0.0.1:{server.server_port}/ (^C to quit)", err=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    server.shutdown()
