"""Checkpoint SQLite's write-ahead log off the request path.

SQLite copies the WAL back into the database file (a "checkpoint") when the WAL grows
past ``wal_autocheckpoint`` pages, on the thread of whichever commit crossed the line;
with ``synchronous=NORMAL`` that commit then pays the checkpoint's fsyncs. Measured on
``bench card``: an authorization dirties ~30 pages (4 KiB ones), so every ~30th one took 15-25 ms
instead of 1.5 ms (p99 20 ms, a third of all the time spent).

One daemon thread per process runs PASSIVE checkpoints — which never block writers or
readers — every ``INTERVAL_S`` on each database that committed since its last pass, on
its own connection (sqlite3 releases the GIL while it works, so commits go on). Each
connection's own autocheckpoint stays as a safety net (``SAFETY_NET_BYTES``) for when
the thread falls behind. A forked child (a gunicorn worker) starts its own thread.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from collections import deque
from urllib.parse import quote

INTERVAL_S = 0.25
SAFETY_NET_BYTES = 32 * 1024 * 1024   # of WAL: in pages of the file's own size (1 KiB for a new file, 4 KiB before)


class Checkpointer:
    """Process-wide registry of SQLite files to checkpoint, and the thread that does it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[int, str] = {}       # registration token -> database file
        self._dirty: set[str] = set()
        self._wake = threading.Event()
        self._pid: int | None = None
        # Tokens to drop. ``unregister`` runs from a ``weakref.finalize`` — that is, from the garbage
        # collector, on whatever thread allocates at that moment, possibly one inside ``with self._lock``
        # here — so it must not take the lock: it only appends (atomic), and the lock holders drain it.
        self._removed: deque[int] = deque()

    def register(self, path: str) -> int:
        """Start checkpointing ``path``; returns the token for ``unregister``."""
        with self._lock:
            self._drain()
            token = max(self._paths, default=0) + 1
            self._paths[token] = path
            if self._pid != os.getpid():  # first use in this process (or in a forked child)
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="sqlite-wal-checkpointer", daemon=True).start()
            return token

    def unregister(self, token: int) -> None:
        """Stop checkpointing the registration ``token`` (safe to call from a finalizer, on any thread)."""
        self._removed.append(token)

    def _drain(self) -> None:
        # Called with self._lock held.
        while self._removed:
            self._paths.pop(self._removed.popleft(), None)

    def committed(self, path: str) -> None:
        """A transaction on ``path`` committed: its WAL has frames to copy back."""
        with self._lock:
            self._dirty.add(path)

    def flush(self, path: str) -> None:
        """Copy the whole WAL into the database file now and empty it (on ``Database.dispose``), so the
        file alone holds every commit — as it did when the last connection's close checkpointed it —
        and can be copied or archived."""
        try:
            conn = _open_existing(path)
            try:
                conn.execute("PRAGMA busy_timeout=5000")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                conn.close()
        except sqlite3.Error:
            pass  # the file is gone or busy: the next opener recovers the WAL, nothing is lost

    def _run(self) -> None:
        connections: dict[str, sqlite3.Connection] = {}
        while not self._wake.wait(INTERVAL_S):
            with self._lock:
                self._drain()
                dirty, self._dirty = self._dirty, set()
                live = set(self._paths.values())
            for path in list(connections):
                if path not in live:
                    connections.pop(path).close()
            for path in dirty & live:
                try:
                    conn = connections.get(path)
                    if conn is None:
                        conn = connections[path] = _open_existing(path)
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    # The file went away (a test's temp dir) or is busy: the next commit marks it again,
                    # and the connections' own autocheckpoint is the safety net.
                    stale = connections.pop(path, None)
                    if stale is not None:
                        stale.close()


def _open_existing(path: str) -> sqlite3.Connection:
    """A connection to ``path`` that fails rather than create an empty database where a deleted one was."""
    return sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, isolation_level=None, check_same_thread=False)


CHECKPOINTER = Checkpointer()
