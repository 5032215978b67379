"""Tax statement per customer: crypto disposals with FIFO cost basis, gain and personal income tax.

Pure: the facade passes the customer's acquisitions and disposals (card-funded sales included).
Rules (Kazakhstan, 2025, rates from configuration): PIT on the year's net gain from selling
digital assets, 10% for residents, 20% for non-residents; sales of digital assets are VAT-exempt.
Residency: present on at least 183 days in any 12 consecutive months (90 for AIFC investors).

Rounding (all integers, tiyn):
  * the cost basis of a partly sold lot is the lot's cost * sold / lot quantity, rounded down,
    and the slice that empties a lot takes exactly the remaining cost, so a lot's whole cost
    is allocated once — no tiyn is created or lost across disposals;
  * PIT = net gain * rate, rounded half up to the tiyn; no tax on a net loss.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from ledger.errors import DomainError

from .config.models import TaxCfg

MAX_EVENTS = 100_000


class TaxError(DomainError, ValueError):
    code = "tax_error"


@dataclass(frozen=True)
class Acquisition:
    at: datetime
    asset: str
    qty_minor: int
    cost_kzt_minor: int          # what it cost in tiyn, fees included
    source: str = "buy"          # buy | deposit | faucet


@dataclass(frozen=True)
class Disposal:
    at: datetime
    asset: str
    qty_minor: int
    proceeds_kzt_minor: int      # tiyn received, net of exchange fees
    source: str = "sell"         # sell | card (a card-funded sale) | transfer_out (see TRANSFER_OUT)
    reference: str = ""


# Coins leaving custody for the customer's own external wallet: not a sale (no line, no gain), but
# their FIFO lots leave with them, so a later sale here is not given the withdrawn coins' cost.
TRANSFER_OUT = "transfer_out"


# The audit entry of every change that acquires or disposes of crypto carries its tax events
# (``details["tax"]``); a customer's statement is rebuilt from them (services/reports.py).
ACQUISITION, DISPOSAL = "acquisition", "disposal"


def tax_events(kind: str, asset: str, qty_minor: int, kzt_minor: int, source: str, ref: str = "") -> list[dict]:
    """The tax event list for one audit entry: empty for tenge or nothing moved."""
    if asset == "KZT" or qty_minor <= 0:
        return []
    return [{"kind": kind, "asset": asset, "qty_minor": qty_minor, "kzt_minor": kzt_minor, "source": source,
             "ref": ref}]


@dataclass(frozen=True)
class DisposalLine:
    at: datetime
    asset: str
    qty_minor: int
    proceeds_kzt_minor: int
    cost_basis_kzt_minor: int
    gain_kzt_minor: int
    source: str
    reference: str
    basis_unknown_qty_minor: int = 0   # sold beyond known acquisitions: zero cost assumed
    vat: str = "exempt"


@dataclass(frozen=True)
class TaxStatement:
    customer_id: str
    year: int
    resident: bool
    pit_rate_pct: Decimal
    lines: list[DisposalLine] = field(default_factory=list)
    total_proceeds_kzt_minor: int = 0
    total_cost_kzt_minor: int = 0
    net_gain_kzt_minor: int = 0
    pit_kzt_minor: int = 0
    vat: str = "exempt (sales of digital assets)"
    residency_basis: str = ""    # which rule made the person resident or not, in words

    def to_dict(self) -> dict:
        return {"customer_id": self.customer_id, "year": self.year, "resident": self.resident,
                "residency_basis": self.residency_basis,
                "pit_rate_pct": str(self.pit_rate_pct), "vat": self.vat,
                "total_proceeds_kzt_minor": self.total_proceeds_kzt_minor,
                "total_cost_kzt_minor": self.total_cost_kzt_minor,
                "net_gain_kzt_minor": self.net_gain_kzt_minor, "pit_kzt_minor": self.pit_kzt_minor,
                "disposals": [{"at": ln.at.isoformat(), "asset": ln.asset, "qty_minor": ln.qty_minor,
                               "proceeds_kzt_minor": ln.proceeds_kzt_minor,
                               "cost_basis_kzt_minor": ln.cost_basis_kzt_minor, "gain_kzt_minor": ln.gain_kzt_minor,
                               "source": ln.source, "reference": ln.reference, "vat": ln.vat,
                               "basis_unknown_qty_minor": ln.basis_unknown_qty_minor} for ln in self.lines]}


def fifo_disposals(acquisitions: Iterable[Acquisition], disposals: Iterable[Disposal]) -> list[DisposalLine]:
    """Match disposals to acquisitions first-in first-out, per asset, in time order. A ``TRANSFER_OUT``
    consumes lots like a sale but yields no line."""
    acqs = sorted(acquisitions, key=lambda a: a.at)
    disps = sorted(disposals, key=lambda d: d.at)
    if len(acqs) + len(disps) > MAX_EVENTS:
        raise TaxError(f"more than {MAX_EVENTS} events; split the statement period")
    lots: dict[str, deque[list[int]]] = {}   # asset -> [remaining_qty, remaining_cost]
    out: list[DisposalLine] = []
    i = 0
    for d in disps:
        if d.qty_minor <= 0 or d.proceeds_kzt_minor < 0 or (d.source == TRANSFER_OUT and d.proceeds_kzt_minor):
            raise TaxError(f"disposal {d.reference or d.at.isoformat()} has a non-positive quantity or negative proceeds")
        while i < len(acqs) and acqs[i].at <= d.at:
            a = acqs[i]
            lots.setdefault(a.asset, deque()).append([a.qty_minor, a.cost_kzt_minor])
            i += 1
        queue = lots.setdefault(d.asset, deque())
        need, cost = d.qty_minor, 0
        while need and queue:
            lot = queue[0]
            take = min(need, lot[0])
            if take == lot[0]:
                slice_cost = lot[1]                    # emptying the lot takes exactly what is left
                queue.popleft()
            else:
                slice_cost = lot[1] * take // lot[0]   # round down; the remainder stays with the lot
                lot[0] -= take
                lot[1] -= slice_cost
            cost += slice_cost
            need -= take
        if d.source == TRANSFER_OUT:
            continue
        out.append(DisposalLine(d.at, d.asset, d.qty_minor, d.proceeds_kzt_minor, cost, d.proceeds_kzt_minor - cost,
                                d.source, d.reference, basis_unknown_qty_minor=need))
    return out


def _pct_of(amount_minor: int, pct: Decimal) -> int:
    return int((Decimal(amount_minor) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def statement(customer_id: str, year: int, acquisitions: Iterable[Acquisition], disposals: Iterable[Disposal],
              resident: bool, cfg: TaxCfg, residency_basis: str = "", *, tz: tzinfo) -> TaxStatement:
    """The customer's statement for calendar ``year`` in the zone ``tz`` (the city's: a sale at 20:00 UTC
    on 31 December is already in the next tax year in Kazakhstan): every disposal, FIFO basis, gain, PIT, VAT."""
    lines = [ln for ln in fifo_disposals(acquisitions, disposals) if ln.at.astimezone(tz).year == year]
    rate = cfg.pit_resident_pct if resident else cfg.pit_non_resident_pct
    proceeds = sum(ln.proceeds_kzt_minor for ln in lines)
    cost = sum(ln.cost_basis_kzt_minor for ln in lines)
    net = proceeds - cost
    vat = "exempt (sales of digital assets)" if cfg.vat_digital_assets_exempt else f"{cfg.vat_pct}%"
    if not cfg.vat_digital_assets_exempt:
        lines = [DisposalLine(**{**ln.__dict__, "vat": f"{cfg.vat_pct}%"}) for ln in lines]
    return TaxStatement(customer_id, year, resident, rate, lines, proceeds, cost, net,
                        _pct_of(max(net, 0), rate), vat, residency_basis)


def is_resident(days_present: Iterable[date], cfg: TaxCfg, aifc_investor: bool = False) -> bool:
    """True if present on >= residency_days (90 for AIFC investors) days in any 12 consecutive months.

    A window is the 12 months starting on a day of presence (same day next year, exclusive).
    """
    needed = cfg.residency_days_aifc_investor if aifc_investor else cfg.residency_days
    days = sorted(set(days_present))
    j = 0
    for i, start in enumerate(days):
        end = _add_year(start)
        j = max(j, i)
        while j < len(days) and days[j] < end:
            j += 1
        if j - i >= needed:
            return True
    return False


@dataclass(frozen=True)
class Residency:
    resident: bool
    basis: str                   # the rule that decided, in words a workshop participant understands


def residency_from_days(days_in_kazakhstan: int, as_of: date, cfg: TaxCfg, aifc_investor: bool = False) -> Residency:
    """Residency of someone present on ``days_in_kazakhstan`` days of the 12 months before ``as_of``.

    The days are taken as the ones just before ``as_of`` (the person arrived ``days`` days ago and
    stayed), then judged by ``is_resident``: at least ``residency_days`` (183) in 12 consecutive
    months, ``residency_days_aifc_investor`` (90) for people investing through the AIFC.
    Raises TaxError (changing nothing) for a count that is not a whole number of days in that year.
    """
    window_days = (as_of - _add_year(as_of, -1)).days
    if isinstance(days_in_kazakhstan, bool) or not isinstance(days_in_kazakhstan, int) \
            or not 0 <= days_in_kazakhstan <= window_days:
        raise TaxError(f"days_in_kazakhstan counts days present in the 12 months before {as_of.isoformat()}: "
                       f"a whole number from 0 to {window_days}, got {days_in_kazakhstan!r}")
    present = [as_of - timedelta(days=n) for n in range(1, days_in_kazakhstan + 1)]
    resident = is_resident(present, cfg, aifc_investor)
    needed = cfg.residency_days_aifc_investor if aifc_investor else cfg.residency_days
    rule = (f"the AIFC-investor rule ({needed} days in 12 consecutive months)" if aifc_investor
            else f"the {needed}-day rule ({needed} days in 12 consecutive months)")
    verdict = "resident" if resident else "non-resident"
    return Residency(resident, f"{verdict} by {rule}: present {days_in_kazakhstan} days in the 12 months "
                               f"before {as_of.isoformat()}")


def _add_year(day: date, years: int = 1) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day + timedelta(days=365 * years)
