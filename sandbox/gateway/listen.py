"""``cryptocity listen --decide script.py``: a local function decides the city's card purchases.

It starts a receiver on 127.0.0.1, registers it as the card programme's decision URL (or one card's,
with ``--card``) on the server (``PUT /api/v1/card-programme/decision``, an operator key), verifies each
``authorization.request``'s Standard Webhooks signature, calls ``decide(request)`` from the script with
the request's ``data`` and answers what it returns, printing one line per decision:

    authreq_3f2a… card 2 at alatau-coffee 5 000.00 KZT → approved

``decide`` returns ``{"approved": bool, "amount_minor"?: int, "funding"?: [assets], "metadata"?: {…}}``;
an exception in it answers 500 (so the programme's stand-in decides, ``webhook_error``). On exit the
registration is removed again.
"""
from __future__ import annotations

import http.client
import json
import runpy
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import click
from standardwebhooks import Webhook, WebhookVerificationError

from ledger.amounts import format_amount

from ..webhooks import signing

MAX_BODY_BYTES = 256 * 1024


def load_decide(script: str):
    """The ``decide`` function of the Python file ``script``."""
    try:
        namespace = runpy.run_path(script)
    except Exception as error:  # noqa: BLE001 - the user's script: say what went wrong, no traceback
        raise click.BadParameter(f"{script} failed to load: {type(error).__name__}: {error}",
                                 param_hint="--decide") from None
    decide = namespace.get("decide")
    if not callable(decide):
        raise click.BadParameter(f"{script} defines no function decide(request: dict) -> dict", param_hint="--decide")
    return decide


def _call(server: str, key: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    parts = urlsplit(server.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{server!r} is not an http(s) URL", param_hint="--server")
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = factory(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, parts.path + path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
    except OSError as error:
        raise click.ClickException(f"cannot reach {server}: {error}") from None
    finally:
        conn.close()
    try:
        return response.status, json.loads(raw) if raw else {}
    except ValueError:
        return response.status, {"detail": raw[:300].decode(errors="replace")}


def run(script: str, *, server: str, key: str, secret: str | None, port: int, card_id: int | None,
        max_events: int | None) -> None:
    decide = load_decide(script)
    secret = signing.secret_option(secret)
    verifier = Webhook(secret)
    lock, done = threading.Lock(), threading.Event()
    decided = [0]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # keep-alive: the sandbox reuses its connection
        disable_nagle_algorithm = True

        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES))
            try:
                request = verifier.verify(body, dict(self.headers))
            except (WebhookVerificationError, ValueError) as error:
                click.echo(f"{self.headers.get('webhook-id', '?')} signature NOT verified ({error}) → 400")
                self._answer(400, {"error": "signature not verified"})
                return
            data = request.get("data", {})
            what = (f"{self.headers.get('webhook-id')} card {data.get('card', {}).get('id')} at "
                    f"{data.get('merchant', {}).get('id')} {format_amount(int(data.get('amount_minor', 0)), 'KZT')}")
            try:
                answer = decide(data)
                if not isinstance(answer, dict):
                    raise TypeError(f"decide returned {type(answer).__name__}, not a dict")
                json.dumps(answer)
            except Exception as error:  # noqa: BLE001 - the user's function: report it, answer 500
                click.echo(f"{what} → decide raised {type(error).__name__}: {error} (500)")
                traceback.print_exc(file=sys.stderr)
                self._answer(500, {"error": f"{type(error).__name__}: {error}"})
            else:
                verdict = "approved" if answer.get("approved") is True else "declined"
                if verdict == "approved" and answer.get("amount_minor") is not None:
                    verdict += f" {format_amount(int(answer['amount_minor']), 'KZT')}"
                click.echo(f"{what} → {verdict}")
                self._answer(200, answer)
            sys.stdout.flush()
            with lock:
                decided[0] += 1
                if max_events is not None and decided[0] >= max_events:
                    done.set()

        def log_message(self, *args) -> None:  # noqa: ANN002 - one line per decision is printed above
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.daemon_threads = True
    url = f"http://127.0.0.1:{receiver.server_port}/decide"
    path = f"/api/v1/cards/{card_id}/decision" if card_id is not None else "/api/v1/card-programme/decision"
    status, body = _call(server, key, "PUT", path, {"url": url, "secret": secret})
    if status != 200:
        receiver.server_close()
        raise click.ClickException(f"{server}{path} answered {status}: {body.get('detail', body)}")
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    whose = f"card {card_id}" if card_id is not None else "the card programme"
    click.echo(f"Ready! {script} decides the purchases of {whose} at {url} (deadline {body['deadline_ms']} ms, "
               f"stand-in {body['stand_in']}); signing secret {secret} (^C to quit)", err=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        receiver.shutdown()
        _call(server, key, "DELETE", path)   # the programme stops asking an app that is gone
