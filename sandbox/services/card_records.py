"""What the card's clearing steps add to their audit entries and events: the tax events of crypto sold (an
over-capture, a force post) or bought back (the programme's refund or reversal policy), and the card's durable
keys of the network messages that have no authorization before them."""
from __future__ import annotations

from ..tax import ACQUISITION, DISPOSAL, tax_events


def force_key(ref: str) -> str:
    """The card's durable idempotency key of the force post with reference ``ref``."""
    return f"force:{ref}"


def refund_key(ref: str) -> str:
    """The card's durable idempotency key of the unlinked refund with reference ``ref``."""
    return f"refund:{ref}"


def tax_of(outcome: dict, ref: str) -> list[dict]:
    """The tax events of a clearing step: disposals for crypto sold (an over-capture or a force post),
    acquisitions for crypto bought back (refund or reversal policy)."""
    out = [e for leg in outcome.get("sold") or () for e in tax_events(
        DISPOSAL, leg["asset"], leg["sold_qty_minor"], leg["proceeds_minor"], "card", ref)]
    out += [e for leg in outcome.get("bought_back") or () for e in tax_events(
        ACQUISITION, leg["asset"], leg["bought_qty_minor"], leg["spent_minor"], "card_buy_back", ref)]
    return out


def policy_details(outcome: dict, ref: str) -> dict:
    """What a clearing step's audit entry adds when it sold or bought crypto or returned a conversion fee."""
    extra = {}
    if outcome.get("sold"):
        extra["sold"] = list(outcome["sold"])
    if outcome.get("bought_back"):
        extra["bought_back"] = list(outcome["bought_back"])
    if outcome.get("conversion_fee_returned_minor"):
        extra["conversion_fee_returned_minor"] = outcome["conversion_fee_returned_minor"]
    if outcome.get("over_captured_minor"):
        extra["over_captured_minor"] = outcome["over_captured_minor"]
    tax = tax_of(outcome, ref)
    if tax:
        extra["tax"] = tax
        extra["customer"] = outcome.get("cardholder_id")   # whose tax statement reads it
    return extra


def event_extras(outcome: dict, more: dict) -> dict:
    """Fields a clearing step's event adds: ``final`` of a capture, the over-capture, what a policy bought back
    (a merchant does not see ``sold``, ``bought_back`` or the conversion fee returned)."""
    out = dict(more)
    for name in ("over_captured_minor", "conversion_fee_charged_minor", "conversion_fee_returned_minor",
                 "released_minor"):
        if name in outcome:
            out[name] = outcome[name]
    for name in ("sold", "bought_back"):
        if name in outcome:
            out[name] = [dict(leg) for leg in outcome[name]]
    return out
