"""Issuing: tenge bank accounts with KZ IBANs, merchants, virtual cards and their status changes."""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update

from . import tables as t
from .controls import SpendControls
from .errors import BankAccountNotFound, CardNotFound, InvalidCardState, InvalidRequest, MerchantNotFound
from .funding import FundingSettings
from .iban import make_iban
from .pan import DEFAULT_TEST_BIN, expiry_after, hash_cvv, is_expired

ACTIVE, FROZEN, CLOSED, EXPIRED = "active", "frozen", "closed", "expired"
BANK_PURPOSE = "bank"
MERCHANT_PURPOSE = "merchant"
MAX_MDR_BPS = 1_000


@dataclass(frozen=True)
class BankAccount:
    id: int
    customer_id: str
    iban: str
    ledger_account_id: int


@dataclass(frozen=True)
class Card:
    id: int
    pan: str
    expiry_month: int
    expiry_year: int
    status: str
    cardholder_id: str
    bank_account_id: int
    bank_ledger_account_id: int
    wallet_owner: str
    funding: FundingSettings
    controls: SpendControls

    def effective_status(self, at: datetime) -> str:
        if self.status == ACTIVE and is_expired(self.expiry_month, self.expiry_year, at):
            return EXPIRED
        return self.status


@dataclass(frozen=True)
class MerchantRecord:
    id: str
    name: str
    mcc: str
    in_zone: bool
    settlement_account_id: int
    mdr_bps: int


def open_bank_account(uow, customer_id: str) -> BankAccount:
    """The customer's tenge current account (opened on first call; the same account afterwards)."""
    existing = uow.conn.execute(select(t.bank_accounts).where(t.bank_accounts.c.customer_id == customer_id)).first()
    if existing:
        return BankAccount(existing.id, existing.customer_id, existing.iban, existing.ledger_account_id)
    code = f"{BANK_PURPOSE}:{customer_id}:KZT"
    acct = uow.find_account(code) or uow.open_account(customer_id, "KZT", BANK_PURPOSE)
    sequence = (uow.conn.execute(select(func.count()).select_from(t.bank_accounts)).scalar_one() or 0) + 1
    iban = make_iban(sequence)
    new_id = uow.conn.execute(insert(t.bank_accounts).values(
        customer_id=customer_id, iban=iban, ledger_account_id=acct.id, created_at=uow.now())).inserted_primary_key[0]
    return BankAccount(new_id, customer_id, iban, acct.id)


def bank_account_of(uow, customer_id: str) -> BankAccount:
    row = uow.conn.execute(select(t.bank_accounts).where(t.bank_accounts.c.customer_id == customer_id)).first()
    if row is None:
        raise BankAccountNotFound(f"customer {customer_id} has no bank account at the sandbox bank")
    return BankAccount(row.id, row.customer_id, row.iban, row.ledger_account_id)


@dataclass(frozen=True)
class Cardholder:
    """A customer of the sandbox bank: the bank account and the customer's first card (None if none)."""
    bank_account_id: int
    customer_id: str
    iban: str
    card_id: int | None
    pan: str | None


def cardholders(uow, *, customer_id: str | None = None, after_id: int | None = None,
                limit: int = 100) -> list[Cardholder]:
    """Customers of the bank in the order their accounts were opened (``after_id``: the previous page's last
    bank account id), each with their first card; ``customer_id`` narrows it to one."""
    b, c = t.bank_accounts.c, t.cards.c
    first_card = (select(c.bank_account_id, func.min(c.id).label("card_id")).group_by(c.bank_account_id)
                  .subquery())
    query = (select(b.id, b.customer_id, b.iban, first_card.c.card_id, t.cards.c.pan)
             .select_from(t.bank_accounts.outerjoin(first_card, first_card.c.bank_account_id == b.id)
                          .outerjoin(t.cards, t.cards.c.id == first_card.c.card_id)))
    if customer_id is not None:
        query = query.where(b.customer_id == customer_id)
    if after_id is not None:
        query = query.where(b.id > after_id)
    rows = uow.conn.execute(query.order_by(b.id).limit(max(1, min(int(limit), 1000)))).all()
    return [Cardholder(*row) for row in rows]


def owner_of_card(uow, card_id: int) -> str | None:
    """The cardholder of card ``card_id``, or None if there is no such card."""
    row = uow.sql.one("SELECT cardholder_id FROM card_cards WHERE id = :v", {"v": int(card_id)})
    return None if row is None else row[0]


def owner_of_bank_customer(uow, customer_id: str) -> str | None:
    """``customer_id`` if the sandbox bank has that customer, else None."""
    row = uow.sql.one("SELECT customer_id FROM card_bank_accounts WHERE customer_id = :v", {"v": str(customer_id)})
    return None if row is None else row[0]


def merchant_exists(uow, merchant_id: str) -> str | None:
    """``merchant_id`` if such a merchant is registered, else None."""
    row = uow.sql.one("SELECT id FROM card_merchants WHERE id = :v", {"v": str(merchant_id)})
    return None if row is None else row[0]


def register_merchant(uow, merchant_id: str, name: str, mcc: str, *, in_zone: bool = True,
                      mdr_bps: int = 150) -> MerchantRecord:
    """Register (or return) a merchant with a tenge settlement account ``merchant:<id>:KZT``."""
    if not (isinstance(mcc, str) and len(mcc) == 4 and mcc.isdigit()):
        raise InvalidRequest(f"a merchant category code has 4 digits, got {mcc!r}")
    if not isinstance(mdr_bps, int) or not 0 <= mdr_bps <= MAX_MDR_BPS:
        raise InvalidRequest(f"merchant fee must be 0..{MAX_MDR_BPS} bps, got {mdr_bps!r}")
    row = uow.conn.execute(select(t.merchants).where(t.merchants.c.id == merchant_id)).first()
    if row is None:
        owner = merchant_id
        acct = uow.find_account(f"{MERCHANT_PURPOSE}:{owner}:KZT") or uow.open_account(owner, "KZT", MERCHANT_PURPOSE)
        uow.conn.execute(insert(t.merchants).values(id=merchant_id, name=name, mcc=mcc, in_zone=in_zone,
                                                    settlement_account_id=acct.id, mdr_bps=mdr_bps))
    return get_merchant(uow, merchant_id)


def find_merchant(uow, merchant_id: str) -> MerchantRecord | None:
    row = uow.sql.one(_MERCHANT_BY_ID, {"merchant_id": str(merchant_id)})
    return None if row is None else MerchantRecord(row[0], row[1], row[2], bool(row[3]), row[4], row[5])


def get_merchant(uow, merchant_id: str) -> MerchantRecord:
    merchant = find_merchant(uow, merchant_id)
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id!r} is registered")
    return merchant


def merchant_id_by_name(uow, name: str) -> str | None:
    """The id of the merchant registered as ``name`` (case-insensitive; the first registered wins), or None."""
    row = uow.conn.execute(select(t.merchants.c.id).where(func.lower(t.merchants.c.name) == name.lower()[:200])
                           .order_by(t.merchants.c.id).limit(1)).first()
    return None if row is None else row[0]


def issue_card(uow, cardholder_id: str, *, wallet_owner: str | None = None, funding: FundingSettings | None = None,
               controls: SpendControls | None = None, bin_prefix: str = DEFAULT_TEST_BIN, seed: str = "sandbox",
               valid_years: int = 3) -> tuple[Card, str]:
    """Issue a virtual card on the cardholder's bank account; returns the card and its CVV (shown once).
    The number and the CVV come from the programme's secret (``card.verification``: random under the
    BIN, deterministic for a seed)."""
    from . import verification
    bank = open_bank_account(uow, cardholder_id)
    sequence = (uow.conn.execute(select(func.max(t.cards.c.id))).scalar_one() or 0) + 1
    secret = verification.programme_secret(uow, seed)
    pan = verification.random_pan(uow, secret, sequence, bin_prefix)
    cvv = verification.derive_cvv(secret, pan)
    salt = hashlib.sha256(f"salt:{seed}:{pan}".encode()).hexdigest()[:32]
    month, year = expiry_after(uow.now(), valid_years)
    funding = funding or FundingSettings()
    controls = controls or SpendControls()
    card_id = uow.conn.execute(insert(t.cards).values(
        pan=pan, expiry_month=month, expiry_year=year, cvv_salt=salt, cvv_hash=hash_cvv(cvv, salt.encode()),
        status=ACTIVE, cardholder_id=cardholder_id, bank_account_id=bank.id,
        wallet_owner=wallet_owner or cardholder_id, funding=funding.to_dict(), controls=controls.to_dict(),
        created_at=uow.now())).inserted_primary_key[0]
    _card_event(uow, card_id, ACTIVE, "issued")
    return get_card(uow, card_id), cvv


_CARD_COLS = (t.cards.c.id, t.cards.c.pan, t.cards.c.expiry_month, t.cards.c.expiry_year, t.cards.c.status,
              t.cards.c.cardholder_id, t.cards.c.bank_account_id, t.bank_accounts.c.ledger_account_id,
              t.cards.c.wallet_owner, t.cards.c.funding, t.cards.c.controls)


def _json(value):  # noqa: ANN001
    # A JSON column read through the raw cursor: text on SQLite, already decoded by psycopg.
    return json.loads(value) if isinstance(value, (str, bytes)) else value


@functools.lru_cache(maxsize=1024)
def _settings_from_text(funding: str | bytes, controls: str | bytes) -> tuple[FundingSettings, SpendControls]:
    # Parsing two JSON documents into validated settings cost ~50 µs an authorization; a card's settings
    # rarely change, and both are frozen, so the parsed pair is shared by every read of the same text.
    return FundingSettings.from_dict(json.loads(funding)), SpendControls.from_dict(json.loads(controls))


def _card_from_row(row) -> Card:
    if isinstance(row[9], (str, bytes)) and isinstance(row[10], (str, bytes)):  # SQLite: JSON as text
        funding, controls = _settings_from_text(row[9], row[10])
    else:
        funding, controls = FundingSettings.from_dict(_json(row[9])), SpendControls.from_dict(_json(row[10]))
    return Card(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], funding, controls)


# The authorization hot path reads cards and merchants on the unit of work's cursor (ledger.fastpath).
_CARD_SELECT = ("SELECT c.id, c.pan, c.expiry_month, c.expiry_year, c.status, c.cardholder_id, c.bank_account_id, "
                "b.ledger_account_id, c.wallet_owner, c.funding, c.controls FROM card_cards c "
                "JOIN card_bank_accounts b ON b.id = c.bank_account_id ")
_CARD_BY_ID = _CARD_SELECT + "WHERE c.id = :card_id"
_CARD_BY_PAN = _CARD_SELECT + "WHERE c.pan = :pan"
_MERCHANT_BY_ID = ("SELECT id, name, mcc, in_zone, settlement_account_id, mdr_bps FROM card_merchants "
                   "WHERE id = :merchant_id")


def find_card(uow, *, card_id: int | None = None, pan: str | None = None) -> Card | None:
    if card_id is not None:
        if type(card_id) is not int or not 0 < card_id < 2**63:
            return None
        row = uow.sql.one(_CARD_BY_ID, {"card_id": card_id})
    else:
        row = uow.sql.one(_CARD_BY_PAN, {"pan": str(pan)})
    return None if row is None else _card_from_row(row)


@dataclass(frozen=True)
class PurchaseSnapshot:
    """What an authorization reads before it decides, from ONE statement (``purchase_snapshot``): the
    earlier use of its idempotency key, the card, the merchant and (when asked) the card's day and
    month counters."""
    key_authorization_id: int | None
    key_request_hash: str | None
    card: Card | None
    merchant: MerchantRecord | None
    usage: tuple[int, int, int, int] | None   # (day amount, day count, month amount, month count); None: not read


_SNAPSHOT_COLS = ("SELECT a.id, a.request_hash, c.id, c.pan, c.expiry_month, c.expiry_year, c.status, c.cardholder_id, "
                  "c.bank_account_id, b.ledger_account_id, c.wallet_owner, c.funding, c.controls, m.id, m.name, m.mcc, "
                  "m.in_zone, m.settlement_account_id, m.mdr_bps")
_SNAPSHOT_USAGE_COLS = ", ud.amount_minor, ud.count, um.amount_minor, um.count"
_SNAPSHOT_FROM = (" FROM (SELECT 1 AS one) q LEFT JOIN card_authorizations a ON a.idempotency_key = :key "
                  "LEFT JOIN card_cards c ON {card} LEFT JOIN card_bank_accounts b ON b.id = c.bank_account_id "
                  "LEFT JOIN card_merchants m ON m.id = :merchant_id")
_SNAPSHOT_USAGE_FROM = (" LEFT JOIN card_usage ud ON ud.card_id = c.id AND ud.period = :d "
                        "LEFT JOIN card_usage um ON um.card_id = c.id AND um.period = :m")
_SNAPSHOTS = {(by, usage): _SNAPSHOT_COLS + (_SNAPSHOT_USAGE_COLS if usage else "")
              + _SNAPSHOT_FROM.format(card="c.id = :card_id" if by == "id" else "c.pan = :pan")
              + (_SNAPSHOT_USAGE_FROM if usage else "")
              for by in ("id", "pan") for usage in (False, True)}


def purchase_snapshot(uow, *, key: str, merchant_id: str, card_id: int | None = None, pan: str | None = None,
                      periods: tuple[str, str] | None = None) -> PurchaseSnapshot:
    """The authorization's reads in one statement (see ``PurchaseSnapshot``): the card by id (or by
    ``pan``; neither, or an id out of range, finds none), the merchant ``merchant_id``, and with
    ``periods`` (day, month) the card's usage counters of those periods."""
    if card_id is not None and (type(card_id) is not int or not 0 < card_id < 2**63):
        card_id, pan = None, None
    by = "id" if card_id is not None or pan is None else "pan"
    params = {"key": key, "merchant_id": str(merchant_id), "card_id": card_id, "pan": None if pan is None else str(pan)}
    if periods is not None:
        params["d"], params["m"] = periods
    row = uow.sql.one(_SNAPSHOTS[by, periods is not None], params)
    card = None if row[2] is None else _card_from_row(row[2:13])
    merchant = None if row[13] is None else MerchantRecord(row[13], row[14], row[15], bool(row[16]), row[17], row[18])
    usage = None
    if periods is not None:
        usage = (int(row[19] or 0), int(row[20] or 0), int(row[21] or 0), int(row[22] or 0))
    return PurchaseSnapshot(row[0], row[1], card, merchant, usage)


def get_card(uow, card_id: int) -> Card:
    card = find_card(uow, card_id=card_id)
    if card is None:
        raise CardNotFound(f"no card {card_id}")
    return card


def update_settings(uow, card_id: int, *, funding: FundingSettings | None = None,
                    controls: SpendControls | None = None) -> Card:
    get_card(uow, card_id)
    values = {}
    if funding is not None:
        values["funding"] = funding.to_dict()
    if controls is not None:
        values["controls"] = controls.to_dict()
    if values:
        uow.conn.execute(update(t.cards).where(t.cards.c.id == card_id).values(**values))
    return get_card(uow, card_id)


_TRANSITIONS = {"freeze": ({ACTIVE}, FROZEN), "unfreeze": ({FROZEN}, ACTIVE), "close": ({ACTIVE, FROZEN, EXPIRED}, CLOSED)}


def change_status(uow, card_id: int, action: str, note: str = "") -> Card:
    """freeze (active -> frozen), unfreeze (frozen -> active), close (active/frozen -> closed, final)."""
    if action not in _TRANSITIONS:
        raise InvalidRequest(f"unknown card action {action!r}; use freeze, unfreeze or close")
    card = get_card(uow, card_id)
    allowed_from, to = _TRANSITIONS[action]
    status = card.effective_status(uow.now())
    if status not in allowed_from:
        raise InvalidCardState(f"cannot {action} a card that is {status}", card_id=card_id, status=status)
    uow.conn.execute(update(t.cards).where(t.cards.c.id == card_id).values(status=to))
    _card_event(uow, card_id, to, note or action)
    return get_card(uow, card_id)


def _card_event(uow, card_id: int, status: str, note: str) -> None:
    uow.conn.execute(insert(t.card_events).values(card_id=card_id, at=uow.now(), status=status, note=note[:200]))


# -- lists the dashboard's pickers show --------------------------------------------------------------------
def first_cards(uow, *, cardholder_id: str | None = None, limit: int = 500) -> list[tuple[str, int, str, str]]:
    """(cardholder, card id, PAN, status) of each cardholder's first card, by cardholder (bounded)."""
    c = t.cards.c
    query = select(c.cardholder_id, func.min(c.id)).group_by(c.cardholder_id).order_by(c.cardholder_id)
    if cardholder_id is not None:
        query = query.where(c.cardholder_id == cardholder_id)
    firsts = uow.conn.execute(query.limit(limit)).all()
    ids = [card_id for _, card_id in firsts]
    rows = {r.id: r for r in uow.conn.execute(select(c.id, c.pan, c.status).where(c.id.in_(ids)))} if ids else {}
    return [(holder, card_id, rows[card_id].pan, rows[card_id].status) for holder, card_id in firsts]


def first_card_id(uow, cardholder_id: str) -> int | None:
    """The id of the cardholder's first card, or None."""
    return uow.conn.execute(select(func.min(t.cards.c.id)).where(t.cards.c.cardholder_id == cardholder_id)).scalar()


def merchants(uow, *, merchant_id: str | None = None, limit: int = 500) -> list[MerchantRecord]:
    """Registered merchants by name (bounded); ``merchant_id`` narrows to one."""
    m = t.merchants.c
    query = select(m.id, m.name, m.mcc, m.in_zone, m.settlement_account_id, m.mdr_bps).order_by(m.name, m.id)
    if merchant_id is not None:
        query = query.where(m.id == merchant_id)
    return [MerchantRecord(r[0], r[1], r[2], bool(r[3]), r[4], r[5]) for r in uow.conn.execute(query.limit(limit))]


def merchant_ids_starting(uow, prefix: str, *, limit: int = 100_000) -> list[str]:
    """Ids of registered merchants that start with ``prefix`` (bounded), in id order."""
    m = t.merchants.c
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = select(m.id).where(m.id.like(f"{escaped}%", escape="\\")).order_by(m.id).limit(limit)
    return list(uow.conn.execute(query).scalars())


def counts(uow) -> dict[str, int]:
    """How many cardholders and merchants the bank has."""
    people = uow.conn.execute(select(func.count(func.distinct(t.cards.c.cardholder_id)))).scalar_one()
    shops = uow.conn.execute(select(func.count()).select_from(t.merchants)).scalar_one()
    return {"customers": int(people), "merchants": int(shops)}
