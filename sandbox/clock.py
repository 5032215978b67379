"""The sandbox clock: it moves only when told (``advance 3d``), so scenarios replay exactly."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from ledger import ManualClock

_PART = re.compile(r"(\d+)\s*([dhms])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
MAX_ADVANCE = timedelta(days=3660)  # ten years: a typo like "3000000d" is refused, not obeyed


class DurationError(ValueError):
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
    """ledger.ManualClock that also understands human durations."""

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
