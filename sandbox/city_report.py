"""The regulator's summary of a CryptoCity: card volumes (in total and per day), declines by code and
reason, AML flags, exchange volume, KZTE reserves vs supply (from the issuer's attestation), licence
states, invariants verified. Days are the city's calendar days (``sandbox.timezone``).

JSON-able dict; deterministic for a seed (no wall clock, no paths).
"""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

MAX_ROWS = 100_000
MAX_DAYS = 366   # the per-day figures cover the latest year of days with card activity


def regulator_summary(city) -> dict:
    from card.tables import authorizations as a
    from exchange.tables import trades as tr

    now = city.clock.now()
    with city.ledger.unit_of_work(read_only=True) as uow:
        conn = uow.conn
        rows = conn.execute(select(a.c.cardholder_id, a.c.merchant_id, a.c.amount_minor, a.c.response_code, a.c.reason,
                                   a.c.status, a.c.captured_minor, a.c.refunded_minor, a.c.reversed_minor,
                                   a.c.shortfall_minor, a.c.conversion_fee_minor, a.c.flags, a.c.created_at)
                            .order_by(a.c.id).limit(MAX_ROWS)).all()
        volume = conn.execute(select(tr.c.symbol, func.count(), func.sum(tr.c.qty_minor), func.sum(tr.c.notional_minor))
                              .group_by(tr.c.symbol).order_by(tr.c.symbol)).all()
    approved = [r for r in rows if r.response_code == "00"]
    declined = [r for r in rows if r.response_code != "00"]
    declines = Counter((r.response_code, r.reason) for r in declined)
    flags = Counter()
    flagged = []
    for r in rows:
        for rule, reason in (r.flags or []):
            flags[rule] += 1
            flagged.append({"customer": r.cardholder_id, "merchant": r.merchant_id, "rule": rule, "reason": reason,
                            "response_code": r.response_code})
    by_day = _card_days(rows, city.cfg.sandbox.zone)
    if city.issuer_started:
        from stablecoin import attest
        att = attest(city.ledger, city.issuer)
        reserves = {k: att[k] for k in ("reserve_minor", "supply_minor", "liability_minor", "excess_reserve_minor",
                                        "reserve_ratio", "peg_holds", "problem")}
    else:
        reserves = {"reserve_minor": 0, "supply_minor": 0, "liability_minor": 0, "excess_reserve_minor": 0,
                    "reserve_ratio": None, "peg_holds": True, "problem": None, "note": "no KZTE issued yet"}
    licences = []
    for holder in list(city.cfg.participants) + list(city.cfg.merchants):
        for lic in holder.licences:
            state = city.licences.get(lic.id)
            licences.append({"id": lic.id, "holder": holder.id, "regulator": lic.regulator, "scope": lic.scope,
                             "status": state.status(now)})
    try:
        report = city.verify()
        invariants = {"verified": True, "summary": report.summary(), "checks": list(report.checks)}
    except Exception as error:  # noqa: BLE001 - the regulator is told, not shown a traceback
        invariants = {"verified": False, "summary": f"{getattr(error, 'code', type(error).__name__)}: {error}",
                      "checks": []}
    return {
        "at": now.isoformat(),
        "city": city.cfg.sandbox.name,
        "timezone": city.cfg.sandbox.timezone,
        "card": {
            "authorizations": len(rows), "approved": len(approved), "declined": len(declined),
            "approved_minor": sum(r.amount_minor for r in approved),
            "captured_minor": sum(r.captured_minor for r in approved),
            "refunded_minor": sum(r.refunded_minor for r in approved),
            "reversed_minor": sum(r.reversed_minor for r in approved),
            "crypto_funded_minor": sum(r.shortfall_minor for r in approved),
            "conversion_fees_minor": sum(r.conversion_fee_minor for r in approved),
        },
        "card_by_day": by_day,
        "declines": [{"response_code": code, "reason": reason, "count": n}
                     for (code, reason), n in sorted(declines.items())],
        "aml_flags": {"by_rule": dict(sorted(flags.items())), "flagged": flagged[:1000]},
        "exchange": [{"symbol": s, "trades": int(n), "qty_minor": int(q or 0), "notional_minor": int(v or 0)}
                     for s, n, q, v in volume],
        "kzte": reserves,
        "licences": licences,
        "invariants": invariants,
    }


def _card_days(rows, tz) -> list[dict]:
    """Authorizations per calendar day in ``tz`` (the days the card's daily limits count), oldest first."""
    days: dict[str, dict] = {}
    for r in rows:
        day = r.created_at.astimezone(tz).date().isoformat()
        d = days.setdefault(day, {"day": day, "authorizations": 0, "approved": 0, "declined": 0,
                                  "approved_minor": 0})
        d["authorizations"] += 1
        if r.response_code == "00":
            d["approved"] += 1
            d["approved_minor"] += r.amount_minor
        else:
            d["declined"] += 1
    return [days[day] for day in sorted(days)[-MAX_DAYS:]]
