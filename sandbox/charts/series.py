"""The numbers behind each chart, computed from stored rows; pure (no I/O, no clock), integers in minor units.

Every function here is what a unit test checks against the stored facts: depth totals equal the book,
decline counts equal the declined authorizations, hourly volume sums to the approved amount.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, tzinfo

HOURS_SHOWN = 48


def depth_steps(levels: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(price_minor, cumulative quantity_minor) per level, best price first: how much trades to that price."""
    out, total = [], 0
    for price_minor, qty_minor in levels:
        total += qty_minor
        out.append((price_minor, total))
    return out


def declines_by_code(declines: list[dict]) -> list[tuple[str, int]]:
    """(response code, how many declines) by code, from the summary's ``declines`` (one line per reason)."""
    counts: Counter = Counter()
    for d in declines:
        counts[d["response_code"]] += d["count"]
    return sorted(counts.items())


def hourly_card_volume(buckets, tz: tzinfo, *, hours: int = HOURS_SHOWN) -> list[dict]:
    """Approved amount and counts per hour (in ``tz``) over the last ``hours`` hours with card activity,
    empty hours included so the gaps show; oldest first. ``buckets``: ``card.report.Bucket``s (``start``,
    ``approved``, ``approved_minor``, ``declined``) covering at least those hours."""
    if not buckets:
        return []
    by_hour: dict[datetime, dict] = {}
    for b in buckets:
        hour = b.start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        h = by_hour.setdefault(hour, {"approved_minor": 0, "approved": 0, "declined": 0})
        h["approved_minor"] += b.approved_minor
        h["approved"] += b.approved
        h["declined"] += b.declined
    last = max(by_hour)
    first = max(min(by_hour), last - timedelta(hours=hours - 1))
    out, hour = [], first
    while hour <= last:
        out.append({"hour": hour, **by_hour.get(hour, {"approved_minor": 0, "approved": 0, "declined": 0})})
        hour += timedelta(hours=1)
    return out


def balance_steps(entries: list[dict], *, sign: int = 1) -> list[tuple[datetime, int]]:
    """Running balance after each change of an account: (at, balance_minor × sign), oldest first; entries of
    one instant are merged (the balance after all of them)."""
    out: list[tuple[datetime, int]] = []
    total = 0
    for e in entries:
        total += e["amount_minor"]
        if out and out[-1][0] == e["at"]:
            out[-1] = (e["at"], total * sign)
        else:
            out.append((e["at"], total * sign))
    return out


def merge_steps(a: list[tuple[datetime, int]], b: list[tuple[datetime, int]]) -> list[tuple[datetime, int, int]]:
    """Two step series on one time axis: (at, a's value then, b's value then), oldest first."""
    times = sorted({t for t, _ in a} | {t for t, _ in b})
    out, ia, ib, va, vb = [], 0, 0, 0, 0
    for t in times:
        while ia < len(a) and a[ia][0] <= t:
            va = a[ia][1]
            ia += 1
        while ib < len(b) and b[ib][0] <= t:
            vb = b[ib][1]
            ib += 1
        out.append((t, va, vb))
    return out
