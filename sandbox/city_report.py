"""The regulator's summary of a CryptoCity: card volumes, declines by code and reason, AML flags, exchange
volume, KZTE reserves vs supply (from the issuer's attestation), licence states, invariants verified.

JSON-able dict; deterministic for a seed (no wall clock, no paths). Declines are counted by response code
and reason *template* (the reason with its amounts and counts as placeholders), so two purchases over the
same daily limit are one row whatever they cost; each row says how many, their total and one example.
"""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

MAX_ROWS = 100_000


def regulator_summary(city) -> dict:
    from card.tables import authorizations as a
    from exchange.tables import trades as tr

    now = city.clock.now()
    with city.ledger.unit_of_work(read_only=True) as uow:
        conn = uow.conn
        rows = conn.execute(select(a.c.cardholder_id, a.c.merchant_id, a.c.amount_minor, a.c.response_code, a.c.reason,
                                   a.c.reason_template, a.c.status, a.c.captured_minor, a.c.refunded_minor,
                                   a.c.reversed_minor,
                                   a.c.shortfall_minor, a.c.conversion_fee_minor, a.c.flags)
                            .order_by(a.c.id).limit(MAX_ROWS)).all()
        volume = conn.execute(select(tr.c.symbol, func.count(), func.sum(tr.c.qty_minor), func.sum(tr.c.notional_minor))
                              .group_by(tr.c.symbol).order_by(tr.c.symbol)).all()
    approved = [r for r in rows if r.response_code == "00"]
    declined = [r for r in rows if r.response_code != "00"]
    declines: dict[tuple[str, str], dict] = {}
    for r in declined:  # rows written before card_0003 have no template: their reason stands for itself
        row = declines.setdefault((r.response_code, r.reason_template or r.reason),
                                  {"count": 0, "amount_minor": 0, "example": r.reason})
        row["count"] += 1
        row["amount_minor"] += r.amount_minor
    flags = Counter()
    flagged = []
    for r in rows:
        for rule, reason in (r.flags or []):
            flags[rule] += 1
            flagged.append({"customer": r.cardholder_id, "merchant": r.merchant_id, "rule": rule, "reason": reason,
                            "response_code": r.response_code})
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
        "card": {
            "authorizations": len(rows), "approved": len(approved), "declined": len(declined),
            "approved_minor": sum(r.amount_minor for r in approved),
            "captured_minor": sum(r.captured_minor for r in approved),
            "refunded_minor": sum(r.refunded_minor for r in approved),
            "reversed_minor": sum(r.reversed_minor for r in approved),
            "crypto_funded_minor": sum(r.shortfall_minor for r in approved),
            "conversion_fees_minor": sum(r.conversion_fee_minor for r in approved),
        },
        "declines": [{"response_code": code, "reason": template, **row}
                     for (code, template), row in sorted(declines.items())],
        "aml_flags": {"by_rule": dict(sorted(flags.items())), "flagged": flagged[:1000]},
        "exchange": [{"symbol": s, "trades": int(n), "qty_minor": int(q or 0), "notional_minor": int(v or 0)}
                     for s, n, q, v in volume],
        "kzte": reserves,
        "licences": licences,
        "invariants": invariants,
    }
