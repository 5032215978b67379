"""One POST of a signed body, with keep-alive connections reused per host, a whole-attempt timeout and
what a delivery log needs: the status code (or the error) and the latency."""
from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_RESPONSE_BYTES = 64 * 1024   # the receiver's answer is read (for keep-alive) but not kept
USER_AGENT = "cryptocity-webhooks/1"


@dataclass(frozen=True)
class Answer:
    status_code: int | None   # None: no HTTP answer (refused, reset, timed out)
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """POSTs for one thread: a connection per (scheme, host, port), kept open between deliveries."""

    def __init__(self) -> None:
        self._connections: dict[tuple, http.client.HTTPConnection] = {}

    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Answer:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {**headers, "content-type": "application/json", "user-agent": USER_AGENT}
        started = time.perf_counter()
        reused = key in self._connections
        answer = self._once(key, target, body, all_headers, timeout_s, started)
        if answer.status_code is None and reused and time.perf_counter() - started < timeout_s:
            # A kept-alive connection the receiver closed while idle fails at once: that is not the
            # receiver failing this delivery, so the attempt goes again on a fresh connection.
            answer = self._once(key, target, body, all_headers, timeout_s, started)
        return answer

    def _once(self, key: tuple, target: str, body: bytes, headers: dict, timeout_s: float,
              started: float) -> Answer:
        conn = self._connections.pop(key, None)
        if conn is None:
            scheme, host, port = key
            factory = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = factory(host, port, timeout=timeout_s)
        try:
            conn.request("POST", target, body=body, headers=headers)
            remaining = timeout_s - (time.perf_counter() - started)
            if remaining <= 0:
                raise socket.timeout("timed out")
            if conn.sock is not None:
                conn.sock.settimeout(remaining)   # the whole attempt, not each socket operation, has 10 s
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            status = response.status
            if response.will_close or not response.isclosed():
                conn.close()   # it said it closes, or sent more than we read: do not reuse
            else:
                self._connections[key] = conn
            return Answer(status, None if 200 <= status < 300 else f"HTTP {status}", _ms(started))
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            text = "timed out" if isinstance(error, (socket.timeout, TimeoutError)) else \
                f"{type(error).__name__}: {error}".rstrip(": ")
            return Answer(None, text, _ms(started))

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()


def _ms(started: float) -> int:
    return max(0, round((time.perf_counter() - started) * 1000))
