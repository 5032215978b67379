"""The shared EVM node: anvil (Foundry's dev node), installed by ``make chains`` and supervised here.

A city served by several processes needs one EVM that every process uses by URL. ``cryptocity serve``
starts anvil once (``AnvilNode``), with its state persisted to a file: anvil writes the whole chain
to that file every ``state_interval_s`` seconds and when it is stopped, and loads it when it starts.
A supervisor thread restarts anvil from that file if it dies; stopping the server stops anvil (with
a final dump).

What a crash can lose: if anvil is killed without its final dump (SIGKILL, power loss), the blocks
mined since the last interval dump. The ledger remembers them; ``verify`` then names the difference
(chain and ledger disagree) instead of hiding it.

The binary is looked up in this order: ``$CRYPTOCITY_ANVIL``, the project's own install
(``chains/node_modules``, from ``chains/package-lock.json``), then ``anvil`` on ``PATH``.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from .errors import CityError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTALL_DIR = PROJECT_ROOT / "chains" / "node_modules" / "@foundry-rs"
ANVIL_VERSION = "1.7.1"          # pinned in chains/package.json
CHAIN_ID = 31337                 # anvil's default; what a participant's wallet is pointed at
DEFAULT_STATE_INTERVAL_S = 5
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class AnvilMissing(CityError):
    """anvil is not installed: run ``make chains`` (npm installs the pinned binary under chains/)."""

    code = "anvil_missing"


def anvil_binary() -> str | None:
    """The anvil executable to run, or None when none is installed (see the module docstring)."""
    explicit = os.environ.get("CRYPTOCITY_ANVIL")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    system = {"linux": "linux", "darwin": "darwin", "windows": "win32"}.get(platform.system().lower())
    arch = _ARCH.get(platform.machine().lower())
    if system and arch:
        name = "anvil.exe" if system == "win32" else "anvil"
        local = INSTALL_DIR / f"anvil-{system}-{arch}" / "bin" / name
        if local.is_file():
            return str(local)
    return shutil.which("anvil")


def require_anvil() -> str:
    found = anvil_binary()
    if found is None:
        raise AnvilMissing("anvil is not installed: run `make chains` (it installs the pinned "
                           f"@foundry-rs/anvil {ANVIL_VERSION} under chains/ with npm), or set CRYPTOCITY_ANVIL")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def rpc(url: str, method: str, params: list | None = None, timeout_s: float = 5.0):
    """One JSON-RPC call (used to probe a node without building a web3 client)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - our own node's URL
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


class AnvilNode:
    """One anvil process on ``host:port`` with its state in ``state_path``; ``start()`` waits until it
    answers, ``supervise()`` restarts it if it dies, ``stop()`` ends it with a final state dump."""

    def __init__(self, *, state_path: str | os.PathLike | None, port: int | None = None, host: str = "127.0.0.1",
                 state_interval_s: int = DEFAULT_STATE_INTERVAL_S, chain_id: int = CHAIN_ID,
                 binary: str | None = None, log_path: str | os.PathLike | None = None) -> None:
        self.binary = binary or require_anvil()
        self.host = host
        self.port = port or free_port(host)
        self.state_path = Path(state_path) if state_path else None
        self.state_interval_s = int(state_interval_s)
        self.chain_id = int(chain_id)
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._owner_pid = os.getpid()   # a forked child (a gunicorn worker) never stops the node
        self._lock = threading.Lock()   # a restart by the supervisor and a stop never interleave

    @property
    def url(self) -> str:
        """The URL this machine's processes use (a node listening on every interface is reached on loopback)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def command(self) -> list[str]:
        cmd = [self.binary, "--host", self.host, "--port", str(self.port), "--chain-id", str(self.chain_id)]
        if self.state_path is not None:
            cmd += ["--state", str(self.state_path), "--state-interval", str(self.state_interval_s)]
        return cmd

    def start(self) -> "AnvilNode":
        if self.state_path is not None:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115 - child's log
        try:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"anvil exited at start (code {self.process.returncode}): {' '.join(self.command())}")
            try:
                rpc(self.url, "eth_chainId", timeout_s=1)
                return self
            except OSError:
                time.sleep(0.1)
        _terminate(self.process)
        raise RuntimeError(f"anvil did not answer on {self.url} within {START_TIMEOUT_S} s")

    def supervise(self, poll_s: float = 1.0) -> "AnvilNode":
        """Restart anvil (from its state file) whenever it exits while we did not ask it to."""
        def watch() -> None:
            while not self._stopping.wait(poll_s):
                with self._lock:
                    if self._stopping.is_set() or self.process is None or self.process.poll() is None:
                        continue
                    self.restarts += 1
                    try:
                        self.start()
                    except Exception:  # noqa: BLE001 - try again at the next poll
                        pass
        self._supervisor = threading.Thread(target=watch, name="anvil-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def stop(self) -> None:
        """SIGTERM (anvil dumps its state and exits), SIGKILL after ``STOP_TIMEOUT_S``."""
        if os.getpid() != self._owner_pid:
            return
        self._stopping.set()
        with self._lock:
            process, self.process = self.process, None
        _terminate(process)

    def kill(self) -> None:
        """Crash it (SIGKILL, no final dump): what a power cut does. The supervisor, if any, restarts it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def _terminate(process: subprocess.Popen | None) -> None:
    """SIGTERM (anvil dumps its state and exits), SIGKILL after ``STOP_TIMEOUT_S``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
