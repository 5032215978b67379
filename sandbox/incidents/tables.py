"""The incidents' table (its own MetaData; migration sandbox_incidents_0001 on the ``sandbox_incidents``
branch) and its SQL. The database is the authority: every process reads from here whether the decision
gateway is down or the chain halted, and which price crashes bend the price model."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Index, MetaData, String, Table, Text, insert, select, text, update

from ledger.types import Id, Timestamp, from_micros

metadata = MetaData()

incidents = Table(
    "sandbox_incidents", metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("params", Text, nullable=False),          # JSON: what the host asked for (percent, minutes, address…)
    Column("started_at", Timestamp, nullable=False),  # sandbox time
    Column("started_by", String(64), nullable=False),
    Column("resolved_at", Timestamp),                 # NULL: still going on
    Column("outcome", Text, nullable=False, default="{}"),  # JSON: what it did (flags raised, deposits held…)
)
Index("ix_sandbox_incidents_kind_open", incidents.c.kind, incidents.c.resolved_at)

# on the purchase's and the deposit's path: one indexed read
_OPEN_OF_KIND = text("SELECT id FROM sandbox_incidents WHERE kind = :kind AND resolved_at IS NULL "
                     "ORDER BY id LIMIT 1")


@dataclass(frozen=True)
class IncidentRow:
    id: int
    kind: str
    params: dict
    started_at: datetime
    started_by: str
    resolved_at: datetime | None
    outcome: dict

    @property
    def status(self) -> str:
        return "active" if self.resolved_at is None else "resolved"

    def to_dict(self) -> dict:
        return {"object": "incident", "id": self.id, "kind": self.kind, "params": self.params,
                "status": self.status, "started_at": self.started_at.isoformat(), "started_by": self.started_by,
                "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
                "outcome": self.outcome}


def _row(r) -> IncidentRow:
    def when(v):
        return None if v is None else (v if isinstance(v, datetime) else from_micros(int(v)))
    return IncidentRow(int(r.id), r.kind, json.loads(r.params), when(r.started_at), r.started_by,
                       when(r.resolved_at), json.loads(r.outcome or "{}"))


def insert_incident(conn, kind: str, params: dict, *, at: datetime, by: str) -> int:
    result = conn.execute(insert(incidents).values(kind=kind, params=json.dumps(params, sort_keys=True),
                                                   started_at=at, started_by=by[:64], outcome="{}"))
    return int(result.inserted_primary_key[0])


def get(conn, incident_id: int) -> IncidentRow | None:
    found = conn.execute(select(incidents).where(incidents.c.id == int(incident_id))).first()
    return None if found is None else _row(found)


def mark_resolved(conn, incident_id: int, *, at: datetime, outcome: dict | None = None) -> None:
    values = {"resolved_at": at}
    if outcome is not None:
        values["outcome"] = json.dumps(outcome, sort_keys=True)
    conn.execute(update(incidents).where(incidents.c.id == int(incident_id)).values(**values))


def set_outcome(conn, incident_id: int, outcome: dict) -> None:
    conn.execute(update(incidents).where(incidents.c.id == int(incident_id)).values(
        outcome=json.dumps(outcome, sort_keys=True)))


def open_of_kind(conn, kind: str) -> int | None:
    """The id of the oldest unresolved incident of ``kind``, or None."""
    found = conn.execute(_OPEN_OF_KIND, {"kind": kind}).first()
    return None if found is None else int(found[0])


def latest(conn, limit: int = 50) -> list[IncidentRow]:
    """The latest ``limit`` incidents, newest first."""
    rows = conn.execute(select(incidents).order_by(incidents.c.id.desc()).limit(max(1, min(int(limit), 500))))
    return [_row(r) for r in rows]


def going_on(conn, limit: int = 5) -> list[IncidentRow]:
    """The incidents not resolved yet, newest first, at most ``limit``."""
    rows = conn.execute(select(incidents).where(incidents.c.resolved_at.is_(None))
                        .order_by(incidents.c.id.desc()).limit(max(1, min(int(limit), 50))))
    return [_row(r) for r in rows]


def of_kind(conn, kind: str) -> list[IncidentRow]:
    """Every incident of ``kind``, oldest first (price crashes: each bends the price model for good)."""
    return [_row(r) for r in conn.execute(select(incidents).where(incidents.c.kind == kind).order_by(incidents.c.id))]
