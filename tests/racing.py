"""Real threads released at once, for the race tests (PostgreSQL row locks, SQLite's single writer)."""
from __future__ import annotations

import threading
from typing import Any, Callable


def race(n: int, work: Callable[[int], Any]) -> list:
    """Run ``work(i)`` in ``n`` threads released at once; return each result or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait(timeout=60)
        try:
            results[i] = work(i)
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return results
