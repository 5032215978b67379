"""AML rules: large transactions, velocity, structuring, blocklists (the anti-fraud centre).

Each rule yields a Flag(rule, reason); velocity, structuring and blocklists decline with 59
when ``aml.action == "decline"``; a large transaction is reported (flag) but not declined.

Velocity and structuring count over rolling windows (``velocity_window``, ``structuring.window``:
the last 10 minutes, the last 24 hours) that end at the purchase, so they need no calendar and
no time zone: splitting purchases around midnight does not escape them.
"""
from __future__ import annotations

from datetime import datetime

from ledger import format_amount

from ..config.models import AmlCfg
from .decision import Flag, PastAuthorization

DECLINE_FRAUD = "59"


def blocklisted_merchant(aml: AmlCfg, merchant_id: str) -> Flag | None:
    if merchant_id in aml.blocklists.merchants:
        return Flag("blocklist_merchant", f"merchant {merchant_id} is on the anti-fraud centre's blocklist")
    return None


def blocklisted_address(aml: AmlCfg, address: str) -> Flag | None:
    if address in aml.blocklists.addresses:
        return Flag("blocklist_address", f"address {address} is on the anti-fraud centre's blocklist")
    return None


def blocklisted_site(aml: AmlCfg, site: str) -> Flag | None:
    if site.lower() in (s.lower() for s in aml.blocklists.sites):
        return Flag("blocklist_site", f"site {site} is on the anti-fraud centre's blocklist")
    return None


def large_transaction(aml: AmlCfg, amount_minor: int) -> Flag | None:
    if amount_minor >= aml.large_transaction_threshold_minor:
        return Flag("large_transaction", f"{format_amount(amount_minor, 'KZT')} is at or above the reporting threshold "
                                         f"of {format_amount(aml.large_transaction_threshold_minor, 'KZT')}")
    return None


def reason_template(aml: AmlCfg, rule: str) -> str:
    """The reason of ``rule``'s flags with what changes from purchase to purchase (the count, amounts) as
    placeholders, for counting declines of one rule together; "" for a rule whose reason never changes."""
    if rule == "velocity":
        minutes = int(aml.velocity_window.total_seconds() // 60)
        return f"{{count}} purchases within {minutes} min (more than {aml.velocity_count})"
    if rule == "structuring":
        return f"{{count}} purchases within {aml.structuring.window} each just under the {{threshold}} threshold"
    return ""


def velocity(aml: AmlCfg, at: datetime, history: list[PastAuthorization]) -> Flag | None:
    """More than velocity_count purchases (this one included) inside velocity_window."""
    recent = [p for p in history if at - aml.velocity_window < p.at <= at]
    if len(recent) + 1 > aml.velocity_count:
        return Flag("velocity", reason_template(aml, "velocity").format(count=len(recent) + 1))
    return None


def structuring(aml: AmlCfg, amount_minor: int, at: datetime, history: list[PastAuthorization]) -> Flag | None:
    """``count`` purchases within ``window`` each just under the large-transaction threshold."""
    s = aml.structuring
    threshold = aml.large_transaction_threshold_minor
    # "just under": within below_threshold_pct of the threshold, computed in integers (floor).
    floor_minor = threshold - (threshold * int(s.below_threshold_pct * 100)) // 10_000

    def near(value: int) -> bool:
        return floor_minor <= value < threshold

    if not near(amount_minor):
        return None
    recent = [p for p in history if at - s.window < p.at <= at and near(p.amount_minor)]
    if len(recent) + 1 >= s.count:
        return Flag("structuring", reason_template(aml, "structuring").format(
            count=len(recent) + 1, threshold=format_amount(threshold, "KZT")))
    return None
