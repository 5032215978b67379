"""Setting and removing decision URLs (services: ``fn(city, uow, …)``, the caller commits)."""
from __future__ import annotations

from card import issuing

from .. import audit
from ..errors import CityError
from ..webhooks import signing
from ..webhooks.endpoints import InvalidEndpoint, check_url
from . import STAND_INS, store


class InvalidDecisionUrl(CityError):
    code = "invalid_decision_url"


def _scope(uow, card_id: int | None) -> str:
    if card_id is None:
        return store.PROGRAMME
    issuing.get_card(uow, card_id)   # card_not_found
    return store.card_scope(card_id)


def set_url(city, uow, *, url: str, secret: str | None = None, deadline_ms: int | None = None,
            stand_in: str | None = None, card_id: int | None = None) -> str:
    """Let the app at ``url`` decide the programme's (or card ``card_id``'s) purchases; returns the secret."""
    try:
        check_url(url)
        secret = signing.check_secret(secret) if secret else signing.new_secret()
    except (InvalidEndpoint, ValueError) as error:
        raise InvalidDecisionUrl(str(error)) from None
    if deadline_ms is not None and (type(deadline_ms) is not int or not 500 <= deadline_ms <= 3000):
        raise InvalidDecisionUrl(f"deadline_ms must be 500..3000, got {deadline_ms!r}")
    if stand_in is not None and stand_in not in STAND_INS:
        raise InvalidDecisionUrl(f"stand_in must be one of {', '.join(STAND_INS)}, got {stand_in!r}")
    scope = _scope(uow, card_id)
    store.put(uow, scope, url=url, secret=secret, deadline_ms=deadline_ms, stand_in=stand_in)
    audit.append(uow, "operator", "card.decision_url_set", scope, {"url": url})
    return secret


def remove_url(city, uow, *, card_id: int | None = None) -> bool:
    """Stop asking the programme's (or card ``card_id``'s) app; False if none was set."""
    scope = store.PROGRAMME if card_id is None else store.card_scope(card_id)
    removed = store.remove(uow, scope)
    if removed:
        audit.append(uow, "operator", "card.decision_url_removed", scope, {})
    return removed
