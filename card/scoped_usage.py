"""What a card spent, and how many purchases it made, at one merchant category or one merchant: the usage
a scoped spend limit (``controls.ScopedLimit``) is checked against.

Read from the card's approved authorizations themselves (no counter of its own): a scoped limit is rare,
and the authorizations already say what each purchase took — what was captured, over-captures included,
plus what is still held — so a reversal, an expiry or an incremental authorization shows here as in the
card-wide counters (``authorization.rebuild_usage`` counts the same way). Only the scopes a purchase
matches are read, one statement each, over the card's (card_id, created_at) index.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from ledger.types import to_micros

from . import kinds as _kinds
from . import response_codes as rc
from .controls import DAY, LIFETIME, MCC_SCOPE, MERCHANT_SCOPE, MONTH, WEEK, ScopedLimit, WindowUsage

_SPENT = ("(a.captured_minor + CASE WHEN a.amount_minor - a.captured_minor - a.reversed_minor > 0 "
          "THEN a.amount_minor - a.captured_minor - a.reversed_minor ELSE 0 END)")
_IN = "a.created_at >= :{w}_from AND a.created_at < :{w}_to"
_WINDOWED = (DAY, WEEK, MONTH)
_SELECT = ("SELECT " + ", ".join(f"COALESCE(SUM(CASE WHEN {_IN.format(w=w)} THEN {_SPENT} ELSE 0 END), 0), "
                                 f"COALESCE(SUM(CASE WHEN {_IN.format(w=w)} THEN 1 ELSE 0 END), 0)" for w in _WINDOWED)
           + f", COALESCE(SUM({_SPENT}), 0), COUNT(*) FROM card_authorizations a")
_WHERE = (f" WHERE a.card_id = :card_id AND a.response_code IN ({', '.join(repr(c) for c in sorted(rc.APPROVALS))}) "
          f"AND a.kind <> '{_kinds.UNLINKED_REFUND}'")
_BY_SCOPE = {
    MCC_SCOPE: _SELECT + " JOIN card_merchants m ON m.id = a.merchant_id" + _WHERE + " AND m.mcc = :value",
    MERCHANT_SCOPE: _SELECT + _WHERE + " AND a.merchant_id = :value",
}


def _local_midnight(day: date, tz: tzinfo) -> int:
    return to_micros(datetime(day.year, day.month, day.day, tzinfo=tz))


def window_bounds(at: datetime, tz: tzinfo) -> dict[str, tuple[int, int]]:
    """The programme's day, week (Monday to Sunday) and month that ``at`` falls in, in the calendar of
    ``tz``, as [from, to) in epoch microseconds."""
    today = at.astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    next_first = (first + timedelta(days=32)).replace(day=1)
    return {DAY: (_local_midnight(today, tz), _local_midnight(today + timedelta(days=1), tz)),
            WEEK: (_local_midnight(monday, tz), _local_midnight(monday + timedelta(days=7), tz)),
            MONTH: (_local_midnight(first, tz), _local_midnight(next_first, tz))}


def scoped_usage(uow, card_id: int, at: datetime, rules: tuple[ScopedLimit, ...], *,
                 tz: tzinfo) -> dict[tuple[str, str], WindowUsage]:
    """The card's usage at each scope ``rules`` name, in the day, week and month of ``at`` and over its life."""
    scopes = sorted({rule.scope for rule in rules})
    if not scopes:
        return {}
    params = {"card_id": card_id}
    for window, (start, end) in window_bounds(at, tz).items():
        params[f"{window}_from"], params[f"{window}_to"] = start, end
    found = {}
    for kind, value in scopes:
        row = uow.sql.one(_BY_SCOPE[kind], {**params, "value": value})
        amounts = {DAY: row[0], WEEK: row[2], MONTH: row[4], LIFETIME: row[6]}
        counts = {DAY: row[1], WEEK: row[3], MONTH: row[5], LIFETIME: row[7]}
        found[kind, value] = WindowUsage({w: int(v) for w, v in amounts.items()}, {w: int(v) for w, v in counts.items()})
    return found
