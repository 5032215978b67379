"""``bench http``'s server: ``cryptocity serve`` in a child process on loopback, its readiness and its stop
(the other tests that need a real server use these too)."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click

HOST = "127.0.0.1"  # loopback only, always
ROUND_TRIPS_HEADER = "X-Round-Trips"   # the server's count (serve --count-round-trips, sandbox/web/app.py)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(db_url: str, port: int, workers: int, config_path: Path | None = None,
                 seed: int | None = None, log_path: Path | None = None,
                 extra_args: list[str] | None = None) -> subprocess.Popen:
    """``cryptocity serve`` in its own session. Its output goes to ``log_path`` (a file, never a pipe:
    Flask's server logs every request, and a pipe nobody reads fills up and stalls the server)."""
    code = "from sandbox.web.serve import serve_command; serve_command()"
    # -P: not the working directory first on sys.path — a folder there named like a package (a checkout's
    # ``sandbox/presets`` beside a user's files) would shadow the installed one.
    args = [sys.executable, "-P", "-c", code, "--db", db_url, "--host", HOST, "--port", str(port), "--workers",
            str(workers), "--closed", "--count-round-trips"]
    if config_path is not None:
        args += ["--config", str(config_path)]
    if seed is not None:
        args += ["--seed", str(seed)]
    args += extra_args or []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_path = log_path or Path(tempfile.mkdtemp(prefix="cryptocity-bench-http-")) / "server.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server.log_path = log_path  # type: ignore[attr-defined]
    return server


def _log_tail(server: subprocess.Popen, chars: int = 2000) -> str:
    try:
        return Path(server.log_path).read_text(errors="replace")[-chars:]  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return ""


def wait_ready(port: int, server: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise click.ClickException("the server exited: " + _log_tail(server))
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise click.ClickException(f"the server was not ready within {timeout_s:.0f} s: " + _log_tail(server))


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)  # the child's own session: itself and its workers only
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
