"""The regulator's card figures, added up by the database (card/report.py), equal what adding up every
stored authorization in Python gives — on both databases, across a DST change, for times before 1970 and
for rows written before the reason templates — and the regulator's summary counts every authorization."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from card import report
from card import tables as t
from card.response_codes import is_approval
from sandbox.charts.series import hourly_card_volume
from sandbox.services.reports import card_days

BERLIN = ZoneInfo("Europe/Berlin")   # 27 October 2024: 03:00 CEST became 02:00 CET
DST_BACK = datetime(2024, 10, 27, 1, 0, tzinfo=timezone.utc)
CODES = ("00", "10", "51", "61", "59", "14")
TEMPLATES = ("the amount {amount} is over the daily limit", "merchant {merchant} is blocked", None)
RULES = ("large_transaction", "blocklist_merchant", "velocity")


def _rows(draw_rows: list[tuple]) -> list[dict]:
    rows = []
    for i, (code, template, amount, minutes, flags, captured) in enumerate(draw_rows):
        approved = is_approval(code)
        rows.append(dict(
            idempotency_key=f"k{i}", request_hash="h", card_id=1, cardholder_id=f"cust:{i % 3}",
            merchant_id=f"m{i % 4}", amount_minor=amount, response_code=code,
            reason=f"reason {code} #{i}", reason_template=None if approved else template,
            status="approved" if approved else "declined", shortfall_minor=amount // 3 if approved else 0,
            conversion_fee_minor=amount // 100 if approved else 0, captured_minor=captured if approved else 0,
            reversed_minor=0, refunded_minor=captured // 2 if approved else 0,
            flags=[[RULES[f], f"why {f}"] for f in flags], created_at=DST_BACK + timedelta(minutes=minutes)))
    return rows


row_strategy = st.tuples(st.sampled_from(CODES), st.sampled_from(TEMPLATES), st.integers(1, 10**9),
                         # from 1969 (before the epoch) to a month after the DST change, mostly around it
                         st.one_of(st.integers(-3 * 60, 6 * 60), st.integers(-55 * 365 * 24 * 60, 40 * 24 * 60)),
                         st.lists(st.integers(0, 2), max_size=3), st.integers(0, 10**9))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(row_strategy, max_size=40))
def test_the_databases_sums_equal_every_row_added_up(ledger, drawn):
    rows = _rows(drawn)
    with ledger.unit_of_work() as uow:
        uow.conn.execute(delete(t.authorizations))
        if rows:
            uow.conn.execute(insert(t.authorizations), rows)
        uow.commit()
    with ledger.unit_of_work(read_only=True) as uow:
        totals, groups = report.totals(uow), report.decline_groups(uow)
        by_rule, flagged = report.flags_by_rule(uow), report.flagged(uow)
        buckets = report.buckets(uow, limit=10**6)

    approved = [r for r in rows if is_approval(r["response_code"])]
    assert totals == report.Totals(
        len(rows), len(approved), len(rows) - len(approved), sum(r["amount_minor"] for r in approved),
        sum(r["captured_minor"] for r in approved), sum(r["refunded_minor"] for r in approved), 0,
        sum(r["shortfall_minor"] for r in approved), sum(r["conversion_fee_minor"] for r in approved))

    expected: dict[tuple[str, str], list] = {}
    for r in rows:   # in id order: the first of a group is its example
        if not is_approval(r["response_code"]):
            g = expected.setdefault((r["response_code"], r["reason_template"] or r["reason"]), [0, 0, r["reason"]])
            g[0] += 1
            g[1] += r["amount_minor"]
    assert [(g.response_code, g.reason, g.count, g.amount_minor, g.example) for g in groups] == \
        [(code, reason, *g) for (code, reason), g in sorted(expected.items())]

    assert by_rule == dict(sorted(Counter(f[0] for r in rows for f in r["flags"]).items()))
    assert [(f.cardholder_id, f.merchant_id, f.response_code, [list(x) for x in f.flags]) for f in flagged] == \
        [(r["cardholder_id"], r["merchant_id"], r["response_code"], r["flags"]) for r in rows if r["flags"]]

    # per local day and per local hour, as the summary and the hourly chart show them
    def per(key):
        out: dict = {}
        for r in rows:
            k = key(r["created_at"].astimezone(BERLIN))
            d = out.setdefault(k, [0, 0, 0])
            ok = is_approval(r["response_code"])
            d[0] += ok
            d[1] += r["amount_minor"] if ok else 0
            d[2] += not ok
        return out
    days = per(lambda local: local.date().isoformat())
    assert card_days(buckets, BERLIN, days=10**6) == [
        {"day": day, "authorizations": d[0] + d[2], "approved": d[0], "declined": d[2], "approved_minor": d[1]}
        for day, d in sorted(days.items())]
    hours = per(lambda local: local.replace(minute=0, second=0, microsecond=0))
    shown = hourly_card_volume(buckets, BERLIN)
    if rows:
        last = max(hours)
        recent = {h: d for h, d in hours.items() if h >= last - timedelta(hours=47)}
        assert {h["hour"]: [h["approved"], h["approved_minor"], h["declined"]] for h in shown
                if h["approved"] or h["declined"]} == recent
    ledger.verify()


def test_the_newest_buckets_cut_at_a_limit_still_give_whole_days(ledger):
    """``card_days`` is given the newest (days + 1) × 100 buckets: the oldest day they reach may be cut, and
    it is not among the days shown."""
    rows = _rows([("00", None, 100, minutes, [], 0) for minutes in range(0, 4 * 24 * 60, 15)])  # from 01:00 UTC
    with ledger.unit_of_work() as uow:
        uow.conn.execute(insert(t.authorizations), rows)
        uow.commit()
    with ledger.unit_of_work(read_only=True) as uow:
        every = report.buckets(uow, limit=10**6)
        newest = report.buckets(uow, limit=(2 + 1) * report.BUCKETS_PER_DAY_MAX)
    assert [d["authorizations"] for d in card_days(every, timezone.utc)] == [92, 96, 96, 96, 4]
    assert [d["authorizations"] for d in card_days(newest, timezone.utc)] == [8, 96, 96, 96, 4]   # 27 Oct cut
    assert card_days(newest, timezone.utc, days=2) == card_days(every, timezone.utc, days=2)
    ledger.verify()
