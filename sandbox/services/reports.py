"""What regulators and customers read: the regulator's summary, a customer's tax statement and AML flags,
and the proof that nothing was created or lost (``verify``).

Declines are counted by response code and reason *template* (the reason with its amounts and counts as
placeholders), so two purchases over the same daily limit are one row whatever they cost; each row says
how many, their total and one example.

Reads only. The regulator's summary is deterministic for a seed (no wall clock, no paths)."""
from __future__ import annotations

import json
from collections import Counter

from card import authorizations
from card.response_codes import is_approval
from exchange import queries as exchange_queries

from .. import audit, city_state
from ..context import CityContext
from ..errors import AuditTampered
from ..tax import Acquisition, Disposal, TaxStatement
from ..tax import statement as tax_statement_of
from . import mining_reports

MAX_ROWS = 100_000
MAX_TAX_ROWS = 1_000_000
MAX_FLAG_ROWS = 10_000
MAX_DAYS = 366   # the per-day figures cover the latest year of days with card activity
TAX_ACTIONS = ("funds.deposit", "funds.faucet", "exchange.buy", "exchange.sell", "exchange.maker_fill", "kzte.mint",
               "kzte.redeem", "card.approved", "funds.withdrawal",
               # crypto sold by an over-capture or a force post, bought back by a refund or reversal policy
               "card.capture", "card.force_post", "card.refund", "card.reverse")


def flags(city: CityContext, uow, actor: str) -> list[tuple[str, str]]:
    """Every (rule, reason) flag raised on the actor's purchases so far, approved or declined, in order."""
    city_state.require_customer(uow.conn, actor)
    return authorizations.flags_of(uow, actor, limit=MAX_FLAG_ROWS)


def tax_statement(city: CityContext, uow, actor: str, year: int) -> TaxStatement:
    """Disposals of ``year`` (exchange and card-funded sales) with FIFO basis, gain and PIT; rebuilt from
    the tax events in the audit log, so every process gives the same statement."""
    customer = city_state.require_customer(uow.conn, actor)
    acquisitions, disposals = [], []
    for at, details in audit.entries_of(uow.conn, TAX_ACTIONS, limit=MAX_TAX_ROWS):
        d = json.loads(details)
        if d.get("customer") != actor:
            continue
        for e in d.get("tax", []):
            if e["kind"] == "acquisition":
                acquisitions.append(Acquisition(at, e["asset"], e["qty_minor"], e["kzt_minor"], e["source"]))
            else:
                disposals.append(Disposal(at, e["asset"], e["qty_minor"], e["kzt_minor"], e["source"], e["ref"]))
    return tax_statement_of(actor, year, acquisitions, disposals, customer.resident, city.cfg.tax,
                            residency_basis=customer.residency_basis, tz=city.cfg.sandbox.zone)


def verify(city: CityContext):
    """Prove the ledger's invariants, the KZTE peg (whenever KZTE was ever issued on this database: a
    reopened city's chain is re-seeded from the ledger first) and the audit chain. Runs its own reads."""
    city.start_issuer_if_issued()
    report = city.ledger.verify()
    with city.ledger.unit_of_work(read_only=True) as uow:
        chain = audit.verify(uow.conn)
    if not chain.ok:
        raise AuditTampered(str(chain), first_bad_seq=chain.first_bad_seq)
    return report


def regulator_summary(city: CityContext, uow) -> dict:
    """What the regulators read: card volumes, declines by code and reason, AML flags, exchange volume,
    KZTE reserves vs supply (attestation), licence states and whether invariants hold."""
    now = uow.now()
    rows = authorizations.for_report(uow, limit=MAX_ROWS)
    volume = exchange_queries.volume_by_symbol(uow)
    approved = [r for r in rows if is_approval(r.response_code)]
    declined = [r for r in rows if not is_approval(r.response_code)]
    declines: dict[tuple[str, str], dict] = {}
    for r in declined:  # rows written before card_0003 have no template: their reason stands for itself
        row = declines.setdefault((r.response_code, r.reason_template or r.reason),
                                  {"count": 0, "amount_minor": 0, "example": r.reason})
        row["count"] += 1
        row["amount_minor"] += r.amount_minor
    by_rule: Counter = Counter()
    flagged = []
    for r in rows:
        for rule, reason in (r.flags or []):
            by_rule[rule] += 1
            flagged.append({"customer": r.cardholder_id, "merchant": r.merchant_id, "rule": rule, "reason": reason,
                            "response_code": r.response_code})
    by_day = _card_days(rows, city.cfg.sandbox.zone)
    city.start_issuer_if_issued()
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
    known = {row["id"] for row in licences}   # then licences granted at run time (a mining farm's)
    licences += [{"id": lic.id, "holder": lic.participant, "regulator": lic.regulator, "scope": lic.scope,
                  "status": lic.status(now)} for lic in sorted(city.licences.states(), key=lambda x: x.id)
                 if lic.id not in known]
    try:
        report = verify(city)
        invariants = {"verified": True, "summary": report.summary(), "checks": list(report.checks)}
    except Exception as error:  # noqa: BLE001 - the regulator is told, not shown a traceback
        invariants = {"verified": False, "summary": f"{getattr(error, 'code', type(error).__name__)}: {error}",
                      "checks": []}
    extra = {}
    if city.evm_url is not None:   # the shared EVM node: the custodian's ETH and USDT on chain vs the ledger
        from ..shared_evm import custody_on_chain
        extra["custody_onchain"] = custody_on_chain(uow.conn, city.evm_custodian)
    return {
        **extra,
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
        "declines": [{"response_code": code, "reason": template, **row}
                     for (code, template), row in sorted(declines.items())],
        "aml_flags": {"by_rule": dict(sorted(by_rule.items())), "flagged": flagged[:1000]},
        "exchange": [{"symbol": s, "trades": int(n), "qty_minor": int(q or 0), "notional_minor": int(v or 0)}
                     for s, n, q, v in volume],
        "kzte": reserves,
        "licences": licences,
        "mining": mining_reports.regulator_section(city, uow),
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
        if is_approval(r.response_code):
            d["approved"] += 1
            d["approved_minor"] += r.amount_minor
        else:
            d["declined"] += 1
    return [days[day] for day in sorted(days)[-MAX_DAYS:]]
