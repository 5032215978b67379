"""The sandbox clock: it moves only when told (``advance 3d``), so scenarios replay exactly.

Several processes over one database share one sandbox time: the row ``sandbox_city.now`` is the
authority and each process's ``SandboxClock`` is a cache of it. ``refresh(conn)`` (or ``catch_up``)
moves the cache forward to what the database says; nothing moves it backwards. While an advance is
being written, ``pending(when)`` shows the new time to the advancing thread only, so no other thread
stamps rows with a time that might still roll back.
"""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

from ledger import ManualClock
from ledger.errors import DomainError

_PART = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
MAX_ADVANCE = timedelta(days=3660)  # ten years: a typo like "3000000d" is refused, not obeyed


class DurationError(DomainError, ValueError):
    code = "invalid_duration"


def parse_duration(text: str) -> timedelta:
    """Parse "3d", "2h30m", "90s", "1d 12h" into a timedelta; raise DurationError saying what is allowed."""
    if not isinstance(text, str) or not text.strip():
        raise DurationError(f"{text!r} is not a duration; write e.g. '3d', '2h30m' or '90s'")
    compact = text.strip().lower().replace(" ", "")
    if _PART.sub("", compact) != "" or not _PART.search(compact):
        raise DurationError(f"{text!r} is not a duration; use whole numbers with d, h, m, s (e.g. '3d', '2h30m', '90s')")
    delta = timedelta()
    for number, unit in _PART.findall(compact):
        delta += timedelta(**{_UNITS[unit]: int(number)})
    if delta > MAX_ADVANCE:
        raise DurationError(f"{text!r} is longer than the maximum advance of {MAX_ADVANCE.days} days")
    return delta


class SandboxClock(ManualClock):
    """ledger.ManualClock that also understands human durations and follows the database's time."""

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start)
        self._local = threading.local()
        self._mutex = threading.Lock()

    def now(self) -> datetime:
        pending = getattr(self._local, "pending", None)
        return pending if pending is not None else self._now

    def catch_up(self, when: datetime) -> datetime:
        """Move forward to ``when`` if it is later (another process advanced); never backwards."""
        with self._mutex:
            if when > self._now:
                self._now = utc(when)
            return self._now

    def refresh(self, conn) -> datetime:
        """Catch up with the sandbox time stored in the database (one indexed single-row read)."""
        from sqlalchemy import select

        from .tables import city_state
        stored = conn.execute(select(city_state.c.now).where(city_state.c.id == 1)).scalar()
        return self.catch_up(stored) if stored is not None else self.now()

    @contextmanager
    def pending(self, when: datetime) -> Iterator[datetime]:
        """Within the block, this thread sees ``when`` (a time being written, not yet committed)."""
        if when < self._now:
            raise DurationError("the sandbox clock never goes backwards")
        self._local.pending = utc(when)
        try:
            yield self._local.pending
        finally:
            self._local.pending = None

    def advance(self, delta: timedelta | str) -> datetime:  # type: ignore[override]
        """Move forward by ``delta`` (a timedelta or "3d"/"2h30m"/"90s"); never backwards."""
        if isinstance(delta, str):
            delta = parse_duration(delta)
        if delta < timedelta(0):
            raise DurationError("the sandbox clock never goes backwards")
        return super().advance(delta)


def utc(when: datetime) -> datetime:
    """Aware UTC datetime (naive values are taken as UTC)."""
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
