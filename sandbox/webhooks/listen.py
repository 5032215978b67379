"""``cryptocity listen --forward-to URL``: like ``stripe listen``, follow the city's event stream and
forward each event to an app on this machine, signed per Standard Webhooks, printing one line per event:

    evt_0000000000000042 authorization.created → 200

It reads ``GET /api/v1/events/stream`` (Server-Sent Events) with the given key — so it sees what that key
may see — starting after the newest event (or ``--after``), and reconnects with ``Last-Event-ID`` when
the stream ends, so no event is skipped. Each event is POSTed once (no retries: you are watching).
"""
from __future__ import annotations

import http.client
import json
import sys
import time
from urllib.parse import urlencode, urlsplit

import click

from . import signing
from .endpoints import InvalidEndpoint, check_url
from .sender import Sender

SERVER_ENVVAR = "CRYPTOCITY_SERVER"
KEY_ENVVAR = "CRYPTOCITY_API_KEY"
SECRET_ENVVAR = "CRYPTOCITY_WEBHOOK_SECRET"
RECONNECT_S = 1.0
STREAM_TIMEOUT_S = 60.0   # longer than the server's heartbeat (15 s): silence this long is a dead stream


class Stream:
    """A client of the server's events API."""

    def __init__(self, server: str, key: str) -> None:
        parts = urlsplit(server.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.BadParameter(f"{server!r} is not an http(s) URL", param_hint="--server")
        self.parts, self.key = parts, key

    def _connection(self, timeout_s: float):
        factory = http.client.HTTPSConnection if self.parts.scheme == "https" else http.client.HTTPConnection
        return factory(self.parts.hostname, self.parts.port, timeout=timeout_s)

    def _get(self, path: str, params: dict, headers: dict | None = None, timeout_s: float = 30.0):
        conn = self._connection(timeout_s)
        query = urlencode({k: v for k, v in params.items() if v is not None})
        conn.request("GET", f"{self.parts.path}{path}?{query}",
                     headers={"Authorization": f"Bearer {self.key}", **(headers or {})})
        response = conn.getresponse()
        if response.status != 200:
            detail = response.read(4000).decode(errors="replace")
            conn.close()
            try:
                detail = json.loads(detail).get("detail", detail)
            except (ValueError, AttributeError):
                pass
            raise click.ClickException(f"{self.parts.geturl()}{path} answered {response.status}: {detail}")
        return conn, response

    def newest(self, types: str | None) -> str | None:
        """The newest event id this key sees (paging to the end of the log)."""
        after = None
        while True:
            conn, response = self._get("/api/v1/events", {"after": after, "limit": 100, "type": types})
            page = json.loads(response.read())
            conn.close()
            after = page["last_id"]
            if page["next_after"] is None:
                return after

    def follow(self, after: str | None, types: str | None):
        """Yield (id, type, data text) for every event after ``after``, forever, reconnecting as needed."""
        while True:
            try:
                conn, response = self._get("/api/v1/events/stream", {"type": types},
                                           {"Accept": "text/event-stream", **({"Last-Event-ID": after} if after else {})},
                                           timeout_s=STREAM_TIMEOUT_S)
                try:
                    for event_id, event_type, data in _parse(response):
                        after = event_id
                        yield event_id, event_type, data
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException) as error:
                click.secho(f"stream interrupted ({type(error).__name__}); reconnecting after {after}", err=True,
                            fg="yellow")
                time.sleep(RECONNECT_S)


def _parse(response):
    """Server-Sent Events: ``id:``, ``event:`` and ``data:`` lines, a blank line ends an event."""
    event_id = event_type = None
    data: list[str] = []
    while True:
        raw = response.readline()
        if not raw:
            return
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data and event_id:
                yield event_id, event_type or "message", "\n".join(data)
            event_id, event_type, data = None, None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                event_id = value
            elif name == "event":
                event_type = value
            elif name == "data":
                data.append(value)


@click.command("listen")
@click.option("--forward-to", "forward_to", default=None, metavar="URL",
              help="Your app's webhook URL, e.g. http://localhost:4242/webhooks.")
@click.option("--decide", "decide_script", default=None, metavar="SCRIPT.PY",
              type=click.Path(exists=True, dir_okay=False),
              help="Instead of forwarding events: decide card purchases with decide(request) -> dict from this "
                   "script (registers a local receiver as the programme's decision URL; an operator key).")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="With --decide: the receiver's port on "
              "127.0.0.1 (default: any free one).")
@click.option("--card", "card_id", default=None, type=click.IntRange(1), help="With --decide: decide only this "
              "card's purchases (its own decision URL) instead of the programme's.")
@click.option("--events", "event_types", multiple=True, metavar="TYPES",
              help="Only these event types (comma-separated or repeated; default: all).")
@click.option("--server", default="http://localhost:8000", show_default=True, envvar=SERVER_ENVVAR,
              help=f"The `cryptocity serve` to follow (or {SERVER_ENVVAR}).")
@click.option("--key", required=True, envvar=KEY_ENVVAR, metavar="KEY",
              help=f"An API key (or {KEY_ENVVAR}): you get the events it may see.")
@click.option("--secret", default=None, envvar=SECRET_ENVVAR, metavar="WHSEC",
              help=f"Sign with this whsec_ secret (or {SECRET_ENVVAR}; default: a new one, printed).")
@click.option("--after", default=None, metavar="EVENT_ID",
              help="Start after this event id (default: after the newest, like stripe listen).")
@click.option("--max-events", default=None, type=click.IntRange(1), help="Stop after forwarding this many.")
def listen_command(forward_to: str | None, event_types: tuple[str, ...], server: str, key: str, secret: str | None,
                   after: str | None, max_events: int | None, decide_script: str | None = None, port: int = 0,
                   card_id: int | None = None) -> None:
    """Forward the city's events to a local app, signed like webhooks (Standard Webhooks); or, with
    --decide, let a local function decide card purchases (the decision gateway)."""
    if (forward_to is None) == (decide_script is None):
        raise click.UsageError("give exactly one of --forward-to URL or --decide SCRIPT.PY")
    if decide_script is not None:
        from ..gateway.listen import run
        run(decide_script, server=server, key=key, secret=secret, port=port, card_id=card_id, max_events=max_events)
        return
    try:
        check_url(forward_to)
    except InvalidEndpoint as error:
        raise click.BadParameter(str(error), param_hint="--forward-to") from None
    secret = signing.secret_option(secret)
    types = ",".join(t.strip() for item in event_types for t in item.split(",") if t.strip()) or None
    stream = Stream(server, key)
    if after is None:
        after = stream.newest(types)
    click.echo(f"Ready! Forwarding events to {forward_to} (after {after or 'the start'}); "
               f"your webhook signing secret is {secret} (^C to quit)", err=True)
    sender, forwarded = Sender(), 0
    try:
        for event_id, event_type, data in stream.follow(after, types):
            answer = sender.post(forward_to, data.encode(), signing.headers(secret, event_id, data), timeout_s=10.0)
            outcome = str(answer.status_code) if answer.status_code is not None else f"failed ({answer.error})"
            click.echo(f"{event_id} {event_type} → {outcome}")
            sys.stdout.flush()
            forwarded += 1
            if max_events is not None and forwarded >= max_events:
                return
    except KeyboardInterrupt:
        pass
    finally:
        sender.close()
