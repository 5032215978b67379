"""The objects events carry: typed, stable field names with units (``amount_minor`` in the asset's minor
unit, times ISO 8601). Each function takes what its service already holds, so writing an event costs no
extra read."""
from __future__ import annotations

from typing import Any


def customer(actor: str, *, kyc_tier: str, resident: bool, aifc_investor: bool, iban: str, card_id: int,
             full_name: str | None = None) -> dict:
    return {"object": "customer", "customer": actor, "full_name": full_name, "kyc_tier": kyc_tier,
            "resident": resident, "aifc_investor": aifc_investor, "iban": iban, "card_id": card_id}


def card(card_row: Any, *, change: str | None = None) -> dict:
    """A card without its full number (the last four digits only)."""
    out = {"object": "card", "card_id": card_row.id, "customer": card_row.cardholder_id, "status": card_row.status,
           "last4": card_row.pan[-4:], "expiry_month": card_row.expiry_month, "expiry_year": card_row.expiry_year,
           "controls": card_row.controls.to_dict(), "funding": card_row.funding.to_dict()}
    if change is not None:
        out["change"] = change
    return out


def authorization(res: Any, *, merchant_id: str, reference: str, card_id: int | None) -> dict:
    """An authorization as the card answered it (``res``: ``card.authorization.AuthorizationResult``)."""
    return {"object": "authorization", "authorization_id": res.authorization_id, "reference": reference,
            "card_id": card_id, "customer": res.cardholder_id, "merchant_id": merchant_id,
            "status": "approved" if res.approved else "declined", "kind": res.kind, "response_code": res.response_code,
            "reason": res.reason, "auth_code": res.auth_code, "amount_minor": res.amount_minor, "currency": "KZT",
            "shortfall_minor": res.shortfall_minor, "conversion_fee_minor": res.conversion_fee_minor,
            "sold": [dict(leg) for leg in res.sold],
            "flags": [{"rule": f[0], "detail": f[1]} for f in res.flags],
            # how the decision app decided (webhook_approved, …; None: none asked), the amount asked for
            # when less was approved (10) or an app decided
            "decision": getattr(res, "decision", None), "requested_minor": getattr(res, "requested_minor", None)}


def cleared(row: dict, *, step: str, step_amount_minor: int | None) -> dict:
    """An authorization after a clearing step (``row``: the card's authorization row as a dict)."""
    key = row.get("idempotency_key") or ""
    return {"object": "authorization", "authorization_id": int(row["id"]), "reference": key.removeprefix("pay:"),
            "card_id": row.get("card_id"), "customer": row.get("cardholder_id"), "merchant_id": row["merchant_id"],
            "status": row["status"], "step": step, "step_amount_minor": step_amount_minor,
            "amount_minor": int(row["amount_minor"]), "captured_minor": int(row["captured_minor"]),
            "reversed_minor": int(row["reversed_minor"]), "refunded_minor": int(row["refunded_minor"]),
            "currency": "KZT"}


def order(res: Any, *, instrument: str) -> dict:
    """An exchange order (``res``: ``exchange.results.OrderResult``)."""
    return {"object": "order", "order_id": res.order_id, "customer": res.owner, "instrument": instrument,
            "side": res.side, "type": res.type, "tif": res.tif, "status": res.status, "price_minor": res.price_minor,
            "qty_minor": res.qty_minor, "filled_qty_minor": res.filled_qty_minor, "remaining_minor": res.remaining_minor,
            "quote_filled_minor": res.quote_filled_minor, "fee_minor": res.fee_minor}


def trade(fill: Any, res: Any, *, instrument: str) -> dict:
    """One fill of the customer's order (``fill``: ``exchange.results.Fill``)."""
    return {"object": "trade", "trade_id": fill.trade_id, "order_id": res.order_id, "customer": res.owner,
            "instrument": instrument, "side": res.side, "price_minor": fill.price_minor, "qty_minor": fill.qty_minor,
            "notional_minor": fill.notional_minor, "fee_minor": fill.fee_minor, "liquidity": fill.liquidity}
