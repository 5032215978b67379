"""The decision request's one POST: keep-alive connections per thread and host, a whole-attempt
timeout (the programme's deadline), and the answer's body (the webhook sender keeps only the status)."""
from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "cryptocity-decisions/1"


@dataclass(frozen=True)
class Reply:
    status_code: int | None   # None: no HTTP answer
    body: bytes
    error: str | None         # why there is no usable answer: "timed out", "ConnectionRefusedError: …", "HTTP 500"
    timed_out: bool
    latency_ms: float


class DecisionClient:
    """Thread-safe: each thread keeps its own connections (a request handler thread reuses its own)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _pool(self) -> dict:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        return pool

    def post(self, url: str, body: bytes, headers: dict[str, str], *, timeout_s: float) -> Reply:
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {**headers, "content-type": "application/json", "user-agent": USER_AGENT}
        started = time.perf_counter()
        reused = key in self._pool()
        reply = self._once(key, target, body, all_headers, timeout_s, started)
        if reply.status_code is None and not reply.timed_out and reused:
            # a kept-alive connection the app closed while idle: not the app failing this request
            reply = self._once(key, target, body, all_headers, timeout_s, started)
        return reply

    def _once(self, key, target, body, headers, timeout_s, started) -> Reply:  # noqa: ANN001
        pool = self._pool()
        conn = pool.pop(key, None)
        if conn is None:
            scheme, host, port = key
            factory = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = factory(host, port, timeout=timeout_s)
        try:
            if conn.sock is None:
                conn.connect()
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # no Nagle stall on a small POST
            if conn.sock is not None:
                conn.sock.settimeout(max(0.001, timeout_s - (time.perf_counter() - started)))
            conn.request("POST", target, body=body, headers=headers)
            remaining = timeout_s - (time.perf_counter() - started)
            if remaining <= 0:
                raise socket.timeout("timed out")
            if conn.sock is not None:
                conn.sock.settimeout(remaining)   # the whole attempt has the deadline, not each operation
            response = conn.getresponse()
            data = response.read(MAX_ANSWER_BYTES)
            if response.will_close or not response.isclosed():
                conn.close()
            else:
                pool[key] = conn
            ok = 200 <= response.status < 300
            return Reply(response.status, data, None if ok else f"HTTP {response.status}", False, _ms(started))
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            timed_out = isinstance(error, (socket.timeout, TimeoutError))
            text = "timed out" if timed_out else f"{type(error).__name__}: {error}".rstrip(": ")
            return Reply(None, b"", text[:200], timed_out, _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
