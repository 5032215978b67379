"""What regulators and customers read: the regulator's summary, a customer's tax statement and AML flags,
and the proof that nothing was created or lost (``verify``).

Declines are counted by response code and reason *template* (the reason with its amounts and counts as
placeholders), so two purchases over the same daily limit are one row whatever they cost; each row says
how many, their total and one example.

Reads only. The regulator's summary is deterministic for a seed (no wall clock, no paths)."""
from __future__ import annotations

import json

from card import authorizations
from card import report as card_report
from exchange import queries as exchange_queries

from .. import audit, city_state
from ..context import CityContext
from ..errors import AuditTampered
from ..tax import Acquisition, Disposal, TaxStatement
from ..tax import statement as tax_statement_of
from . import mining_reports

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
    for at, details in audit.entries_of(uow.conn, TAX_ACTIONS, customer=actor, limit=MAX_TAX_ROWS):
        d = json.loads(details)
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
    totals = card_report.totals(uow)
    volume = exchange_queries.volume_by_symbol(uow)
    declines = card_report.decline_groups(uow)
    by_rule = card_report.flags_by_rule(uow)
    flagged = [{"customer": r.cardholder_id, "merchant": r.merchant_id, "rule": rule, "reason": reason,
                "response_code": r.response_code} for r in card_report.flagged(uow) for rule, reason in r.flags]
    by_day = card_days(card_report.buckets(uow, limit=(MAX_DAYS + 1) * card_report.BUCKETS_PER_DAY_MAX),
                       city.cfg.sandbox.zone)
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
            "authorizations": totals.authorizations, "approved": totals.approved, "declined": totals.declined,
            "approved_minor": totals.approved_minor,
            "captured_minor": totals.captured_minor,
            "refunded_minor": totals.refunded_minor,
            "reversed_minor": totals.reversed_minor,
            "crypto_funded_minor": totals.crypto_funded_minor,
            "conversion_fees_minor": totals.conversion_fees_minor,
        },
        "card_by_day": by_day,
        "declines": [{"response_code": g.response_code, "reason": g.reason, "count": g.count,
                      "amount_minor": g.amount_minor, "example": g.example} for g in declines],
        "aml_flags": {"by_rule": by_rule, "flagged": flagged[:card_report.MAX_FLAGGED_ROWS]},
        "exchange": [{"symbol": s, "trades": int(n), "qty_minor": int(q or 0), "notional_minor": int(v or 0)}
                     for s, n, q, v in volume],
        "kzte": reserves,
        "licences": licences,
        "mining": mining_reports.regulator_section(city, uow),
        "invariants": invariants,
    }


def card_days(buckets: list[card_report.Bucket], tz, *, days: int = MAX_DAYS) -> list[dict]:
    """Authorizations per calendar day in ``tz`` (the days the card's daily limits count), oldest first: the
    latest ``days`` days with card activity. ``buckets`` (oldest first) must hold every bucket of those days:
    the newest ``(days + 1) * BUCKETS_PER_DAY_MAX`` do (a day has at most that many), and the oldest day they
    reach, which may be cut, is then not among the latest ``days``."""
    by_day: dict[str, dict] = {}
    for b in buckets:
        day = b.start.astimezone(tz).date().isoformat()
        d = by_day.setdefault(day, {"day": day, "authorizations": 0, "approved": 0, "declined": 0,
                                    "approved_minor": 0})
        d["authorizations"] += b.approved + b.declined
        d["approved"] += b.approved
        d["declined"] += b.declined
        d["approved_minor"] += b.approved_minor
    return [by_day[day] for day in sorted(by_day)[-days:]]
