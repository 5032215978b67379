"""bitcoind's JSON-RPC over HTTP for the city's Bitcoin chain: a small threaded server (standard library)
with bitcoind's basic authentication, answering single and batch requests with ``btc_rpc.BitcoinRpc``'s
methods. ``cryptocity serve --btc-rpc-port N`` starts it (``start_for_city``); tests start it on a free port.
"""
from __future__ import annotations

import base64
import hmac
import json
import re
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ledger.errors import DomainError

from .btc_rpc import RPC_INVALID_REQUEST, RPC_METHOD_NOT_FOUND, RPC_MISC, RPC_PARSE_ERROR, BitcoinRpc, RpcFault

MAX_BODY_BYTES = 4_000_000
MAX_BATCH = 100


def _encode(value: Any) -> bytes:
    """JSON with amounts as exact decimal numbers (as bitcoind writes them), never through a float."""
    def mark(o):
        if isinstance(o, Decimal):
            return f"\x00BTC:{o:.8f}\x00"
        raise TypeError(type(o).__name__)
    text = json.dumps(value, default=mark)
    return re.sub(r'"\\u0000BTC:(-?[0-9.]+)\\u0000"', r"\1", text).encode()


class _Handler(BaseHTTPRequestHandler):
    server: "BtcRpcServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:   # quiet: the web app's log is the one to read
        return

    def _send(self, status: int, body: bytes, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if not self.server.authorized(self.headers.get("Authorization", "")):
            self._send(401, b"", {"WWW-Authenticate": 'Basic realm="jsonrpc"'})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if not 0 < length <= MAX_BODY_BYTES:
            self._send(413 if length else 400, _encode(_reply(None, None, RpcFault(RPC_PARSE_ERROR, "Parse error"))))
            return
        try:
            request = json.loads(self.rfile.read(length))
        except ValueError:
            self._send(500, _encode(_reply(None, None, RpcFault(RPC_PARSE_ERROR, "Parse error"))))
            return
        if isinstance(request, list):
            if not 0 < len(request) <= MAX_BATCH:   # refused whole: never answer part of a batch
                self._send(400, _encode(_reply(None, None, RpcFault(
                    RPC_INVALID_REQUEST, f"a batch holds 1 to {MAX_BATCH} requests"))))
                return
            replies = [self.server.answer(item) for item in request]
            self._send(200, _encode([reply for _, reply in replies]))
            return
        status, reply = self.server.answer(request)
        self._send(status, _encode(reply))


def _reply(request_id, result, error: RpcFault | None = None) -> dict:
    return {"result": result, "error": None if error is None else {"code": error.code, "message": str(error)},
            "id": request_id}


class BtcRpcServer(ThreadingHTTPServer):
    """bitcoind's JSON-RPC over ``rpc`` (a ``BitcoinRpc``) on ``host:port`` (0: a free port), behind
    ``user``/``password`` basic authentication. ``start()`` serves from a daemon thread."""

    daemon_threads = True

    def __init__(self, rpc: BitcoinRpc, *, user: str, password: str, host: str = "127.0.0.1", port: int = 0) -> None:
        if not user or not password:
            raise ValueError("the Bitcoin RPC server needs a user and a password (like bitcoind's rpcauth)")
        super().__init__((host, port), _Handler)
        self.rpc = rpc
        self._expected = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.user = user
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, password: str) -> str:
        """The URL a ``BitcoindRPC`` connects with."""
        return f"http://{self.user}:{password}@{self.server_address[0]}:{self.port}/"

    def authorized(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "basic" and hmac.compare_digest(value.strip().encode(), self._expected.encode())

    def answer(self, request) -> tuple[int, dict]:
        if not isinstance(request, dict) or not isinstance(request.get("params", []), (list, type(None))):
            return 500, _reply(None, None, RpcFault(RPC_INVALID_REQUEST, "Invalid Request object"))
        request_id = request.get("id")
        try:
            return 200, _reply(request_id, self.rpc.call(request.get("method"), request.get("params") or []))
        except RpcFault as error:
            return (404 if error.code == RPC_METHOD_NOT_FOUND else 500), _reply(request_id, None, error)
        except DomainError as error:
            return 500, _reply(request_id, None, RpcFault(RPC_MISC, str(error)))
        except Exception:  # noqa: BLE001 - the client gets an answer, never a dropped connection
            return 500, _reply(request_id, None, RpcFault(RPC_MISC, "internal error"))

    def start(self) -> "BtcRpcServer":
        self._thread = threading.Thread(target=self.serve_forever, name="btc-rpc", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_for_city(city, *, port: int, user: str, password: str, host: str = "127.0.0.1") -> BtcRpcServer:
    """Serve ``city``'s Bitcoin chain (``cryptocity serve --btc-rpc-port``): each call in a unit of work at
    the city's time. Every worker of a several-worker server binds the same port (SO_REUSEPORT; the kernel
    spreads the connections), so the port answers as long as any worker lives."""
    from .incidents.state import chain_halted
    node = city.btc_node
    rpc = BitcoinRpc(node, write=city.ctx.transaction, read=city.ctx.read,
                     fee_rate_sat_vb=city.ctx.custodian.config.btc_fee_rate_sat_vb,
                     halted=lambda uow: chain_halted(uow.conn))

    class Shared(BtcRpcServer):
        allow_reuse_port = True
    return Shared(rpc, user=user, password=password, host=host, port=port).start()
