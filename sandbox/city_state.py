"""The city's shared state in the database: the set-up marker and clock row, licence states and
customer profiles (tables in sandbox/tables.py, migration sandbox_0002).

Any process may serve any request, so nothing the facade decides from lives only in one process's
memory: these functions read and write the rows inside the caller's connection (a unit of work's,
so a change commits or rolls back with the audit entry that records it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from .licensing import LicenceState
from .tables import audit_log, city_state, customers, licences

HEAD_ID = 1
SETUP_LOCK = "sandbox:setup"
CLOCK_LOCK = "sandbox:clock"
LICENCE_LOCK = "sandbox:licences"
MAX_LICENCES = 10_000
MAX_REPLAY = 1_000_000


@dataclass(frozen=True)
class Head:
    """The city row: created once, then its clock and licence version move."""
    name: str
    seed: int
    created_at: datetime
    now: datetime
    licences_version: int
    timezone: str | None = None   # the calendar the card's counters are in; None: UTC (set up before it was kept)


@dataclass(frozen=True)
class CustomerRow:
    actor: str
    kyc_tier: str
    resident: bool
    residency_basis: str
    aifc_investor: bool
    days_in_kazakhstan: int | None
    arrived_on: date | None
    card_id: int
    bank_ledger_account_id: int
    iban: str
    created_at: datetime
    full_name: str | None = None   # as given at onboarding (None: onboarded by actor id only)


_HEAD = select(city_state.c.name, city_state.c.seed, city_state.c.created_at, city_state.c.now,
               city_state.c.licences_version, city_state.c.timezone).where(city_state.c.id == HEAD_ID)
_TICK = select(city_state.c.now, city_state.c.licences_version).where(city_state.c.id == HEAD_ID)


def head(conn, *, for_update: bool = False) -> Head | None:
    """The city row, or None on a database where no city was set up yet."""
    row = conn.execute(_HEAD.with_for_update() if for_update else _HEAD).first()
    return None if row is None else Head(row[0], int(row[1]), row[2], row[3], int(row[4]), row[5])


def tick(conn) -> tuple[datetime, int] | None:
    """(sandbox now, licences version): the one cheap read a process makes before each verb."""
    row = conn.execute(_TICK).first()
    return None if row is None else (row[0], int(row[1]))


_TICK_SQL = "SELECT now, licences_version FROM sandbox_city WHERE id = 1"


def tick_raw(engine) -> tuple[datetime, int] | None:
    """``tick`` on a pooled DBAPI connection, skipping SQLAlchemy's per-statement machinery: this read
    runs before every verb (measured: SQLite ~190 -> ~40 us, PostgreSQL ~360 -> ~210 us). One statement, so no transaction:
    SQLite's driver is in autocommit mode here (ledger/db.py emits BEGIN itself), PostgreSQL's
    connection is switched to autocommit for the read and back before it returns to the pool."""
    from ledger.types import from_micros
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        pg = engine.dialect.name == "postgresql"
        if pg:
            driver.autocommit = True
        try:
            cur = raw.cursor()
            cur.execute(_TICK_SQL)
            row = cur.fetchone()
            cur.close()
        finally:
            if pg:
                driver.autocommit = False
    finally:
        raw.close()
    return None if row is None else (from_micros(int(row[0])), int(row[1]))


def tick_in(uow) -> tuple[datetime, int] | None:
    """``tick`` as the first statement of a unit of work (on its raw cursor: the one read every request
    pays before anything else)."""
    from ledger.types import from_micros
    row = uow.sql.one(_TICK_SQL)
    return None if row is None else (from_micros(int(row[0])), int(row[1]))


def create_head(conn, name: str, seed: int, created_at: datetime, now: datetime, timezone: str | None) -> None:
    conn.execute(city_state.insert().values(id=HEAD_ID, name=name[:200], seed=seed, created_at=created_at,
                                            now=now, licences_version=0, timezone=timezone))


def set_timezone(conn, timezone: str) -> None:
    conn.execute(city_state.update().where(city_state.c.id == HEAD_ID).values(timezone=timezone))


def set_now(conn, now: datetime) -> None:
    conn.execute(city_state.update().where(city_state.c.id == HEAD_ID).values(now=now))


def bump_licences_version(conn) -> int:
    conn.execute(city_state.update().where(city_state.c.id == HEAD_ID)
                 .values(licences_version=city_state.c.licences_version + 1))
    return int(conn.execute(select(city_state.c.licences_version).where(city_state.c.id == HEAD_ID)).scalar_one())


def legacy_city(conn) -> tuple[datetime, datetime] | None:
    """(created, last change) of a city set up before this table existed (its ``city.created`` entry)."""
    created = conn.execute(select(audit_log.c.at).where(audit_log.c.action == "city.created")
                           .order_by(audit_log.c.seq).limit(1)).scalar()
    if created is None:
        return None
    last = conn.execute(select(func.max(audit_log.c.at))).scalar()
    return created, max(created, last)


# ------------------------------------------------------------------ clock history
def advances_since(conn, after_seq: int) -> list[tuple[int, datetime]]:
    """(audit seq, new time) of every ``clock.advanced`` after ``after_seq``, in order: the price model
    is path-dependent, so a process replays exactly the advances the city made."""
    rows = conn.execute(select(audit_log.c.seq, audit_log.c.at)
                        .where(audit_log.c.action == "clock.advanced", audit_log.c.seq > after_seq)
                        .order_by(audit_log.c.seq).limit(MAX_REPLAY)).all()
    return [(int(seq), at) for seq, at in rows]


# ------------------------------------------------------------------ licences
def _licence_row(lic: LicenceState) -> dict:
    return {"participant": lic.participant, "regulator": lic.regulator, "scope": lic.scope,
            "valid_from": lic.valid_from, "valid_until": lic.valid_until, "renewable": lic.renewable,
            "suspended_at": lic.suspended_at,
            "suspension_reason": (lic.suspension_reason or None) and lic.suspension_reason[:300]}


def seed_licences(conn, states: list[LicenceState]) -> int:
    """Insert the configured licences the table does not hold yet (existing rows keep their state)."""
    known = set(conn.execute(select(licences.c.id)).scalars())
    missing = [lic for lic in states if lic.id not in known]
    for lic in missing:
        conn.execute(licences.insert().values(id=lic.id, **_licence_row(lic)))
    return len(missing)


def load_licences(conn) -> list[LicenceState]:
    rows = conn.execute(select(licences).order_by(licences.c.id).limit(MAX_LICENCES)).all()
    return [LicenceState(r.id, r.participant, r.regulator, r.scope, r.valid_from, r.valid_until, bool(r.renewable),
                         r.suspended_at, r.suspension_reason) for r in rows]


def save_licence(conn, lic: LicenceState) -> None:
    conn.execute(licences.update().where(licences.c.id == lic.id).values(**_licence_row(lic)))


def licence_history(conn) -> list[tuple[str, str, datetime, str]]:
    """(verb, licence id, at, reason) of the licence changes in the audit log, oldest first."""
    rows = conn.execute(select(audit_log.c.action, audit_log.c.subject, audit_log.c.at, audit_log.c.details)
                        .where(audit_log.c.action.in_(("licence.suspend", "licence.reinstate")))
                        .order_by(audit_log.c.seq).limit(MAX_REPLAY)).all()
    return [(action.split(".", 1)[1], subject, at, json.loads(details).get("reason", ""))
            for action, subject, at, details in rows]


# ------------------------------------------------------------------ customers
def insert_customer(conn, row: CustomerRow) -> None:
    conn.execute(customers.insert().values(**row.__dict__))


def customer(conn, actor: str) -> CustomerRow | None:
    r = conn.execute(select(customers).where(customers.c.actor == actor)).first()
    return None if r is None else CustomerRow(**r._mapping)


def require_customer(conn, actor: str) -> CustomerRow:
    """The onboarded customer ``actor`` as the database has it now; ``UnknownActor`` otherwise."""
    from .errors import UnknownActor
    row = customer(conn, actor) if isinstance(actor, str) else None
    if row is None:
        raise UnknownActor(f"{actor!r} has not been onboarded; onboard them first", actor=str(actor)[:120])
    return row


def all_customers(conn, limit: int) -> list[CustomerRow]:
    return [CustomerRow(**r._mapping)
            for r in conn.execute(select(customers).order_by(customers.c.created_at, customers.c.actor).limit(limit))]


def profiles(conn, actors: list[str]) -> dict[str, CustomerRow]:
    """The customers among ``actors`` (bounded by the page that asks), by actor."""
    if not actors:
        return {}
    rows = conn.execute(select(customers).where(customers.c.actor.in_(list(actors)[:1000])))
    return {r.actor: CustomerRow(**r._mapping) for r in rows}


def customer_count(conn) -> int:
    return int(conn.execute(select(func.count()).select_from(customers)).scalar_one())


def actors_starting(conn, prefix: str, limit: int) -> list[str]:
    """Customers whose actor id starts with ``prefix`` (bounded), in id order."""
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query = (select(customers.c.actor).where(customers.c.actor.like(f"{escaped}%", escape="\\"))
             .order_by(customers.c.actor).limit(limit))
    return list(conn.execute(query).scalars())


def onboarded_in_audit(conn, limit: int) -> list[tuple[str, datetime, dict]]:
    """(actor, at, details) of ``customer.onboarded`` entries: a city set up before the customers table."""
    rows = conn.execute(select(audit_log.c.subject, audit_log.c.at, audit_log.c.details)
                        .where(audit_log.c.action == "customer.onboarded").order_by(audit_log.c.seq)
                        .limit(limit)).all()
    return [(subject, at, json.loads(details)) for subject, at, details in rows]


def kyc_tier_of(conn, actor: str) -> str | None:
    """The customer's KYC tier as the database has it now (it may change after onboarding)."""
    return conn.execute(select(customers.c.kyc_tier).where(customers.c.actor == actor)).scalar()


_KYC_TIER_SQL = "SELECT kyc_tier FROM sandbox_customers WHERE actor = :actor"


def kyc_tier_in(uow, actor: str) -> str | None:
    """``kyc_tier_of`` inside a unit of work on its raw cursor (the card authorization's path: ~3 us
    instead of ~125 us through Core on SQLite)."""
    row = uow.sql.one(_KYC_TIER_SQL, {"actor": actor})
    return None if row is None else row[0]


_PROFILE_SQL = "SELECT kyc_tier, resident, aifc_investor FROM sandbox_customers WHERE actor = :actor"


def profile_in(uow, actor: str) -> tuple | None:
    """(KYC tier, resident, AIFC investor) of ``actor`` as the database has it now, or None; on the unit of
    work's raw cursor (read by every card authorization's rules)."""
    return uow.sql.one(_PROFILE_SQL, {"actor": actor})


def set_kyc_tier(conn, actor: str, kyc_tier: str) -> None:
    conn.execute(customers.update().where(customers.c.actor == actor).values(kyc_tier=kyc_tier))
