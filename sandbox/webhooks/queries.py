"""The SQL of the webhooks' tables: every read and write of them goes through these functions.

Each takes the caller's SQLAlchemy connection (``uow.conn``) and runs in the caller's transaction.
Times are wall-clock (see ``tables``).
"""
from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from .tables import attempts, deliveries, endpoints

EP, DL, AT = endpoints.c, deliveries.c, attempts.c
ENDPOINT_FIELDS = (EP.id, EP.url, EP.events, EP.description, EP.status, EP.disabled_reason, EP.created_at)
DELIVERY_FIELDS = (DL.id, DL.endpoint_id, DL.event_id, DL.event_type, DL.status, DL.attempts, DL.next_attempt_at,
                   DL.created_at, DL.finished_at, DL.last_status_code, DL.last_error, DL.resend_of)


def _endpoint(row) -> dict:
    out = dict(row._mapping)
    out["events"] = json.loads(out["events"])
    return out


# -- endpoints ---------------------------------------------------------------------------------------
def create_endpoint(conn, *, url: str, events: list[str], description: str, secret: str, now: datetime,
                    cursor: str | None) -> int:
    """A new enabled endpoint that will receive the events after ``cursor`` (the newest event now)."""
    result = conn.execute(insert(endpoints).values(
        url=url, events=json.dumps(events), description=description, secret=secret, status="enabled",
        created_at=now, event_cursor=cursor))
    return int(result.inserted_primary_key[0])


def get_endpoint(conn, endpoint_id: int) -> dict | None:
    """An endpoint that has not been deleted, without its secret."""
    row = conn.execute(select(*ENDPOINT_FIELDS).where(EP.id == endpoint_id, EP.status != "deleted")).first()
    return None if row is None else _endpoint(row)


def list_endpoints(conn, *, after_id: int | None = None, limit: int = 50) -> list[dict]:
    """Endpoints that have not been deleted, oldest first, at most ``limit`` after ``after_id``."""
    query = select(*ENDPOINT_FIELDS).where(EP.status != "deleted")
    if after_id is not None:
        query = query.where(EP.id > after_id)
    return [_endpoint(r) for r in conn.execute(query.order_by(EP.id).limit(limit))]


def delete_endpoint(conn, endpoint_id: int, *, now: datetime) -> bool:
    """Delete an endpoint (its delivery log stays) and cancel what it still had to deliver; False if
    there was no such endpoint."""
    done = conn.execute(update(endpoints).where(EP.id == endpoint_id, EP.status != "deleted").values(
        status="deleted", wake_at=None, lease_owner=None, lease_until=None)).rowcount == 1
    if done:
        conn.execute(update(deliveries).where(DL.endpoint_id == endpoint_id, DL.status == "pending")
                     .values(status="cancelled", finished_at=now))
    return done


def enable_endpoint(conn, endpoint_id: int, *, now: datetime) -> bool:
    """Enable a disabled endpoint again: its pending deliveries resume in order; False if there was no
    such endpoint."""
    return conn.execute(update(endpoints).where(EP.id == endpoint_id, EP.status != "deleted").values(
        status="enabled", disabled_reason=None, wake_at=now)).rowcount == 1


def delivery_counts(conn, endpoint_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per endpoint: how many deliveries are in each status."""
    out: dict[int, dict[str, int]] = {i: {} for i in endpoint_ids}
    if endpoint_ids:
        rows = conn.execute(select(DL.endpoint_id, DL.status, func.count()).where(DL.endpoint_id.in_(endpoint_ids))
                            .group_by(DL.endpoint_id, DL.status))
        for endpoint_id, status, count in rows:
            out[endpoint_id][status] = int(count)
    return out


# -- the delivery log --------------------------------------------------------------------------------
def list_deliveries(conn, endpoint_id: int, *, after_id: int | None = None, limit: int = 50,
                    status: str | None = None, newest_first: bool = False) -> list[dict]:
    """An endpoint's deliveries (oldest first, or newest first), each with its attempts."""
    query = select(*DELIVERY_FIELDS).where(DL.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(DL.status == status)
    if after_id is not None:
        query = query.where(DL.id < after_id if newest_first else DL.id > after_id)
    query = query.order_by(DL.id.desc() if newest_first else DL.id).limit(limit)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    by_delivery = attempts_of(conn, [r["id"] for r in rows])
    for row in rows:
        row["attempt_log"] = by_delivery.get(row["id"], [])
    return rows


def get_delivery(conn, endpoint_id: int, delivery_id: int) -> dict | None:
    row = conn.execute(select(*DELIVERY_FIELDS, DL.payload)
                       .where(DL.id == delivery_id, DL.endpoint_id == endpoint_id)).first()
    if row is None:
        return None
    out = dict(row._mapping)
    out["attempt_log"] = attempts_of(conn, [delivery_id]).get(delivery_id, [])
    return out


def attempts_of(conn, delivery_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    if delivery_ids:
        rows = conn.execute(select(AT.delivery_id, AT.number, AT.started_at, AT.status_code, AT.latency_ms, AT.error)
                            .where(AT.delivery_id.in_(delivery_ids)).order_by(AT.id))
        for delivery_id, number, started_at, status_code, latency_ms, error in rows:
            out.setdefault(delivery_id, []).append({"number": number, "started_at": started_at,
                                                    "status_code": status_code, "latency_ms": latency_ms,
                                                    "error": error})
    return out


def resend(conn, endpoint_id: int, delivery_id: int, *, now: datetime) -> int | None:
    """Queue ``delivery_id``'s event again for its endpoint (after what it has pending: in order); the new
    delivery's id, or None when there is no such delivery."""
    row = conn.execute(select(DL.event_id, DL.event_type, DL.payload)
                       .where(DL.id == delivery_id, DL.endpoint_id == endpoint_id)).first()
    if row is None:
        return None
    new_id = _insert_delivery(conn, endpoint_id, row[0], row[1], row[2], now, resend_of=delivery_id)
    _wake(conn, endpoint_id, now)
    return new_id


def _insert_delivery(conn, endpoint_id: int, event_id: str, event_type: str, payload: str, now: datetime,
                     *, resend_of: int | None = None) -> int:
    result = conn.execute(insert(deliveries).values(
        endpoint_id=endpoint_id, event_id=event_id, event_type=event_type, payload=payload, status="pending",
        attempts=0, next_attempt_at=now, created_at=now, resend_of=resend_of))
    return int(result.inserted_primary_key[0])


def _wake(conn, endpoint_id: int, when: datetime) -> None:
    conn.execute(update(endpoints).where(EP.id == endpoint_id, or_(EP.wake_at.is_(None), EP.wake_at > when))
                 .values(wake_at=when))


# -- the dispatcher's side: leases, fan-out, results -------------------------------------------------
def _claimable(now: datetime, latest: str | None, exclude: frozenset[int] = frozenset()):
    due = or_(EP.wake_at <= now, EP.event_cursor.is_distinct_from(latest))
    free = or_(EP.lease_until.is_(None), EP.lease_until < now)
    condition = and_(EP.status == "enabled", free, due)
    return and_(condition, EP.id.not_in(sorted(exclude))) if exclude else condition


def has_claimable(conn, *, now: datetime, latest: str | None, exclude: frozenset[int] = frozenset()) -> bool:
    """Whether some endpoint (not in ``exclude``) has work and no live lease (a read: dispatchers poll with it)."""
    return conn.execute(select(EP.id).where(_claimable(now, latest, exclude)).limit(1)).first() is not None


def claim_endpoint(conn, *, owner: str, now: datetime, until: datetime, latest: str | None,
                   exclude: frozenset[int] = frozenset()) -> dict | None:
    """Lease one endpoint that has work to ``owner`` until ``until``; its row (with secret), or None.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so dispatchers racing for endpoints each get a different one
    without waiting; SQLite: the transaction already holds the single write lock (``BEGIN IMMEDIATE``)."""
    row = conn.execute(select(EP.id).where(_claimable(now, latest, exclude)).order_by(EP.wake_at.is_(None), EP.wake_at, EP.id)
                       .limit(1).with_for_update(skip_locked=True)).first()
    if row is None:
        return None
    # wake_at = now while leased: if this dispatcher dies, the endpoint is due again once the lease runs
    # out (release_lease sets the real wake time).
    conn.execute(update(endpoints).where(EP.id == row[0]).values(lease_owner=owner, lease_until=until, wake_at=now))
    return leased_endpoint(conn, row[0], owner)


def leased_endpoint(conn, endpoint_id: int, owner: str) -> dict | None:
    """The endpoint (with secret and cursor) if ``owner`` still holds its lease and it is enabled."""
    row = conn.execute(select(EP.id, EP.url, EP.events, EP.secret, EP.event_cursor, EP.status).where(
        EP.id == endpoint_id, EP.lease_owner == owner, EP.status == "enabled")).first()
    return None if row is None else _endpoint(row)


def renew_lease(conn, endpoint_id: int, owner: str, until: datetime) -> bool:
    """Extend ``owner``'s lease; False if it lost it (expired and taken, or the endpoint was disabled)."""
    return conn.execute(update(endpoints).where(EP.id == endpoint_id, EP.lease_owner == owner,
                                                EP.status == "enabled").values(lease_until=until)).rowcount == 1


def release_lease(conn, endpoint_id: int, owner: str, *, wake_at: datetime | None) -> None:
    """Give the lease back; the endpoint wakes at ``wake_at`` (its next due delivery) or on a new event."""
    conn.execute(update(endpoints).where(EP.id == endpoint_id, EP.lease_owner == owner).values(
        lease_owner=None, lease_until=None, wake_at=wake_at))


def fan_out(conn, endpoint_id: int, matched: list[tuple[str, str, str]], cursor: str, *, now: datetime) -> None:
    """Queue deliveries for ``matched`` events (id, type, JSON body) and move the endpoint's cursor to
    ``cursor`` (the last event read, matched or not)."""
    if matched:
        conn.execute(insert(deliveries), [
            {"endpoint_id": endpoint_id, "event_id": event_id, "event_type": event_type, "payload": payload,
             "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for event_id, event_type, payload in matched])
    conn.execute(update(endpoints).where(EP.id == endpoint_id).values(event_cursor=cursor))


def pending(conn, endpoint_id: int, limit: int) -> list[dict]:
    """The endpoint's next deliveries, in order (the first is the head: nothing after it goes first)."""
    rows = conn.execute(select(DL.id, DL.event_id, DL.payload, DL.attempts, DL.next_attempt_at)
                        .where(DL.endpoint_id == endpoint_id, DL.status == "pending").order_by(DL.id).limit(limit))
    return [dict(r._mapping) for r in rows]


def record_attempt(conn, *, delivery_id: int, endpoint_id: int, number: int, started_at: datetime,
                   status_code: int | None, latency_ms: int, error: str | None, dispatcher: str,
                   outcome: str, next_attempt_at: datetime | None, finished_at: datetime | None) -> bool:
    """Log one attempt and move its delivery on: ``outcome`` is succeeded, failed (no attempt left) or
    pending (retry at ``next_attempt_at``). The delivery moves only from the state this attempt started
    in (a dispatcher that lost its lease cannot undo a later one's success); True if it moved."""
    conn.execute(insert(attempts).values(
        delivery_id=delivery_id, endpoint_id=endpoint_id, number=number, started_at=started_at,
        status_code=status_code, latency_ms=latency_ms, error=None if error is None else error[:300],
        dispatcher=dispatcher[:64]))
    values = {"status": outcome, "attempts": number, "last_status_code": status_code,
              "last_error": None if error is None else error[:300], "finished_at": finished_at}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    return conn.execute(update(deliveries).where(DL.id == delivery_id, DL.status == "pending",
                                                 DL.attempts == number - 1).values(**values)).rowcount == 1


def record_successes(conn, rows: list[dict], *, dispatcher: str, finished_at: datetime) -> None:
    """Log a batch of first-time-lucky or retried attempts that all answered 2xx (two statements for the
    whole batch): each ``row`` has delivery_id, endpoint_id, number, started_at, status_code, latency_ms.
    As in ``record_attempt``, a delivery moves only from the state its attempt started in."""
    if not rows:
        return
    conn.execute(insert(attempts), [{**r, "error": None, "dispatcher": dispatcher[:64]} for r in rows])
    conn.execute(update(deliveries).where(DL.id == bindparam("b_id"), DL.status == "pending",
                                          DL.attempts == bindparam("b_before"))
                 .values(status="succeeded", attempts=bindparam("b_number"), last_status_code=bindparam("b_code"),
                         last_error=None, finished_at=finished_at),
                 [{"b_id": r["delivery_id"], "b_before": r["number"] - 1, "b_number": r["number"],
                   "b_code": r["status_code"]} for r in rows])


def disable_endpoint(conn, endpoint_id: int, reason: str) -> None:
    conn.execute(update(endpoints).where(EP.id == endpoint_id, EP.status == "enabled").values(
        status="disabled", disabled_reason=reason[:300], wake_at=None, lease_owner=None, lease_until=None))


def outstanding(conn) -> int:
    """Deliveries still pending on enabled endpoints (what a dispatcher has yet to do), plus enabled
    endpoints whose cursor is behind ``latest`` are the caller's to check."""
    return int(conn.execute(select(func.count()).select_from(deliveries.join(endpoints, EP.id == DL.endpoint_id))
                            .where(DL.status == "pending", EP.status == "enabled")).scalar_one())


def behind(conn, latest: str | None) -> int:
    """Enabled endpoints that have not yet looked at the newest event."""
    return int(conn.execute(select(func.count()).select_from(endpoints).where(
        EP.status == "enabled", EP.event_cursor.is_distinct_from(latest))).scalar_one())
