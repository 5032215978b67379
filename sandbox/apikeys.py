"""API keys per role, stored hashed: the secret is shown once and only its SHA-256 is kept.

Roles and what they may do (enforced by ``sandbox.web.auth``):

- ``operator``  — everything;
- ``regulator`` — read everything, plus the supervisory writes (suspend licences, freeze KZTE addresses);
- ``merchant``  — authorize / capture / refund for its own merchant id only (``--for`` is required);
- ``customer``  — its own accounts, wallet, card and statements only (``--for`` is required: the owner
  string of its accounts, e.g. ``cust:1``).

``keys_command`` is the click group the CLI registers as ``cryptocity keys``.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import click
from sqlalchemy import Column, Index, MetaData, String, Table, insert, select, update

from ledger.types import Id, Timestamp
from sandbox.cli_support import db_option, open_existing, resolve_db_url
from sandbox.errors import CityError

ROLES = ("operator", "regulator", "merchant", "customer")
ROLES_WITH_SUBJECT = frozenset({"merchant", "customer"})
TOKEN_PREFIX = "cck_"
MAX_TOKEN_LENGTH = 200
_SUBJECT = re.compile(r"^[\w.:@/+-]{1,120}$")

metadata = MetaData()

api_keys = Table(
    "sandbox_api_keys", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("secret_sha256", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("subject", String(120)),
    Column("label", String(120), nullable=False, default=""),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp),
)
Index("ix_sandbox_api_keys_role", api_keys.c.role)


class InvalidApiKey(CityError):
    code = "invalid_api_key"


# Narrower codes of InvalidApiKey.
UNKNOWN_ROLE = "unknown_role"
SUBJECT_REQUIRED = "subject_required"
SUBJECT_NOT_ALLOWED = "subject_not_allowed"
INVALID_SUBJECT = "invalid_subject"
KEY_NOT_FOUND = "key_not_found"
UNKNOWN_SUBJECT_CODES = {"customer": "unknown_customer", "merchant": "unknown_merchant"}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key's row id, its role and (for merchant/customer) whose data it may touch."""

    key_id: int
    role: str
    subject: str | None = None
    label: str = ""

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


@dataclass(frozen=True, slots=True)
class NewKey:
    principal: Principal
    token: str  # the secret: shown once, never stored


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_key_request(role: str, subject: str | None) -> None:
    """Refuse an unknown role, a missing or superfluous ``--for``, or a malformed one."""
    if role not in ROLES:
        raise InvalidApiKey(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", code=UNKNOWN_ROLE)
    if role in ROLES_WITH_SUBJECT and not subject:
        raise InvalidApiKey(f"a {role} key belongs to one {role}: pass --for ID", code=SUBJECT_REQUIRED)
    if role not in ROLES_WITH_SUBJECT and subject:
        raise InvalidApiKey(f"an {role} key is not tied to one party; drop --for", code=SUBJECT_NOT_ALLOWED)
    if subject is not None and not _SUBJECT.match(subject):
        raise InvalidApiKey(f"--for {subject!r} must be 1-120 letters, digits or . : @ / + - _",
                            code=INVALID_SUBJECT)


def create_key(conn, role: str, subject: str | None, *, now: datetime, label: str = "") -> NewKey:
    """Create a key for ``role`` (and ``subject`` for merchant/customer); return it with its one-time secret."""
    check_key_request(role, subject)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    result = conn.execute(insert(api_keys).values(
        secret_sha256=_digest(token), prefix=token[:12], role=role, subject=subject, label=label[:120],
        created_at=now))
    return NewKey(Principal(result.inserted_primary_key[0], role, subject, label), token)


def _well_formed(token: str) -> bool:
    return isinstance(token, str) and token.startswith(TOKEN_PREFIX) and len(token) <= MAX_TOKEN_LENGTH


def resolve_key(conn, token: str) -> Principal | None:
    """The principal of an unrevoked key, or None (an unknown, malformed or revoked key)."""
    if not _well_formed(token):
        return None
    k = api_keys.c
    row = conn.execute(select(k.id, k.role, k.subject, k.label).where(
        k.secret_sha256 == _digest(token), k.revoked_at.is_(None))).first()
    return None if row is None else Principal(row[0], row[1], row[2], row[3])


_RESOLVE = ("SELECT id, role, subject, label FROM sandbox_api_keys "
            "WHERE secret_sha256 = :digest AND revoked_at IS NULL")


def resolve_key_in(uow, token: str) -> Principal | None:
    """``resolve_key`` inside a unit of work, on its cursor (``uow.sql``): the API's check before every
    request. Read from the database each time, so a revoked key stops working at once."""
    if not _well_formed(token):
        return None
    row = uow.sql.one(_RESOLVE, {"digest": _digest(token)})
    return None if row is None else Principal(row[0], row[1], row[2], row[3])


def resolve_key_ahead(uow, token: str) -> Callable[[], Principal | None]:
    """``resolve_key_in``, started now and answered when called: on PostgreSQL the read goes out with the
    unit of work's next statement (the scope check's owner read), one round trip for both."""
    if not _well_formed(token):
        return lambda: None
    ahead = uow.sql.read_ahead(_RESOLVE, {"digest": _digest(token)})

    def principal() -> Principal | None:
        row = ahead.one()
        return None if row is None else Principal(row[0], row[1], row[2], row[3])
    return principal


def revoke_key(conn, key_id: int, *, now: datetime) -> bool:
    """Revoke a key by id; True if it was active."""
    k = api_keys.c
    return conn.execute(update(api_keys).where(k.id == key_id, k.revoked_at.is_(None))
                        .values(revoked_at=now)).rowcount == 1


def list_keys(conn) -> list[dict]:
    k = api_keys.c
    rows = conn.execute(select(k.id, k.prefix, k.role, k.subject, k.label, k.created_at, k.revoked_at)
                        .order_by(k.id))
    return [dict(r._mapping) for r in rows]


# The accounts that make a party a customer or a merchant in this database (card.issuing opens a
# merchant's settlement account and a customer's bank account; the exchange a customer's asset accounts).
SUBJECT_PURPOSES = {"customer": frozenset({"customer", "bank"}), "merchant": frozenset({"merchant"})}


def require_subject(uow, role: str, subject: str | None) -> None:
    """Refuse a merchant or customer key for a party that does not exist in this database: such a key
    could never see anything, and a typo should not look like success."""
    purposes = SUBJECT_PURPOSES.get(role)
    if purposes is None or subject is None:
        return
    if not any(account.purpose in purposes for account in uow.accounts_of(subject)):
        hint = "onboard the customer first" if role == "customer" else "merchants come from the configuration"
        raise InvalidApiKey(f"there is no {role} {subject!r} in this database ({hint}; check --db)",
                            code=UNKNOWN_SUBJECT_CODES[role])


# -- CLI: cryptocity keys create ROLE [--for ID] ---------------------------------------------------
def _open_ledger(db_url: str | None, *, existing: str = ""):
    """The ledger of ``--db``, migrated (created if new) — unless ``existing`` says why this command needs
    a database that exists already (nothing is created or migrated then)."""
    from ledger import Database, Ledger
    if existing:
        return Ledger(open_existing(resolve_db_url(db_url), why=existing))
    db = Database(resolve_db_url(db_url))
    db.migrate()
    return Ledger(db)


_db_option = db_option("the SQLite file `cryptocity serve` uses")


@click.group("keys")
def keys_command() -> None:
    """API keys for `cryptocity serve` (operator, regulator, merchant, customer)."""


@keys_command.command("create")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--for", "subject", default=None, help="Merchant id or customer id (the owner of its accounts).")
@click.option("--label", default="", help="A note to recognise the key by.")
@_db_option
def create_command(role: str, subject: str | None, label: str, db_url: str | None) -> None:
    """Create a key and print its secret once (only a hash is stored). A customer or merchant key needs
    that customer or merchant in the database."""
    check_key_request(role, subject)
    ledger = _open_ledger(db_url, existing=f"a {role} key needs the database that holds the {role}"
                          if role in ROLES_WITH_SUBJECT else "")
    with ledger.unit_of_work() as uow:
        require_subject(uow, role, subject)
        new = create_key(uow.conn, role, subject, now=uow.now(), label=label)
        uow.commit()
    who = f" for {subject}" if subject else ""
    click.echo(f"created {role} key #{new.principal.key_id}{who}. Store the secret now; it is not shown again:",
               err=True)
    click.echo(new.token)
    ledger.db.dispose()


@keys_command.command("list")
@_db_option
def list_command(db_url: str | None) -> None:
    """List keys (prefixes only; secrets are never stored)."""
    ledger = _open_ledger(db_url, existing="listing keys only reads and creates no database")
    with ledger.unit_of_work(read_only=True) as uow:
        for row in list_keys(uow.conn):
            state = "revoked" if row["revoked_at"] else "active"
            click.echo(f"#{row['id']:<4} {row['prefix']}…  {row['role']:<9} {row['subject'] or '-':<20} {state}"
                       f"  {row['label']}")
    ledger.db.dispose()


@keys_command.command("revoke")
@click.argument("key_id", type=int)
@_db_option
def revoke_command(key_id: int, db_url: str | None) -> None:
    """Revoke a key by its number."""
    ledger = _open_ledger(db_url, existing="revoking a key creates no database")
    with ledger.unit_of_work() as uow:
        done = revoke_key(uow.conn, key_id, now=uow.now())
        uow.commit()
    if not done:
        raise InvalidApiKey(f"no active key #{key_id}", code=KEY_NOT_FOUND)
    click.echo(f"revoked key #{key_id}")
    ledger.db.dispose()
