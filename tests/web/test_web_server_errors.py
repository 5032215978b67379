"""What the HTTP servers answer themselves, before the app: a request line or headers over the limits, a
request that is not HTTP — and a chunked body over the body limit — are problem+json, on gunicorn
(``--workers 2``, PostgreSQL) and on Flask's own server (``--workers 1``), with the same limits."""
from __future__ import annotations

import io
import json
import socket

import pytest

from sandbox.bench.http import HOST, _free_port, start_server, stop_server, wait_ready
from sandbox.web.server_errors import MAX_HEADER_FIELD_BYTES, MAX_HEADER_FIELDS, MAX_REQUEST_LINE_BYTES

BODY_LIMIT_BYTES = 64 * 1024


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` on a fresh connection and read the answer (the server closes after an error)."""
    with socket.create_connection((HOST, port), timeout=30) as sock:
        sock.sendall(raw)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
            if _ and b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(rest) >= length:
                    break
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return int(lines[0].split()[1]), headers, body


def chunked(body: bytes, chunk_bytes: int = 8192) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + chunk_bytes]), body[i:i + chunk_bytes])
             for i in range(0, len(body), chunk_bytes)]
    return b"".join(parts) + b"0\r\n\r\n"


def json_over_limit() -> bytes:
    return json.dumps({"memo": "x" * (BODY_LIMIT_BYTES + 100)}).encode()


REQUESTS = {
    "request line too long": (b"GET /api/v1/accounts?q=" + b"a" * MAX_REQUEST_LINE_BYTES + b" HTTP/1.1\r\n"
                              b"Host: x\r\n\r\n", 414, "uri_too_long"),
    "header too long": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * MAX_HEADER_FIELD_BYTES +
                        b"\r\n\r\n", 431, "request_header_fields_too_large"),
    "too many headers": (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                         b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADER_FIELDS + 1)) + b"\r\n",
                         431, "request_header_fields_too_large"),
    "not HTTP": (b"HELLO THERE FRIEND\r\n\r\n", 400, "bad_request"),
    "chunked body over the limit": (b"POST /api/v1/transfers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    b"Transfer-Encoding: chunked\r\nIdempotency-Key: k-1\r\n\r\n" +
                                    chunked(json_over_limit()), 413, "request_too_large"),
}


def check_problem(status: int, headers: dict[str, str], body: bytes, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert headers["content-type"] == "application/problem+json", (headers, body)
    problem = json.loads(body)
    assert problem["status"] == expected_status and problem["code"] == code
    assert problem["type"] == f"urn:cryptocity:problem:{code}" and problem["detail"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request, tmp_path):
    """``cryptocity serve``: Flask's server on SQLite, gunicorn with two workers on PostgreSQL."""
    if request.param == "sqlite":
        db_url, workers = f"sqlite:///{tmp_path / 'city.db'}", 1
    else:
        db_url, workers = request.getfixturevalue("pg_url"), 2
    port = _free_port()
    server = start_server(db_url, port, workers, log_path=tmp_path / "server.log")
    try:
        wait_ready(port, server)
        yield port
    finally:
        stop_server(server)


def test_the_server_answers_what_it_refuses_itself_as_problem_json(served):
    for name, (raw, status, code) in REQUESTS.items():
        check_problem(*exchange(served, raw), status, code)
    answer = exchange(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer[0] == 200  # and an ordinary request is still served


def test_a_chunked_body_over_the_limit_is_413_not_malformed(client):
    big = io.BytesIO(json_over_limit())
    response = client.post("/api/v1/transfers", input_stream=big, environ_overrides={"wsgi.input_terminated": True},
                           headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                                    "Idempotency-Key": "k-1"})
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert response.get_json()["code"] == "request_too_large"


def test_a_chunked_body_exactly_at_the_limit_is_read(client):
    exact = b'{"memo": "' + b"x" * (BODY_LIMIT_BYTES - 12) + b'"}'
    assert len(exact) == BODY_LIMIT_BYTES
    response = client.post("/api/v1/transfers", input_stream=io.BytesIO(exact),
                           environ_overrides={"wsgi.input_terminated": True},
                           headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                                    "Idempotency-Key": "k-2"})
    assert response.status_code == 401  # read in full, then asked for a key like any other request
