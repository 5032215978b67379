"""The dispatcher: delivers every event to every endpoint that wants it, at least once and in order per
endpoint, off the request path.

How it shares the work (any number of threads, processes and servers on one database):

* An endpoint with work (a new event after its cursor, or a delivery due) is LEASED to one dispatcher
  for ``lease_s`` seconds (a row update; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so racing
  dispatchers each take a different endpoint). Only the lease holder delivers to it, one delivery at a
  time, oldest first: that is the order per endpoint, and in normal operation each event goes once.
* Under the lease it fans out: the events after the endpoint's cursor that its filter matches become
  deliveries, and the cursor moves, in one transaction. Then it POSTs the due deliveries in order,
  stopping at the first failure, and records the attempts (status code, latency, error) in one
  transaction. A failure schedules the retry (``schedule``); the head of the queue blocks the rest
  until it succeeds or runs out of attempts.
* A delivery whose every attempt failed is ``failed`` and its endpoint is DISABLED (its later
  deliveries wait; ``enable`` resumes them).
* A dispatcher that dies (kill -9) mid-delivery recorded nothing for that batch: when its lease
  expires another takes the endpoint and sends the batch again. So a receiver may see an event twice
  (the same ``webhook-id``), never zero times.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from fnmatch import fnmatchcase

from . import queries, schedule as retry_schedule, signing, source
from .sender import Answer, Sender

log = logging.getLogger("cryptocity.webhooks")

TIMEOUT_S = 10.0
LEASE_S = 30.0
BATCH = 50          # deliveries sent per lease renewal (recorded together)
FANOUT_BATCH = source.PAGE  # events read per fan-out step
FANOUT_PAGES = 20           # fan-out steps per transaction at most
POLL_S = 0.25


def wall_now() -> datetime:
    return datetime.now(timezone.utc)


def matches(patterns: list[str], event_type: str) -> bool:
    """``*`` matches every type; ``authorization.*`` every type under ``authorization.``; else exact."""
    return any(p == "*" or p == event_type or (p.endswith(".*") and fnmatchcase(event_type, p))
               for p in patterns)


def body_of(event: source.Event) -> str:
    return json.dumps(source.payload(event), separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass
class Stats:
    delivered: int = 0          # attempts answered 2xx
    failed_attempts: int = 0
    endpoints_served: int = 0
    disabled: list[int] = field(default_factory=list)

    def add(self, other: "Stats") -> None:
        self.delivered += other.delivered
        self.failed_attempts += other.failed_attempts
        self.endpoints_served += other.endpoints_served
        self.disabled += other.disabled


class Dispatcher:
    """Delivers for the city in ``ledger``'s database. ``run_once`` does what is due now;
    ``start`` runs it on background threads until ``stop``."""

    def __init__(self, ledger, *, schedule: tuple[float, ...] | None = None, timeout_s: float = TIMEOUT_S,
                 lease_s: float = LEASE_S, batch: int = BATCH, poll_s: float = POLL_S, name: str | None = None):
        if lease_s <= timeout_s:
            raise ValueError("the lease must outlast one attempt's timeout")
        self.ledger = ledger
        self.schedule = schedule or retry_schedule.from_environment()
        self.timeout_s, self.lease_s, self.batch, self.poll_s = timeout_s, lease_s, batch, poll_s
        self.name = (name or f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:6]}")[:60]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- one pass -------------------------------------------------------------------------------------
    def run_once(self, *, owner: str | None = None, sender: Sender | None = None, max_claims: int = 10_000) -> Stats:
        """Serve every endpoint that has work now, once each: until its queue is empty or its head waits for
        a retry; return what happened."""
        owner = owner or self.name
        own_sender = sender is None
        sender = sender or Sender()
        stats = Stats()
        served: set[int] = set()   # each endpoint once per pass: what arrives meanwhile waits for the next
        try:
            for _ in range(max_claims):
                done = frozenset(served)
                if self._stop.is_set() or not self._something_to_do(done):
                    break
                endpoint = self.ledger.transaction(lambda uow: queries.claim_endpoint(
                    uow.conn, owner=owner, now=wall_now(), until=self._until(),
                    latest=source.last_event_id(uow.conn), exclude=done))
                if endpoint is None:
                    break
                served.add(endpoint["id"])
                stats.endpoints_served += 1
                stats.add(self._serve(endpoint, owner, sender))
        finally:
            if own_sender:
                sender.close()
        return stats

    def run_until_idle(self, *, timeout_s: float = 60.0) -> Stats:
        """``run_once`` again and again (retries included) until nothing is pending on an enabled endpoint
        and every endpoint has seen the newest event; for tests and ``dispatch --once``'s callers."""
        stats = Stats()
        deadline = time.monotonic() + timeout_s
        while True:
            stats.add(self.run_once())
            if self.idle():
                return stats
            if time.monotonic() > deadline:
                raise TimeoutError(f"webhook deliveries still pending after {timeout_s} s")
            time.sleep(min(self.poll_s, 0.05))

    def idle(self) -> bool:
        with self.ledger.unit_of_work(read_only=True) as uow:
            latest = source.last_event_id(uow.conn)
            return queries.outstanding(uow.conn) == 0 and queries.behind(uow.conn, latest) == 0

    def _something_to_do(self, exclude: frozenset[int] = frozenset()) -> bool:
        # Two reads in autocommit: idle polling (four times a second in every serving process) takes no
        # write lock and sends no BEGIN or ROLLBACK; an event landing between them waits for the next poll.
        with self.ledger.unit_of_work(autocommit=True) as uow:
            return queries.has_claimable(uow.conn, now=wall_now(), latest=source.last_event_id(uow.conn),
                                         exclude=exclude)

    def _until(self) -> datetime:
        return wall_now() + timedelta(seconds=self.lease_s)

    # -- one endpoint under its lease -------------------------------------------------------------------
    def _serve(self, endpoint: dict, owner: str, sender: Sender) -> Stats:
        stats = Stats()
        endpoint_id = endpoint["id"]
        while not self._stop.is_set():
            batch = self.ledger.transaction(lambda uow: self._prepare(uow, endpoint, owner))
            if batch is None:
                return stats   # the lease is gone (taken over, disabled, deleted) or the queue is empty
            renewed = time.monotonic()
            answers: list[tuple[dict, datetime, Answer]] = []
            for delivery in batch:
                started = wall_now()
                body = delivery["payload"]
                answer = sender.post(endpoint["url"], body.encode(),
                                     signing.headers(endpoint["secret"], delivery["event_id"], body, at=started),
                                     timeout_s=self.timeout_s)
                answers.append((delivery, started, answer))
                if not answer.ok:
                    break   # in order: nothing after a failed delivery goes before its retry
                if time.monotonic() - renewed > self.lease_s - self.timeout_s - 1:
                    break   # record what went before the lease could run out
            # A short batch means the queue is drained for now: give the endpoint back (due at once) and let
            # the next pass, a poll later, take what arrived meanwhile in one batch rather than one by one.
            drained = len(answers) == len(batch) < self.batch and answers[-1][2].ok
            held = self.ledger.transaction(lambda uow: self._record(uow, endpoint_id, owner, answers, stats,
                                                                    release=drained))
            if not held or drained:
                return stats
        return stats

    def _prepare(self, uow, endpoint: dict, owner: str) -> list[dict] | None:
        """Renew the lease, fan out new events, and return the due deliveries at the head of the queue;
        None (the lease released, with the time the head is due) when there is nothing to send now."""
        conn, now = uow.conn, wall_now()
        if not queries.renew_lease(conn, endpoint["id"], owner, self._until()):
            return None
        current = queries.leased_endpoint(conn, endpoint["id"], owner)
        if current is None:
            return None
        cursor, queued, events = current["event_cursor"], 0, []
        for _ in range(FANOUT_PAGES):   # a backlog the filter mostly skips moves on a few pages at a time
            events = source.events_after(conn, cursor, FANOUT_BATCH)
            if not events:
                break
            matched = [(e.id, e.type, body_of(e)) for e in events if matches(current["events"], e.type)]
            cursor = events[-1].id
            queries.fan_out(conn, endpoint["id"], matched, cursor, now=now)
            queued += len(matched)
            if queued >= self.batch or len(events) < FANOUT_BATCH:
                break
        queue = queries.pending(conn, endpoint["id"], self.batch)
        due = []
        for delivery in queue:
            if delivery["next_attempt_at"] > now:
                break
            due.append(delivery)
        if due:
            return due
        more_events = len(events) == FANOUT_BATCH
        queries.release_lease(conn, endpoint["id"], owner,
                              wake_at=now if more_events else (queue[0]["next_attempt_at"] if queue else None))
        return None

    def _record(self, uow, endpoint_id: int, owner: str, answers: list, stats: Stats, *, release: bool = False) -> bool:
        """Log the batch's attempts and move each delivery on, then renew the lease (or, with ``release``,
        give it back with the endpoint due at once); False if the lease is no longer held."""
        conn, now = uow.conn, wall_now()
        attempts_left = len(self.schedule)
        successes = [{"delivery_id": d["id"], "endpoint_id": endpoint_id, "number": d["attempts"] + 1,
                      "started_at": started, "status_code": a.status_code, "latency_ms": a.latency_ms}
                     for d, started, a in answers if a.ok]
        queries.record_successes(conn, successes, dispatcher=owner, finished_at=now)
        stats.delivered += len(successes)
        for delivery, started, answer in answers:
            if answer.ok:
                continue
            # in order: only the batch's last attempt can have failed
            number = delivery["attempts"] + 1
            stats.failed_attempts += 1
            if number >= attempts_left:
                outcome, next_at, finished = "failed", None, now
            else:
                outcome, next_at, finished = "pending", now + timedelta(seconds=self.schedule[number]), None
            moved = queries.record_attempt(
                conn, delivery_id=delivery["id"], endpoint_id=endpoint_id, number=number, started_at=started,
                status_code=answer.status_code, latency_ms=answer.latency_ms, error=answer.error,
                dispatcher=owner, outcome=outcome, next_attempt_at=next_at, finished_at=finished)
            if moved and outcome == "failed":
                queries.disable_endpoint(conn, endpoint_id, f"delivery {delivery['id']} ({delivery['event_id']}) "
                                         f"failed all {attempts_left} attempts; the last: {answer.error}")
                stats.disabled.append(endpoint_id)
                log.warning("webhook endpoint %s disabled: delivery %s failed %s times", endpoint_id,
                            delivery["id"], attempts_left)
                return False
        if release:
            queries.release_lease(conn, endpoint_id, owner, wake_at=now)
            return True
        return queries.renew_lease(conn, endpoint_id, owner, self._until())

    # -- background threads ---------------------------------------------------------------------------
    def start(self, threads: int = 1) -> "Dispatcher":
        """Run on ``threads`` daemon threads (each its own lease owner) until ``stop``."""
        for index in range(threads):
            thread = threading.Thread(target=self._loop, args=(f"{self.name}/{index}",),
                                      name=f"webhooks-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout_s: float = 15.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._threads.clear()

    def _loop(self, owner: str) -> None:
        sender = Sender()
        try:
            while not self._stop.is_set():
                try:
                    stats = self.run_once(owner=owner, sender=sender, max_claims=100)
                except Exception:   # noqa: BLE001 - a database hiccup must not end delivery for good
                    log.exception("webhook dispatcher %s: a pass failed; retrying", owner)
                    stats = Stats()
                if stats.delivered < self.batch:
                    self._stop.wait(self.poll_s)   # a quiet pass: let events gather into one batch
        finally:
            sender.close()
