"""``bench http``'s load: C client threads, one keep-alive connection each, POSTing until time or count
runs out; the latencies, statuses, ISO answers and the server's ``X-Round-Trips`` of every request."""
from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections import Counter
from typing import Callable

from .http_server import HOST, ROUND_TRIPS_HEADER
from .http_setup import AMOUNT_RANGE_MINOR, CityPool


# One request of a client thread: (path, JSON body, bearer token) from (rng, thread index, request number).
RequestMaker = Callable[[random.Random, int, int], tuple[str, dict, str]]


def authorization_requests(pool: CityPool, concurrency: int) -> RequestMaker:
    """Thread ``i`` buys with the cards ``i, i + C, i + 2C, …`` of the pool (all of them if the pool is
    smaller than C), at a random in-zone merchant, 600–1 000 KZT."""
    slices = [pool.pans[i::concurrency] if len(pool.pans) >= concurrency else pool.pans
              for i in range(concurrency)]

    def make(rng: random.Random, index: int, n: int) -> tuple[str, dict, str]:
        merchant = rng.choice(pool.in_zone)
        body = {"pan": rng.choice(slices[index]), "amount_minor": rng.randint(*AMOUNT_RANGE_MINOR)}
        return f"/api/v1/merchants/{merchant}/authorizations", body, pool.merchant_tokens[merchant]
    return make


def transfer_requests(accounts: list[int], token: str) -> RequestMaker:
    def make(rng: random.Random, index: int, n: int) -> tuple[str, dict, str]:
        src, dst = rng.sample(accounts, 2)
        return "/api/v1/transfers", {"from_account_id": src, "to_account_id": dst, "amount_minor": 1,
                                     "memo": "bench"}, token
    return make


class Driver:
    """C client threads, one keep-alive connection each, posting until time or count runs out."""

    def __init__(self, port: int, make_request: RequestMaker, seed: int) -> None:
        self.port, self.make_request, self.seed = port, make_request, seed
        self.latencies_ms: list[float] = []
        self.statuses: Counter = Counter()    # HTTP status (0: connection error)
        self.answers: Counter = Counter()     # ISO response code of each 201 authorization answer
        # the server's X-Round-Trips of each approved authorization (of each 201, for transfers)
        self.round_trips: list[int] = []
        self.lock = threading.Lock()
        self.issued = 0
        self.run_id = f"{seed}-{os.getpid()}-{int(time.time())}"

    def _next(self, limit: int) -> int | None:
        with self.lock:
            if self.issued >= limit:
                return None
            self.issued += 1
            return self.issued

    def worker(self, index: int, deadline: float, limit: int) -> None:
        rng = random.Random(self.seed * 1000 + index)
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        lat, statuses, answers, trips = [], Counter(), Counter(), []
        while time.monotonic() < deadline:
            n = self._next(limit)
            if n is None:
                break
            path, body, token = self.make_request(rng, index, n)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": f"bench-{self.run_id}-{index}-{n}"}
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=json.dumps(body), headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                counted = response.getheader(ROUND_TRIPS_HEADER)
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                status, payload, counted = 0, b"", None
            lat.append((time.perf_counter() - started) * 1000)
            statuses[status] += 1
            code = None
            if status == 201 and path.endswith("/authorizations"):
                try:
                    code = json.loads(payload).get("response_code", "??")
                except (ValueError, AttributeError):
                    code = "unreadable"
                answers[code] += 1
            if status == 201 and code in (None, "00") and counted is not None and counted.isdigit():
                trips.append(int(counted))
        conn.close()
        with self.lock:
            self.latencies_ms += lat
            self.statuses.update(statuses)
            self.answers.update(answers)
            self.round_trips += trips

    def run(self, concurrency: int, duration_s: float, limit: int) -> float:
        deadline = time.monotonic() + duration_s
        threads = [threading.Thread(target=self.worker, args=(i, deadline, limit), daemon=True)
                   for i in range(concurrency)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(duration_s + 60)
        return time.perf_counter() - started


def verify_over_http(port: int, token: str, attempts: int = 3) -> dict:
    """GET /api/v1/ledger/verify; a dropped connection (the server may still be draining) is retried."""
    error: Exception | None = None
    for _ in range(attempts):
        conn = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            conn.request("GET", "/api/v1/ledger/verify", headers={"Authorization": f"Bearer {token}"})
            return json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError) as failure:
            error = failure
            time.sleep(0.5)
        finally:
            conn.close()
    return {"ok": False, "problem": f"verify over HTTP failed: {type(error).__name__}: {error}"}
