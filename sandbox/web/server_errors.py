"""Errors the HTTP server answers itself, before the app sees the request, as ``application/problem+json``.

A request line that is too long (414), headers that are too many or too large (431) or a request that is
not valid HTTP (400) never reach Flask: gunicorn and the standard library's HTTP server (behind Flask's own
server, ``--workers 1``) refuse them while parsing, and both would answer with an HTML page. The worker
class and the request handler here answer the same problem documents as the API (``problems.py``), and
both servers enforce the same limits:

- ``MAX_REQUEST_LINE_BYTES``: method, path, query and version in one line (gunicorn's default);
- ``MAX_HEADER_FIELDS`` headers of at most ``MAX_HEADER_FIELD_BYTES`` each (gunicorn's defaults).
"""
from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.http import errors as gerrors
from gunicorn.workers.gthread import ThreadWorker
from werkzeug.serving import WSGIRequestHandler

from .problems import PROBLEM_MEDIA_TYPE, problem_document, status_code_name, status_title

MAX_REQUEST_LINE_BYTES = 4094
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_BYTES = 8190

_LINE_TOO_LONG = (f"the request line (method, path and query) is longer than {MAX_REQUEST_LINE_BYTES} bytes; "
                  "send long parameters in a POST body")
_HEADERS_TOO_LARGE = (f"the request has more than {MAX_HEADER_FIELDS} headers, or a header longer than "
                      f"{MAX_HEADER_FIELD_BYTES} bytes")


def problem_bytes(status: int, detail: str) -> bytes:
    """A problem document for a refusal that only has an HTTP status (no domain error behind it)."""
    document = problem_document(status, status_code_name(status), detail, title=status_title(status))
    return json.dumps(document).encode()


def gunicorn_options() -> dict[str, Any]:
    """The gunicorn settings that make it answer, and limit, like the handler below."""
    return {"worker_class": f"{__name__}.ProblemThreadWorker", "limit_request_line": MAX_REQUEST_LINE_BYTES,
            "limit_request_fields": MAX_HEADER_FIELDS, "limit_request_field_size": MAX_HEADER_FIELD_BYTES}


def _gunicorn_refusal(exc: BaseException) -> tuple[int, str] | None:
    """(status, detail) of a request gunicorn refused while parsing it; None for the server's own failure."""
    if isinstance(exc, (gerrors.InvalidResponseHeader, gerrors.InvalidResponseHeaderName)):
        return None  # the application sent it: a server-side failure, not the client's
    if isinstance(exc, gerrors.LimitRequestLine):
        return 414, _LINE_TOO_LONG
    if isinstance(exc, gerrors.LimitRequestHeaders):
        return 431, _HEADERS_TOO_LARGE
    if isinstance(exc, gerrors.ForbiddenProxyRequest):
        return 403, "this server does not accept requests forwarded by that proxy"
    if isinstance(exc, gerrors.UnsupportedTransferCoding):
        return 501, f"this server does not support that transfer coding: {exc}"
    expectation_failed = getattr(gerrors, "ExpectationFailed", None)  # gunicorn >= 23
    if expectation_failed is not None and isinstance(exc, expectation_failed):
        return 417, f"this server cannot meet the request's Expect header: {exc}"
    configuration_problem = getattr(gerrors, "ConfigurationProblem", None)
    if configuration_problem is not None and isinstance(exc, configuration_problem):
        return None
    if isinstance(exc, gerrors.ParseException):
        return 400, f"the request is not valid HTTP: {exc}"
    return None


class ProblemThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, answering the requests it refuses itself with problem+json, and taking a
    new connection only while one of its threads is free.

    Why the second: the workers share one listening socket, and a keep-alive connection stays with the
    worker that accepted it. gunicorn's worker accepts while it has fewer than ``worker_connections`` (1 000),
    so the first worker to wake took nearly every client: in ``bench http`` one worker ran at 85 % of a core,
    GIL-bound, the other at 8 %, with a fifth of the machine idle. A worker whose threads are all serving
    now leaves new connections in the socket's queue for a worker with a free thread."""

    def _all_threads_serving(self) -> bool:
        serving = self.nr_conns - len(self.keepalived_conns) - len(self.pending_conns)
        return serving >= self.cfg.threads

    def set_accept_enabled(self, enabled: bool) -> None:
        # gunicorn's loop asks again after every event (a request finished) and at least once a second
        super().set_accept_enabled(enabled and not self._all_threads_serving())

    def enqueue_req(self, conn) -> None:  # noqa: ANN001 - gunicorn's signature
        # every way a connection reaches a thread: a new one accepted, a kept-alive or pending one readable
        super().enqueue_req(conn)
        if self._all_threads_serving():
            super().set_accept_enabled(False)

    def handle_error(self, req, client, addr, exc):  # noqa: ANN001 - gunicorn's signature
        refusal = _gunicorn_refusal(exc)
        if refusal is None:
            # gunicorn's own words in the log; the client still gets a problem, not an HTML page
            uri = getattr(req, "uri", None)
            self.log.exception("Error handling request %s", uri or "(no URI read)")
            status, detail = 500, "the server failed while handling the request; the log has the details"
        else:
            status, detail = refusal
            self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        body = problem_bytes(status, detail)
        head = (f"HTTP/1.1 {status} {status_title(status)}\r\nConnection: close\r\n"
                f"Content-Type: {PROBLEM_MEDIA_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin-1")
        try:
            util.write_nonblock(client, head + body)
        except Exception:  # noqa: BLE001 - the client may be gone; gunicorn does the same
            self.log.debug("Failed to send error message.")


# The worker above extends gunicorn 27's threaded worker (pinned in pyproject.toml): fail loudly, at import,
# on a release without the parts it builds on.
if not all(hasattr(ThreadWorker, name) for name in ("set_accept_enabled", "enqueue_req")):
    raise ImportError("sandbox.web.server_errors needs gunicorn 27's threaded worker: pip install 'gunicorn>=27,<28'")


class ProblemRequestHandler(WSGIRequestHandler):
    """The request handler of Flask's own server (``cryptocity serve --workers 1``): gunicorn's limits,
    and problem+json instead of the standard library's HTML error page."""

    def parse_request(self) -> bool:
        if len(self.raw_requestline.rstrip(b"\r\n")) > MAX_REQUEST_LINE_BYTES:
            self.requestline, self.command = "", ""
            self.send_error(414)
            return False
        if not super().parse_request():
            return False
        if len(self.headers) > MAX_HEADER_FIELDS or any(
                len(name) + len(value) + 2 > MAX_HEADER_FIELD_BYTES for name, value in self.headers.items()):
            self.send_error(431)
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        detail = {414: _LINE_TOO_LONG, 431: _HEADERS_TOO_LARGE}.get(code) or \
            f"the request is not valid HTTP: {message or status_title(code)}"
        self.log_error("code %d, message %s", code, message or status_title(code))
        if not str(getattr(self, "request_version", "")).startswith("HTTP/1."):
            # the request line was not read (or not understood): the standard library would answer
            # HTTP/0.9-style, a bare body without status line or headers
            self.request_version = self.protocol_version
        self.send_response(code, status_title(code))
        self.send_header("Connection", "close")
        body = problem_bytes(code, detail) if code >= 200 and code not in (204, 205, 304) else b""
        if body:
            self.send_header("Content-Type", PROBLEM_MEDIA_TYPE)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
