"""Customers and KYC: onboarding (a tenge bank account with a KZ IBAN, a card, residency), KYC tier
changes, and reading a customer as the database has it now."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from .. import audit, city_state, events
from ..events import snapshots
from ..context import MAX_ACTORS, CityContext
from ..errors import (
    AlreadyOnboarded,
    InvalidActor,
    InvalidDaysInKazakhstan,
    InvalidKycTier,
    InvalidName,
    InvalidReason,
    InvalidResidency,
    TooManyActors,
    UnknownActor,
)
from ..rules import CustomerProfile
from ..tax import Residency, TaxError, residency_from_days
from . import custody
from .result import Result

ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$"
_ACTOR_RE = re.compile(ACTOR_PATTERN)
MAX_ACTOR_CHARS = 120
MAX_REASON_CHARS = 300
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class Onboarded(Result):
    actor: str
    iban: str
    card_id: int
    pan: str
    resident: bool
    residency_basis: str
    status: str = "ok"
    # The card's expiry (MM/YY) and CVV, shown in this answer only (test mode, like Stripe's test cards):
    # every later read masks the number; the operator can reveal them (services/card_verification.py).
    expiry: str = ""
    cvv: str = field(default="", repr=False)


@dataclass(frozen=True)
class CustomerListing(Result):
    """A customer as the API lists them: the bank account, the first card and the city's profile."""
    bank_account_id: int
    customer_id: str
    iban: str
    card_id: int | None
    pan: str | None
    kyc_tier: str | None
    resident: bool | None
    aifc_investor: bool | None
    full_name: str | None = None


@dataclass(frozen=True)
class KycChanged(Result):
    actor: str
    kyc_tier: str
    previous_kyc_tier: str
    changed: bool
    status: str = "ok"


def check_actor_name(actor: str) -> None:
    """The shape the web API accepts for an actor (it becomes part of URLs): 1-64 letters, digits or
    ``_ . @ + -``, starting with a letter or digit."""
    if not isinstance(actor, str) or not _ACTOR_RE.match(actor):
        raise InvalidActor("an actor name is 1-64 letters, digits or _ . @ + - and starts with a letter or digit, "
                           f"got {actor!r}")


def require(uow, actor: str) -> city_state.CustomerRow:
    """The onboarded customer ``actor`` as the database has it now; ``UnknownActor`` otherwise."""
    return city_state.require_customer(uow.conn, actor)


def customers(uow, *, only: str | None = None, after_id: int | None = None,
              limit: int = 100) -> list[CustomerListing]:
    """Customers in the order they were onboarded (``after_id``: the previous page's last ``bank_account_id``)."""
    from card import issuing
    holders = issuing.cardholders(uow, customer_id=only, after_id=after_id, limit=limit)
    profiles = city_state.profiles(uow.conn, [h.customer_id for h in holders])
    out = []
    for h in holders:
        p = profiles.get(h.customer_id)
        out.append(CustomerListing(h.bank_account_id, h.customer_id, h.iban, h.card_id, h.pan,
                                   p.kyc_tier if p else None, p.resident if p else None,
                                   p.aifc_investor if p else None, p.full_name if p else None))
    return out


def customer(uow, actor: str) -> CustomerListing:
    """One customer (``UnknownActor`` if the bank has no such customer)."""
    found = customers(uow, only=actor, limit=1)
    if not found:
        raise UnknownActor(f"{actor!r} has not been onboarded; onboard them first", actor=str(actor)[:120])
    return found[0]


def profile(city: CityContext, uow, actor: str) -> CustomerProfile:
    """The customer's profile (KYC tier, residency) as the database has it now."""
    row = require(uow, actor)
    return CustomerProfile(row.actor, row.kyc_tier, row.resident, row.aifc_investor)


def onboard(city: CityContext, uow, *, actor: str, kyc_tier: str = "basic", resident: bool | None = None,
            aifc_investor: bool = False, deposits: dict[str, int] | None = None,
            days_in_kazakhstan: int | None = None, full_name: str | None = None) -> Onboarded:
    """A customer with a KYC tier and residency, a tenge bank account (KZ IBAN) and a card; ``deposits``
    credited in the same transaction (KZT to the bank account, KZTE minted against tenge, other crypto to
    the exchange wallet). ``full_name`` (optional, 1-200 printable characters) is stored as given, with
    surrounding spaces removed; the dashboard shows customers by it.

    Residency: from ``days_in_kazakhstan`` (days present in the 12 months before the sandbox's current
    time) by the tax rule — 183 days, 90 for an ``aifc_investor``; ``resident=`` given explicitly
    overrides it; with neither the customer is taken as resident."""
    from card import issuing

    from ..city_parts import funding_settings, spend_controls
    cfg = city.cfg
    if not isinstance(actor, str) or not 0 < len(actor) <= MAX_ACTOR_CHARS:
        raise InvalidActor(f"an actor is a name of 1 to {MAX_ACTOR_CHARS} characters, got {actor!r}")
    full_name = check_full_name(full_name)
    if city_state.customer(uow.conn, actor) is not None:
        raise AlreadyOnboarded(f"{actor} is already a customer", actor=actor)
    _check_tier(city, kyc_tier)
    for asset, amount in (deposits or {}).items():
        custody.check_deposit(city, asset, amount)
    today = uow.now().astimezone(city.cfg.sandbox.zone).date()   # presence days are local days
    residency = _residency(city, resident, days_in_kazakhstan, aifc_investor, today)
    if city_state.customer_count(uow.conn) >= MAX_ACTORS:
        raise TooManyActors(f"a city holds at most {MAX_ACTORS} customers")
    card, cvv = issuing.issue_card(uow, actor, funding=funding_settings(cfg), controls=spend_controls(cfg),
                                    bin_prefix=cfg.card.test_bin, seed=f"{city.seed}")
    bank = issuing.bank_account_of(uow, actor)
    row = city_state.CustomerRow(
        actor, kyc_tier, residency.resident, residency.basis[:300], aifc_investor, days_in_kazakhstan,
        None if days_in_kazakhstan is None else today - timedelta(days=days_in_kazakhstan),
        card.id, bank.ledger_account_id, bank.iban, uow.now(), full_name)
    city_state.insert_customer(uow.conn, row)
    audit.append(uow, cfg.card.issuer, "customer.onboarded", actor,
                 {**({"full_name": full_name} if full_name else {}), "kyc_tier": kyc_tier, "resident": residency.resident, "aifc_investor": aifc_investor,
                  "days_in_kazakhstan": days_in_kazakhstan, "residency_basis": residency.basis,
                  "iban": bank.iban, "card_id": card.id})
    events.emit(uow, "customer.created", snapshots.customer(actor, kyc_tier=kyc_tier, resident=residency.resident,
                                                            aifc_investor=aifc_investor, iban=bank.iban,
                                                            card_id=card.id, full_name=full_name), customer=actor)
    events.emit(uow, "card.created", snapshots.card(card), customer=actor)
    for asset, amount in (deposits or {}).items():
        if amount:
            custody.deposit(city, uow, actor=actor, asset=asset, amount_minor=amount)
    return Onboarded(actor, row.iban, card.id, card.pan, residency.resident, residency.basis,
                     expiry=f"{card.expiry_month:02d}/{card.expiry_year % 100:02d}", cvv=cvv)


def check_full_name(full_name: str | None) -> str | None:
    """The name to store: None, or 1-200 printable characters once surrounding spaces are removed
    (``InvalidName`` otherwise)."""
    if full_name is None:
        return None
    name = full_name.strip() if isinstance(full_name, str) else None
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidName(f"a full name is 1 to {MAX_NAME_CHARS} printable characters, got {str(full_name)[:60]!r}")
    return name


def set_kyc_tier(city: CityContext, uow, *, actor: str, kyc_tier: str, reason: str = "") -> KycChanged:
    """Move the customer to another configured KYC tier (for every process): the new tier's permissions
    and limits apply from the next purchase or trade. Audited as ``customer.kyc_changed`` (old and new
    tier, reason); setting the tier the customer already has changes nothing."""
    _check_tier(city, kyc_tier)
    if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS or not reason.isprintable():
        raise InvalidReason(f"a reason is printable text of at most {MAX_REASON_CHARS} characters")
    require(uow, actor)
    uow.advisory_lock(f"sandbox:kyc:{actor}")
    before = city_state.kyc_tier_of(uow.conn, actor)
    if before == kyc_tier:
        return KycChanged(actor, kyc_tier, before, False)
    city_state.set_kyc_tier(uow.conn, actor, kyc_tier)
    audit.append(uow, city.cfg.card.issuer, "customer.kyc_changed", actor,
                 {"customer": actor, "from_tier": before, "to_tier": kyc_tier, "reason": reason})
    events.emit(uow, "customer.kyc_changed", {"object": "customer", "customer": actor, "kyc_tier": kyc_tier,
                                              "previous_kyc_tier": before, "reason": reason}, customer=actor)
    return KycChanged(actor, kyc_tier, before, True)


def require_can_trade(city: CityContext, uow, actor: str) -> city_state.CustomerRow:
    """The customer, if their KYC tier (as the database has it now) may trade; ``KycNotPermitted`` otherwise."""
    from ..errors import KycNotPermitted
    row = require(uow, actor)
    tier = city.cfg.kyc.tiers.get(row.kyc_tier)
    if tier is None or not tier.can_trade:
        raise KycNotPermitted(f"{actor} (KYC tier {row.kyc_tier}) may not trade; complete KYC first", actor=actor)
    return row


def _check_tier(city: CityContext, kyc_tier: str) -> None:
    if kyc_tier not in city.cfg.kyc.tiers:
        raise InvalidKycTier(f"KYC tier {kyc_tier!r} is not configured; use one of {', '.join(city.cfg.kyc.tiers)}")


def _residency(city: CityContext, resident: bool | None, days: int | None, aifc_investor: bool,
               today: date) -> Residency:
    if resident is not None and not isinstance(resident, bool):
        raise InvalidResidency(f"resident is true or false, got {resident!r}")
    derived = None
    if days is not None:
        try:
            derived = residency_from_days(days, today, city.cfg.tax, aifc_investor)
        except TaxError as error:
            raise InvalidDaysInKazakhstan(str(error)) from None
    if resident is None:
        return derived or Residency(True, "resident as declared: no presence days were given at onboarding")
    if derived is None:
        return Residency(resident, f"{'resident' if resident else 'non-resident'} as declared at onboarding")
    return Residency(resident, f"{'resident' if resident else 'non-resident'} as declared at onboarding, "
                               f"overriding the presence rule ({derived.basis})")
