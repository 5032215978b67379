"""Card verification as the city runs it: what a card-not-present purchase carries, the freeze after
repeated failed verifications (audited and announced like an operator's freeze), and the operator's
reveal of a card's full details (audited as ``card.revealed``; the CVV itself is never written anywhere).

The checks themselves, the response codes (54 wrong expiry, N7 wrong CVV2) and the counting live in
``card/verification.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from card import issuing, verification
from card.pan import mask_pan

from .. import audit, events
from ..context import CityContext
from ..events import snapshots
from .result import Result

CHANNELS = verification.CHANNELS
presented = verification.presented   # presented(channel, expiry="MM/YY", cvv="123") -> what a purchase carries


@dataclass(frozen=True)
class RevealedCard(Result):
    """A card's full details, for the operator (``reveal_card``); ``cvv`` is left out of ``repr``."""
    card_id: int
    cardholder: str
    pan: str
    expiry: str
    cvv: str = field(repr=False)


def after_decline(city: CityContext, uow, res) -> None:
    """If the declined purchase ``res`` froze its card (the ``card_verification`` flag), audit the freeze
    as the issuer's ``card.freeze`` and announce it as ``card.updated`` (change ``frozen``), as an
    operator's freeze is. (Its ``aml.flag_raised`` event goes out with the authorization's.)"""
    if res.approved or not any(rule == verification.FLAG_RULE for rule, _ in res.flags):
        return
    card = issuing.get_card(uow, verification.card_of(uow, res.authorization_id))
    detail = next(d for rule, d in res.flags if rule == verification.FLAG_RULE)
    audit.append(uow, city.cfg.card.issuer, "card.freeze", str(card.id),
                 {"cardholder": card.cardholder_id, "status": card.status, "reason": detail,
                  "authorization_id": res.authorization_id})
    events.emit(uow, "card.updated", snapshots.card(card, change="frozen"), customer=card.cardholder_id)


def reveal_card(city: CityContext, uow, *, card_id: int, by: str) -> RevealedCard:
    """The card's full number, expiry and CVV (derived again from the programme's secret), for an
    operator; audited as ``card.revealed`` by ``by`` with the masked number only."""
    details = verification.reveal(uow, card_id, legacy_seed=f"{city.seed}")
    card = issuing.get_card(uow, card_id)
    audit.append(uow, by, "card.revealed", str(card_id), {"cardholder": card.cardholder_id,
                                                          "masked_pan": mask_pan(card.pan)})
    return RevealedCard(card.id, card.cardholder_id, details.pan, details.expiry, details.cvv)
