"""Cards: freeze and unfreeze, the cardholder's own spend controls and funding order (each audited).

A cardholder may tighten the programme's limits, never loosen them; the funding order lists configured
crypto assets; the conversion fee is the programme's and cannot be changed by the cardholder.
"""
from __future__ import annotations

from dataclasses import replace

from card import Card, SpendControls, issuing
from card.errors import InvalidSpendControls
from ledger import format_amount

from .. import audit, events
from ..events import snapshots
from ..city_parts import programme_blocked_mccs
from ..context import CityContext
from . import customers
from ..errors import (
    ControlAboveProgrammeLimit,
    InvalidFundingOrder,
    InvalidFundingSettings,
    SlippageAboveProgrammeCap,
)


def card(city: CityContext, uow, card_id: int) -> Card:
    """The card (``CardNotFound`` for an unknown id)."""
    return issuing.get_card(uow, card_id)


def freeze_card(city: CityContext, uow, *, card_id: int, by: str) -> Card:
    """Freeze an active card: every authorization declines 62 until it is unfrozen."""
    return _status(uow, card_id, "freeze", by)


def unfreeze_card(city: CityContext, uow, *, card_id: int, by: str) -> Card:
    return _status(uow, card_id, "unfreeze", by)


def _status(uow, card_id: int, action: str, by: str) -> Card:
    changed = issuing.change_status(uow, card_id, action, note=f"{action} by {by}")
    audit.append(uow, by, f"card.{action}", str(card_id), {"cardholder": changed.cardholder_id,
                                                         "status": changed.status})
    events.emit(uow, "card.updated", snapshots.card(changed, change="frozen" if action == "freeze" else "unfrozen"),
                customer=changed.cardholder_id)
    return changed


def _programme_ceiling(city: CityContext) -> dict[str, int | None]:
    c = city.cfg.card
    return {"per_transaction_limit_minor": c.per_transaction_limit_minor, "daily_limit_minor": c.daily_limit_minor,
            "monthly_limit_minor": None, "daily_count_limit": c.daily_count_limit}


def update_controls(city: CityContext, uow, *, card_id: int, by: str, controls: dict) -> Card:
    """Replace the card's spend controls. A cardholder may tighten the programme's limits, never loosen
    them: limits at most the programme's, and the programme's blocked categories stay blocked."""
    for name, cap in _programme_ceiling(city).items():
        value = controls.get(name)
        if cap is not None and (value is None or value > cap):
            shown = format_amount(cap, "KZT", city.ledger.assets) if name.endswith("_minor") else str(cap)
            raise ControlAboveProgrammeLimit(
                f"{name} may be at most the card programme's {shown} (got {value!r}); a card's own controls can "
                "only tighten the programme's", control=name)
    for rule in controls.get("scoped_limits") or ():
        merchant_id = rule.get("merchant_id")
        if merchant_id is not None and issuing.find_merchant(uow, merchant_id) is None:
            # a typo would otherwise be a limit that never applies
            raise InvalidSpendControls(f"a scoped limit names merchant {merchant_id!r}, which is not registered",
                                       control="merchant_id")
    blocked = frozenset(controls.get("blocked_mccs") or ()) | programme_blocked_mccs(city.cfg)
    new = SpendControls.from_dict({**controls, "blocked_mccs": blocked})
    return _store_settings(uow, card_id, by, "controls", new)


def change_controls(city: CityContext, uow, *, actor: str, changes: dict) -> Card:
    """Change only the controls ``changes`` names (the API's names) on ``actor``'s card, by its holder: the
    others stay as they are (``update_controls`` replaces the whole set)."""
    card_id = customers.require(uow, actor).card_id
    current = issuing.get_card(uow, card_id).controls.to_dict()
    return update_controls(city, uow, card_id=card_id, by=actor, controls={**current, **changes})


def update_funding(city: CityContext, uow, *, card_id: int, by: str, order: list[str], mode: str | None = None,
                   slippage_cap_bps: int | None = None, spend_tenge_first: bool | None = None) -> Card:
    """Change which crypto pays for purchases and how: the order of assets (configured crypto assets
    only), ``combine`` or ``fallback``, a slippage cap up to the programme's."""
    current = issuing.get_card(uow, card_id).funding
    sellable = [a.code for a in city.cfg.assets if a.code != "KZT"]
    unknown = [a for a in order if a not in sellable]
    if unknown:
        raise InvalidFundingOrder(f"{', '.join(unknown)} cannot fund a purchase; choose from {', '.join(sellable)}")
    if len(set(order)) != len(order) or not order:
        raise InvalidFundingOrder("the funding order lists each asset at most once, at least one")
    cap = city.cfg.card.slippage_cap_bps
    if slippage_cap_bps is not None and slippage_cap_bps > cap:
        raise SlippageAboveProgrammeCap(f"the slippage cap may be at most the programme's {cap} bps, got "
                                        f"{slippage_cap_bps}")
    try:
        new = replace(current, order=tuple(order), mode=mode or current.mode,
                      slippage_cap_bps=current.slippage_cap_bps if slippage_cap_bps is None else slippage_cap_bps,
                      spend_tenge_first=current.spend_tenge_first if spend_tenge_first is None else spend_tenge_first)
    except ValueError as error:
        raise InvalidFundingSettings(str(error)) from None
    return _store_settings(uow, card_id, by, "funding", new)


def _store_settings(uow, card_id: int, by: str, which: str, new) -> Card:
    """Write the card's new ``controls`` or ``funding`` settings and audit them (``card.<which>_updated``);
    ``card.updated`` only when they differ from the card's settings before."""
    before = getattr(issuing.get_card(uow, card_id), which)
    changed = issuing.update_settings(uow, card_id, **{which: new})
    audit.append(uow, by, f"card.{which}_updated", str(card_id), {"cardholder": changed.cardholder_id,
                                                                which: new.to_dict()})
    if new != before:
        events.emit(uow, "card.updated", snapshots.card(changed, change=which), customer=changed.cardholder_id)
    return changed
