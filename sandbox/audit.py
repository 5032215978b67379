"""Append-only, hash-chained audit log of state changes.

Each entry's hash = sha256(previous hash + canonical JSON of the entry (seq, at, actor,
action, subject, details)). ``verify`` recomputes the chain and names the first entry that
was edited, deleted or moved; a head row catches deletion of the newest entries.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import JSON, cast, func, select

from ledger.errors import DomainError
from ledger.types import to_micros

from .tables import audit_head, audit_log

GENESIS = "0" * 64
MAX_DETAILS_CHARS = 20_000


class AuditError(DomainError, ValueError):
    code = "audit_error"


def canonical(entry: dict) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject: str, details: str) -> str:
    body = canonical({"seq": seq, "at_us": to_micros(at), "actor": actor, "action": action, "subject": subject,
                      "details": json.loads(details)})
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


_HEAD = "SELECT seq, hash FROM sandbox_audit_head WHERE id = 1"
# PostgreSQL: the head row's lock IS the chain's lock (one appender at a time: the chain is a sequence),
# taken by the read itself; READ COMMITTED re-reads the row once a concurrent appender commits.
_HEAD_LOCKED = _HEAD + " FOR UPDATE"
_INSERT = ("INSERT INTO sandbox_audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
           "VALUES (:seq, :at, :actor, :action, :subject, :details, :prev, :hash)")
_MOVE_HEAD = "UPDATE sandbox_audit_head SET seq = :seq, hash = :hash WHERE id = 1"
_NEW_HEAD = "INSERT INTO sandbox_audit_head (id, seq, hash) VALUES (1, :seq, :hash)"
# PostgreSQL: the entry and the head's move in one statement (a data-modifying CTE; SQLite has none).
_INSERT_MOVING_HEAD = ("WITH moved AS (UPDATE sandbox_audit_head SET seq = :seq, hash = :hash WHERE id = 1) "
                       + _INSERT)
# PostgreSQL, an entry chained at COMMIT: one statement locks the head, numbers and hashes the entry in SQL
# (sha256 over the same text ``entry_hash`` hashes: prev hash + the canonical JSON, whose only part unknown
# before the head is read is the seq), moves the head (or creates it, with the very first entry) and writes
# the entry. It goes out in the COMMIT's pipelined round trip, so the chain's lock is held for the commit
# alone, not for the rest of the request; before, every audited purchase held it from the audit call to the
# COMMIT, and concurrent purchases queued behind it.
_CHAIN_AT_COMMIT = (
    "WITH head AS (SELECT seq, hash FROM sandbox_audit_head WHERE id = 1 FOR UPDATE), "
    "entry AS (SELECT COALESCE(h.seq, 0) + 1 AS seq, COALESCE(h.hash, :genesis) AS prev "
    "FROM (SELECT 1) AS one LEFT JOIN head AS h ON TRUE), "
    "hashed AS (SELECT seq, prev, encode(sha256(convert_to(prev || :body_before_seq || seq::text || "
    ":body_after_seq, 'UTF8')), 'hex') AS hash FROM entry), "
    "moved AS (INSERT INTO sandbox_audit_head (id, seq, hash) SELECT 1, seq, hash FROM hashed "
    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash) "
    "INSERT INTO sandbox_audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
    "SELECT seq, :at, :actor, :action, :subject, :details, prev, hash FROM hashed")
CHAIN_LOCK = "sandbox:audit"
# UnitOfWork.scratch: SQLite, the (seq, hash) of the entry queued for the commit; PostgreSQL, that an entry
# queued for the commit is numbered there (each kind of database uses only its own marker)
PENDING_HEAD = "sandbox.audit.pending_head"
CHAINED_AT_COMMIT = "sandbox.audit.chained_at_commit"


def _body_around_seq(at_us: int, actor: str, action: str, subject: str, details_json: str) -> tuple[str, str]:
    """The canonical JSON that ``entry_hash`` hashes, cut where the seq goes: (before, after). Its keys are
    sorted, so ``seq`` always sits between ``details`` and ``subject``."""
    before = canonical({"action": action, "actor": actor, "at_us": at_us, "details": json.loads(details_json)})
    return before[:-1] + ',"seq":', ',"subject":' + canonical(subject) + "}"


def append(uow, actor: str, action: str, subject: str, details: dict | None = None,
           at: datetime | None = None, *, at_commit: bool = False) -> int | None:
    """Append one entry inside ``uow`` (it commits or rolls back with the change it records); return its seq,
    or None for an entry numbered at COMMIT (below).

    Round trips: PostgreSQL two (the head read under its row lock; the entry inserted and the head moved
    in one statement), SQLite three (its single writer needs no lock). ``at_commit``: the entry's write
    goes out with the COMMIT (``UnitOfWork.write_at_commit``), for an entry nothing in the unit of work reads
    back; the appends after it in the same unit of work are queued the same way, after it. On PostgreSQL such
    an entry costs no round trip of its own and is numbered, hashed and chained by the COMMIT's pipeline
    itself (``_CHAIN_AT_COMMIT``), so its seq is not known here — nor that of an append after it in the same
    unit of work. The very first entry of an empty chain written this way races no other: a city writes its
    ``city.created`` entry (at once) before anything else."""
    details_json = canonical(details or {})
    if len(details_json) > MAX_DETAILS_CHARS:
        raise AuditError(f"audit details longer than {MAX_DETAILS_CHARS} characters")
    at = at or uow.now()
    actor, action, subject = actor[:120], action[:80], subject[:200]
    # Parametrised SQL on the unit of work's own cursor (ledger.fastpath), not Core: every audited change
    # (each card payment) pays these; ``at`` goes in as BIGINT microseconds (Timestamp).
    sql = uow.sql
    pg = not uow.ledger.db.is_sqlite
    if pg and (at_commit or uow.scratch.get(CHAINED_AT_COMMIT)):
        before, after = _body_around_seq(to_micros(at), actor, action, subject, details_json)
        uow.write_at_commit(_CHAIN_AT_COMMIT, {"genesis": GENESIS, "body_before_seq": before,
                                               "body_after_seq": after, "at": to_micros(at), "actor": actor,
                                               "action": action, "subject": subject, "details": details_json})
        uow.scratch[CHAINED_AT_COMMIT] = True   # an append after this one must chain after it: at COMMIT too
        return None
    queued = uow.scratch.get(PENDING_HEAD)   # an entry of this unit of work waits for the commit: chain after it
    if queued is not None:
        head, at_commit = queued, True   # SQLite's writer is already held by us
    else:
        head = sql.one(_HEAD_LOCKED if pg else _HEAD)
        if head is None and pg:   # the very first entry: no row to lock yet, so the advisory lock orders appenders
            uow.advisory_lock(CHAIN_LOCK)
            head = sql.one(_HEAD_LOCKED)   # another appender may have written it meanwhile: lock it then
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    digest = entry_hash(prev, seq, at, actor, action, subject, details_json)
    entry = {"seq": seq, "at": to_micros(at), "actor": actor, "action": action,
             "subject": subject, "details": details_json, "prev": prev, "hash": digest}
    write = uow.write_at_commit if at_commit else sql.run
    if head is not None and pg:
        write(_INSERT_MOVING_HEAD, entry)
    else:
        write(_INSERT, entry)
        write(_MOVE_HEAD if head else _NEW_HEAD, {"seq": seq, "hash": digest})
    if at_commit:
        uow.scratch[PENDING_HEAD] = (seq, digest)
    return seq


def latest(conn, limit: int = 10) -> list:
    """The newest ``limit`` entries, newest first."""
    log = audit_log.c
    return conn.execute(select(log.seq, log.at, log.actor, log.action, log.subject, log.details)
                        .order_by(log.seq.desc()).limit(limit)).all()


def has_entry(conn, action: str, subject: str) -> bool:
    """Whether the log holds an entry ``action`` on ``subject``."""
    return conn.execute(select(audit_log.c.seq).where(audit_log.c.action == action, audit_log.c.subject == subject)
                        .limit(1)).first() is not None


def _customer_of(conn):  # noqa: ANN001, ANN202
    """The details' ``customer`` field, read by the database (the details are canonical JSON text)."""
    if conn.dialect.name == "postgresql":
        return cast(audit_log.c.details, JSON)["customer"].as_string()
    return func.json_extract(audit_log.c.details, "$.customer")


def entries_of(conn, actions: tuple[str, ...], *, customer: str | None = None,
               limit: int) -> list[tuple[datetime, str]]:
    """(at, details JSON) of the entries whose action is one of ``actions`` (and whose details name
    ``customer``, if given: the database picks them, however many other customers' entries there are),
    in order (bounded)."""
    where = [audit_log.c.action.in_(actions)]
    if customer is not None:
        where.append(_customer_of(conn) == customer)
    return conn.execute(select(audit_log.c.at, audit_log.c.details).where(*where)
                        .order_by(audit_log.c.seq).limit(limit)).all()


@dataclass
class AuditReport:
    entries: int
    ok: bool
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, hash chain verified"
        return "audit log TAMPERED:\n" + "\n".join(f"  - {p}" for p in self.problems)


def verify(conn, limit_problems: int = 20) -> AuditReport:
    """Recompute the chain. Reports the first entries that were edited, deleted or reordered."""
    problems: list[str] = []
    first_bad: int | None = None
    prev_hash, expected_seq, count = GENESIS, 1, 0

    def bad(seq: int, text: str) -> None:
        nonlocal first_bad
        first_bad = seq if first_bad is None else first_bad
        if len(problems) < limit_problems:
            problems.append(text)

    rows = conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings()
    for row in rows:
        count += 1
        if row["seq"] != expected_seq:
            bad(expected_seq, f"entry {expected_seq}"
                + (f"..{row['seq'] - 1}" if row["seq"] - 1 > expected_seq else "")
                + f" is missing (deleted): the log jumps from {expected_seq - 1} to {row['seq']}")
        if row["prev_hash"] != prev_hash:
            bad(row["seq"], f"entry {row['seq']} does not follow the entry before it "
                            "(an entry before it was deleted, edited or reordered)")
        try:
            recomputed = entry_hash(row["prev_hash"], row["seq"], row["at"], row["actor"], row["action"],
                                    row["subject"], row["details"])
        except (ValueError, TypeError):
            recomputed = ""
        if recomputed != row["hash"]:
            bad(row["seq"], f"entry {row['seq']} ({row['action']} {row['subject']}) was edited: its content "
                            "does not match its hash")
        prev_hash, expected_seq = row["hash"], row["seq"] + 1
    head = conn.execute(select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    last_seq = expected_seq - 1
    if head is None and count:
        bad(1, "the chain head record is missing")
    elif head is not None and (head.seq != last_seq or head.hash != prev_hash):
        if head.seq > last_seq:
            bad(last_seq + 1, f"entries {last_seq + 1}..{head.seq} are missing (the newest entries were deleted)")
        else:
            bad(head.seq, "the chain head does not match the last entry (entries appended or edited outside the log)")
    return AuditReport(count, not problems, problems, first_bad)
