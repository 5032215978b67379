"""The retry schedule: when each attempt of a delivery is made, in WALL-CLOCK time.

The default follows the Standard Webhooks recommendation — immediately, then 5 s, 5 min, 30 min, 2 h,
5 h, 10 h and 10 h after each failure: eight attempts over about 27.6 hours. Wall time, not sandbox
time: the receiver is a real app that recovers in real time, and its signature check compares the
timestamp with its own clock. ``CRYPTOCITY_WEBHOOK_RETRY_SCHEDULE`` (or ``--retry-schedule``) replaces
it, e.g. ``0,0.2,0.2`` for a test: three attempts 0.2 s apart.
"""
from __future__ import annotations

import os
import re

ENVVAR = "CRYPTOCITY_WEBHOOK_RETRY_SCHEDULE"
DEFAULT_TEXT = "0,5s,5m,30m,2h,5h,10h,10h"
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")
MAX_ATTEMPTS = 20


def parse(text: str) -> tuple[float, ...]:
    """``"0,5s,5m"`` -> ``(0.0, 5.0, 300.0)``: the delay before each attempt, counted from the event
    (the first) or from the failure before it; plain numbers are seconds."""
    delays = []
    for part in text.split(","):
        match = _DELAY.match(part)
        if match is None:
            raise ValueError(f"retry schedule {text!r}: {part.strip()!r} is not a delay like 5, 0.5s, 5m or 2h")
        delays.append(float(match[1]) * _UNITS[match[2]])
    if not 1 <= len(delays) <= MAX_ATTEMPTS:
        raise ValueError(f"retry schedule {text!r}: between 1 and {MAX_ATTEMPTS} attempts")
    return tuple(delays)


DEFAULT = parse(DEFAULT_TEXT)


def from_environment() -> tuple[float, ...]:
    text = os.environ.get(ENVVAR)
    return parse(text) if text else DEFAULT


def describe(schedule: tuple[float, ...]) -> str:
    def one(seconds: float) -> str:
        for unit, size in (("h", 3600), ("m", 60)):
            if seconds >= size and seconds % size == 0:
                return f"{int(seconds // size)}{unit}"
        return f"{seconds:g}s"
    return ", ".join("immediately" if i == 0 and d == 0 else one(d) for i, d in enumerate(schedule))
