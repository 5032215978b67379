"""Card verification: unguessable card numbers, the card-not-present checks (expiry and CVV2), the freeze
after repeated CVV2 failures, and the operator's reveal of a card's details.

* **Card numbers.** The body digits of a PAN come from an HMAC-SHA256 of the card programme's secret and
  the card's sequence number (the next card id), with a Luhn check digit: the same seed and the same
  scenario issue the same numbers, yet one card number says nothing about another's (before card_0005
  they were sequential, so a merchant key could walk other customers' cards). A collision with an
  issued number takes the next attempt of the same sequence.
* **The programme's secret** lives in the database (``card_secrets``): every process that serves the
  city reads the same one. It is derived from the city's seed when first needed, so a seeded city is
  reproducible; whoever knows the seed and the database can recompute it — this is a sandbox.
* **The CVV** is derived from the secret and the PAN, stored only as a salted hash (``card.pan``) and
  derived again for an operator's reveal. It is never logged, never in an audit entry, an event, an
  authorization row or a request fingerprint.
* **Channels.** ``card_present`` (the default: a tap or chip read; the terminal verifies the card, the
  issuer gets no CVV2) or ``card_not_present`` (online or by phone: the expiry and CVV2 the customer
  typed are sent and must match the card's).
* **Declines** (in the authorization's precedence, after 62 frozen/closed and before 13 amount):
  a wrong expiry date declines 54, a wrong CVV2 declines N7 (Visa's code for a CVV2 failure; many
  processors use 82 instead). Both count as a failed verification: ``FAILURE_LIMIT`` failed
  verifications on a card within ``FAILURE_WINDOW`` of sandbox time freeze the card (a card status
  event) and put an AML flag (rule ``card_verification``) on the decline that froze it; from then on
  the card declines 62 until it is unfrozen, and failures before the freeze no longer count.
  The wrong expiry counts too: otherwise the expiry could be probed freely and only the CVV2 would be
  protected.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from sqlalchemy import func, insert, select, update

from . import response_codes as rc
from . import tables as t
from .errors import InvalidCardState, InvalidRequest
from .pan import PAN_LENGTH, InvalidPan, check_cvv, make_cvv, make_pan

CARD_PRESENT, CARD_NOT_PRESENT = "card_present", "card_not_present"
CHANNELS = (CARD_PRESENT, CARD_NOT_PRESENT)
FAILURE_LIMIT = 3
FAILURE_WINDOW = timedelta(hours=24)
FLAG_RULE = "card_verification"
SECRET_NAME = "programme"
MAX_PAN_ATTEMPTS = 100
_EXPIRY = re.compile(r"^(0[1-9]|1[0-2])/(\d{2}|\d{4})$")
_CVV = re.compile(r"^\d{3}$")


@dataclass(frozen=True)
class Presented:
    """What the POS or the web shop sent along with a purchase: the channel and, card-not-present, the
    expiry (month, year) and the CVV2 the customer typed. Build it with ``presented``. ``cvv`` is kept
    out of ``repr`` so a logged request never shows it."""
    channel: str = CARD_PRESENT
    expiry: tuple[int, int] | None = None
    cvv: str | None = field(default=None, repr=False)

    @property
    def card_not_present(self) -> bool:
        return self.channel == CARD_NOT_PRESENT

    def fingerprint(self) -> dict:
        """What a request's idempotency hash includes: the channel and expiry, never the CVV2 (a hash of
        three digits is no secret), so a retry with the same key gets the first answer whatever CVV2 it
        carries. Empty for a card-present purchase (the hash of such a purchase is what it always was)."""
        if not self.card_not_present:
            return {}
        return {"channel": self.channel, "expiry": list(self.expiry) if self.expiry else None}


CARD_PRESENT_PURCHASE = Presented()


def parse_expiry(text: str) -> tuple[int, int]:
    """``MM/YY`` (or ``MM/YYYY``) as (month, year); InvalidRequest otherwise."""
    match = _EXPIRY.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidRequest("an expiry date is MM/YY, e.g. 06/28")
    month, year = int(match.group(1)), int(match.group(2))
    return month, (2000 + year if year < 100 else year)


def presented(channel: str | None = None, expiry: str | tuple[int, int] | None = None,
              cvv: str | None = None) -> Presented:
    """Validate what came with a purchase, in this order: the channel is one of ``CHANNELS`` (default
    card-present); card-not-present needs an expiry (MM/YY) and a 3-digit CVV2; card-present takes
    neither (the terminal verified the card; a CVV2 sent there would not be checked, so it is refused
    rather than ignored). Raises InvalidRequest (never echoing the CVV2)."""
    channel = CARD_PRESENT if channel is None else channel
    if channel not in CHANNELS:
        raise InvalidRequest(f"channel is {' or '.join(CHANNELS)}, got {str(channel)[:40]!r}")
    if channel == CARD_PRESENT:
        if expiry is not None or cvv is not None:
            raise InvalidRequest("a card-present purchase carries no expiry or CVV2 (the terminal read the card); "
                                 "send channel card_not_present to have them checked")
        return CARD_PRESENT_PURCHASE
    if expiry is None or cvv is None:
        raise InvalidRequest("a card-not-present purchase needs the card's expiry (MM/YY) and its 3-digit CVV2")
    if isinstance(expiry, tuple):
        month, year = expiry
        if not (isinstance(month, int) and isinstance(year, int) and 1 <= month <= 12 and 2000 <= year <= 9999):
            raise InvalidRequest("an expiry date is a month 1-12 and a four-digit year")
    else:
        month, year = parse_expiry(expiry)
    if not isinstance(cvv, str) or not _CVV.match(cvv):
        raise InvalidRequest("a CVV2 is 3 digits")
    return Presented(CARD_NOT_PRESENT, (month, year), cvv)


# -- the programme's secret, card numbers and CVVs --------------------------------------------------------
def programme_secret(uow, seed: str | None = None) -> bytes:
    """The card programme's secret from the database; created (from ``seed``) on first use. Without a
    seed and with no secret stored, InvalidCardState."""
    row = uow.sql.one("SELECT value FROM card_secrets WHERE name = :name", {"name": SECRET_NAME})
    if row is not None:
        return bytes.fromhex(row[0])
    if seed is None:
        raise InvalidCardState("the card programme has no secret yet: issue a card first")
    value = hmac.new(f"cryptocity card programme {seed}".encode(), b"secret", hashlib.sha256).hexdigest()
    uow.conn.execute(insert(t.secrets).values(name=SECRET_NAME, value=value))
    return bytes.fromhex(value)


def _digits(secret: bytes, label: str, count: int) -> int:
    return int(hmac.new(secret, label.encode(), hashlib.sha256).hexdigest(), 16) % 10**count


def random_pan(uow, secret: bytes, sequence: int, bin_prefix: str) -> str:
    """A PAN under ``bin_prefix`` whose body is an HMAC of the secret and ``sequence`` (with a Luhn check
    digit), different from every PAN issued so far."""
    body_len = PAN_LENGTH - 1 - len(bin_prefix)
    if body_len <= 0:
        raise InvalidPan(f"a BIN has 6-8 digits, got {bin_prefix!r}")
    for attempt in range(MAX_PAN_ATTEMPTS):
        pan = make_pan(_digits(secret, f"pan:{bin_prefix}:{sequence}:{attempt}", body_len), bin_prefix)
        if uow.sql.one("SELECT 1 FROM card_cards WHERE pan = :pan", {"pan": pan}) is None:
            return pan
    raise InvalidCardState(f"no free card number under BIN {bin_prefix} after {MAX_PAN_ATTEMPTS} attempts")


def derive_cvv(secret: bytes, pan: str) -> str:
    """The card's 3-digit CVV: an HMAC of the programme's secret and the PAN (derived again, never stored)."""
    return f"{_digits(secret, f'cvv:{pan}', 3):03d}"


@dataclass(frozen=True)
class CardDetails:
    """A card's full details: shown once at issue, and to an operator's reveal."""
    card_id: int
    pan: str
    expiry_month: int
    expiry_year: int
    cvv: str = field(repr=False)

    @property
    def expiry(self) -> str:
        return f"{self.expiry_month:02d}/{self.expiry_year % 100:02d}"


def reveal(uow, card_id: int, *, legacy_seed: str | None = None) -> CardDetails:
    """The full PAN, expiry and CVV of card ``card_id`` (CardNotFound), the CVV derived again from the
    programme's secret and checked against the card's stored hash. A card issued before card_0005
    had its CVV from ``make_cvv(f"{seed}:{pan}")``: with ``legacy_seed`` that is tried too. If neither
    matches, InvalidCardState (the CVV cannot be derived again; nothing is guessed)."""
    from .issuing import get_card
    card = get_card(uow, card_id)
    salt, stored = _cvv_hash(uow, card.id)
    candidates = []
    if uow.sql.one("SELECT 1 FROM card_secrets WHERE name = :name", {"name": SECRET_NAME}) is not None:
        candidates.append(derive_cvv(programme_secret(uow), card.pan))
    if legacy_seed is not None:
        candidates.append(make_cvv(f"{legacy_seed}:{card.pan}"))
    for cvv in candidates:
        if check_cvv(cvv, salt, stored):
            return CardDetails(card.id, card.pan, card.expiry_month, card.expiry_year, cvv)
    raise InvalidCardState(f"the CVV of card {card.id} cannot be derived again (issued under another secret)",
                           card_id=card.id)


def _cvv_hash(uow, card_id: int) -> tuple[bytes, str]:
    row = uow.sql.one("SELECT cvv_salt, cvv_hash FROM card_cards WHERE id = :id", {"id": card_id})
    return row[0].encode(), row[1]


# -- the card-not-present check and the failure counter ---------------------------------------------------
@dataclass(frozen=True)
class Failure:
    """A failed verification: the decline's code and reason, and ``record(uow) -> flags`` to run once the
    decline is being recorded (after the authorization's savepoint was rolled back)."""
    code: str
    reason: str
    record: Callable


def check(uow, card, given: Presented) -> Failure | None:
    """None when the purchase passes (card-present, or the expiry and CVV2 match the card's), else the
    Failure: a wrong expiry (54) is checked before the CVV2 (N7)."""
    if not given.card_not_present:
        return None
    if given.expiry != (card.expiry_month, card.expiry_year):
        return Failure(rc.EXPIRED_CARD, "the expiry date given does not match the card's",
                       lambda uow: record_failure(uow, card, "expiry"))
    salt, stored = _cvv_hash(uow, card.id)
    if not check_cvv(given.cvv, salt, stored):
        return Failure(rc.CVV_MISMATCH, "the CVV2 given does not match the card's",
                       lambda uow: record_failure(uow, card, "cvv"))
    return None


def record_failure(uow, card, kind: str) -> tuple[tuple[str, str], ...]:
    """Record a failed verification of ``card`` (``kind``: ``cvv`` or ``expiry``) and, if it is the
    ``FAILURE_LIMIT``-th within ``FAILURE_WINDOW`` since the card was last frozen, freeze the card and
    return the AML flag for the decline. Under the cardholder's lock (the one every authorization of
    theirs takes), so two failures racing count one after the other; the freeze is a guarded update
    (only an active card is frozen, once)."""
    from .issuing import ACTIVE, FROZEN, _card_event
    uow.advisory_lock(f"card:holder:{card.cardholder_id}")
    now = uow.now()
    f = t.verification_failures
    uow.conn.execute(insert(f).values(card_id=card.id, at=now, kind=kind, froze_card=False))
    failures = uow.conn.execute(select(func.count()).select_from(f).where(
        f.c.card_id == card.id, f.c.at > now - FAILURE_WINDOW, f.c.froze_card.is_(False))).scalar_one()
    if failures < FAILURE_LIMIT:
        return ()
    frozen = uow.conn.execute(update(t.cards).where(t.cards.c.id == card.id, t.cards.c.status == ACTIVE)
                              .values(status=FROZEN)).rowcount
    uow.conn.execute(update(f).where(f.c.card_id == card.id, f.c.froze_card.is_(False)).values(froze_card=True))
    if not frozen:
        return ()
    hours = int(FAILURE_WINDOW.total_seconds() // 3600)
    _card_event(uow, card.id, FROZEN, f"{failures} failed card verifications within {hours} h")
    return ((FLAG_RULE, f"{failures} failed card-not-present verifications (expiry or CVV2) within {hours} h: "
                        "card frozen"),)


def failures_since(uow, card_id: int, since) -> int:
    """Failed verifications of the card recorded after ``since`` (reports and tests)."""
    f = t.verification_failures
    return int(uow.conn.execute(select(func.count()).select_from(f).where(f.c.card_id == card_id,
                                                                          f.c.at > since)).scalar_one())


def card_of(uow, authorization_id: int) -> int | None:
    """The card id an authorization was made with (None for an unknown card number)."""
    row = uow.sql.one("SELECT card_id FROM card_authorizations WHERE id = :id", {"id": int(authorization_id)})
    return None if row is None else row[0]
