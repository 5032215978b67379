"""Time for domain code. Nothing in the domain calls ``datetime.now()``: it asks a clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current sandbox time, an aware UTC datetime."""


class ManualClock:
    """A clock that moves only when told, so scenarios replay exactly."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)
        assert start.tzinfo is not None, "sandbox time must be timezone-aware (UTC)"
        self._now = start.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        assert delta >= timedelta(0), "the sandbox clock never goes backwards"
        self._now += delta
        return self._now

    def set(self, when: datetime) -> datetime:
        assert when.tzinfo is not None and when >= self._now, "the sandbox clock never goes backwards"
        self._now = when.astimezone(timezone.utc)
        return self._now

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"
