"""A city served over HTTP for a test: ``cryptocity serve`` on a free loopback port, on a database of its
own, with an operator key. What the pytest plugin's ``live_city`` fixture and the live-run tests start."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..anvil import free_port

READY_TIMEOUT_S = 60
_CLI = "from sandbox.cli import main; main()"


class LiveCityError(RuntimeError):
    pass


@dataclass
class LiveCity:
    """A running server: ``url`` (http://127.0.0.1:PORT), ``key`` (an operator key), ``db_url``; ``request``
    sends one JSON request with that key. Stop it with ``stop()`` (or use it as a context manager)."""
    url: str
    key: str
    db_url: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    @classmethod
    def start(cls, directory: Path, *, config: str = "crypto-city", seed: int | None = None,
              db_url: str | None = None) -> "LiveCity":
        """Serve a new city (``config``, ``seed``) from ``directory`` and wait until it is ready."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        db_url = db_url or f"sqlite:///{directory / 'city.db'}"
        port = free_port()
        argv = [sys.executable, "-c", _CLI, "serve", "--db", db_url, "--config", config, "--host", "127.0.0.1",
                "--port", str(port)] + ([] if seed is None else ["--seed", str(seed)])
        log_path = directory / f"serve-{port}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(argv, cwd=directory, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while _status(url + "/readyz") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                _stop(process)
                raise LiveCityError(f"the server did not become ready:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)   # waiting for start-up, not timing anything
        try:
            token = _operator_key(db_url)
        except Exception as error:
            _stop(process)
            raise LiveCityError(f"could not create an operator key: {error}") from error
        return cls(url, token, db_url, process, log_path)

    def request(self, method: str, path: str, body: Any = None, *, key: str | None = None,
                idempotency_key: str | None = None) -> tuple[int, Any]:
        """(status, decoded JSON body) of one request to ``path`` (``/api/v1/…``)."""
        headers = {"Authorization": f"Bearer {key or self.key}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310 - a loopback server
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read())

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> "LiveCity":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _operator_key(db_url: str) -> str:
    """A new operator key in the served city's database (what `cryptocity keys create operator` does, in
    this process: a second interpreter start-up per live city was a third of its start-up time)."""
    from ledger import Database, Ledger
    from sandbox.apikeys import create_key

    ledger = Ledger(Database(db_url))   # the server migrated it
    try:
        with ledger.unit_of_work() as uow:
            new = create_key(uow.conn, "operator", None, now=uow.now(), label="live_city")
            uow.commit()
    finally:
        ledger.db.dispose()
    return new.token


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a loopback server
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
