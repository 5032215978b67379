"""gunicorn's workers share the load: a worker whose threads are all serving leaves new connections to one
with a free thread (``sandbox.web.server_errors.ProblemThreadWorker``). Before, the first worker to wake
took nearly every keep-alive client and ran GIL-bound while the other idled."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from sandbox.bench.http import HOST, _free_port, start_server, stop_server, wait_ready

THREADS_PER_WORKER = 4   # sandbox.web.serve.gunicorn_options
SLOW_CLIENTS = 12        # more than the two workers' threads: 4 must wait for a free thread
HEAD = (b"POST /api/v1/transfers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\n\r\n")   # the body follows later: until then a thread waits for it


def _workers(master: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                children.append(int(entry))
    return children


def _server_sockets(port: int, client_ports: set[int]) -> dict[int, int]:
    """inode -> client port of the server's ends of our connections (/proc/net/tcp)."""
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port, remote_port = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == port and remote_port in client_ports:
                found[int(fields[9])] = remote_port
    return found


def _connections_per_worker(workers: list[int], port: int, client_ports: set[int]) -> list[int]:
    ours = _server_sockets(port, client_ports)
    counts = []
    for worker in workers:
        inodes = set()
        for fd in os.listdir(f"/proc/{worker}/fd"):
            try:
                target = os.readlink(f"/proc/{worker}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
        counts.append(len(inodes & ours.keys()))
    return sorted(counts)


def _status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


@pytest.mark.postgres
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the workers' sockets from /proc (Linux)")
def test_a_worker_with_every_thread_serving_leaves_new_clients_to_the_other(pg_url, tmp_path):
    port = _free_port()
    server = start_server(pg_url, port, 2, log_path=tmp_path / "server.log")
    clients: list[socket.socket] = []
    try:
        wait_ready(port, server)
        deadline = time.monotonic() + 30
        while len(workers := _workers(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(workers) == 2, workers
        for _ in range(SLOW_CLIENTS):
            client = socket.create_connection((HOST, port), timeout=30)
            client.sendall(HEAD)
            clients.append(client)
            time.sleep(0.1)   # let a worker take it and start waiting for its body
        ports = {client.getsockname()[1] for client in clients}
        # each worker serves as many as it has threads; the other four wait in the socket's queue (a worker
        # still loading the app after the fork takes its four once it listens)
        deadline, counts = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            counts = _connections_per_worker(workers, port, ports)
            if sum(counts) >= 2 * THREADS_PER_WORKER:
                break
            time.sleep(0.1)
        time.sleep(0.3)   # and no worker takes a fifth
        assert _connections_per_worker(workers, port, ports) == [THREADS_PER_WORKER, THREADS_PER_WORKER], counts
        for client in clients:
            client.sendall(b"{}")
        # every one is answered (no API key: 401), the four that waited included
        assert [_status(client) for client in clients] == [401] * SLOW_CLIENTS
    finally:
        for client in clients:
            client.close()
        stop_server(server)
