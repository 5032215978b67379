"""Conventions every endpoint follows: idempotent POSTs, pagination, bounded ids and strings."""
from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

import marshmallow as ma
from flask import g, request
from werkzeug.routing import BaseConverter

from ledger.core import MAX_RETRIES
from ledger.db import backoff, is_retryable
from ledger.transfers import MAX_KEY_LENGTH

from .problems import Problem
from .services import services

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_ID = 2**63 - 1
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_VERB_RERUNS = 2  # runs of a durable-key city verb after a conflict outlasted its transactions' retries


class IdConverter(BaseConverter):
    """``<id:account_id>``: a positive integer that fits a BIGINT (1-18 digits), else 404."""

    regex = r"[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


class PageArgs(ma.Schema):
    limit = ma.fields.Integer(load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(1, MAX_PAGE_SIZE),
                              metadata={"description": f"page size, at most {MAX_PAGE_SIZE}"})
    after_id = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, MAX_ID),
                                 metadata={"description": "cursor: the `next_after_id` of the previous page"})


def page(items: list[dict], limit: int, id_key: str = "id") -> dict:
    """A page: ``items`` plus ``next_after_id`` (null on the last page)."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items, "next_after_id": items[-1][id_key] if more and items else None}


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    return ma.Schema.from_dict({"items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
                                "next_after_id": ma.fields.Integer(allow_none=True, required=True)}, name=name)


def require_idempotency_key() -> None:
    """before_request: every API POST carries ``Idempotency-Key`` (1-255 printable characters)."""
    if request.method != "POST" or request.blueprint == "dashboard" or request.endpoint is None:
        return
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not key:
        raise Problem(400, "idempotency_key_required", f"every POST needs an {IDEMPOTENCY_HEADER} header "
                      "(any unique string, e.g. a UUID); resend the same key to retry safely")
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(400, "invalid_idempotency_key",
                      f"{IDEMPOTENCY_HEADER} must be 1-{MAX_KEY_LENGTH} printable characters")
    g.idempotency_key = key


IDEMPOTENCY_PARAM = {"in": "header", "name": IDEMPOTENCY_HEADER, "required": True,
                     "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
                     "description": "same key + same body returns the first response; a different body is 409"}


def idempotent_write(compute: Callable[[Any], tuple[Any, int]]) -> tuple[Any, int, dict]:
    """Run ``compute(uow) -> (body, status)`` at most once per (caller, endpoint, Idempotency-Key).

    The key is scoped to the caller's API key and the endpoint; the request fingerprint is the
    method, path, query and the JSON body. A replay returns the stored first response with
    ``Idempotent-Replayed: true``; the same key with a different request is a 409 problem.
    A refusal inside ``compute`` rolls back and stores nothing, so the client may fix and retry.
    """
    principal = g.get("principal")
    who = principal.key_id if principal is not None else "dashboard"
    scope = "http:" + hashlib.sha256(f"{who}|{request.endpoint}".encode()).hexdigest()[:40]
    fingerprint = {"method": request.method, "path": request.path, "query": sorted(request.args.items(multi=True)),
                   "body": request.get_json(silent=True)}
    ran = []

    def run(uow):
        def first():
            ran.append(True)
            body, status = compute(uow)
            return {"status": status, "body": body}
        return uow.idempotent(scope, g.idempotency_key, fingerprint, first)

    ran.clear()
    stored = services().ledger.transaction(lambda uow: (ran.clear(), run(uow))[1])
    headers = {} if ran else {"Idempotent-Replayed": "true"}
    return stored["body"], stored["status"], headers


# ---------------------------------------------------------------------------------------------
# Endpoints over the CryptoCity facade
# ---------------------------------------------------------------------------------------------

def require_city():
    """The facade behind the city endpoints, or a 503 problem when the server runs on a bare ledger."""
    city = services().city
    if city is None:
        raise Problem(503, "city_required", "this server runs without a city; start it with --config "
                      "(e.g. `cryptocity serve --config crypto-city`)")
    return city


def _idempotency_scope() -> tuple[str, dict]:
    principal = g.get("principal")
    who = principal.key_id if principal is not None else "dashboard"
    scope = "http:" + hashlib.sha256(f"{who}|{request.endpoint}".encode()).hexdigest()[:40]
    fingerprint = {"method": request.method, "path": request.path, "query": sorted(request.args.items(multi=True)),
                   "body": request.get_json(silent=True)}
    return scope, fingerprint


def city_write(compute: Callable[[], tuple[Any, int]], *, rerun_unfinished: bool = False) -> tuple[Any, int, dict]:
    """``idempotent_write`` for city verbs, which open (and commit) their OWN transactions.

    The verb cannot run inside our unit of work, so the key is handled around it, in the same
    ``ledger_idempotency`` table and with the same scope (caller's API key + endpoint) and fingerprint:

    1. **claim** (one short transaction): a row for the key with the same fingerprint and a stored
       response -> replay it (``Idempotent-Replayed: true``); a different fingerprint -> 409
       ``idempotency_conflict``; no row -> insert the claim (response NULL) and commit;
    2. **run** the verb (its own transaction(s));
    3. **store** the response on the claim; if the verb refused (or failed), the claim is deleted,
       so nothing is remembered and the client may fix the request and retry with the same key.

    A claim still without a response means the first request is running, or its process died
    between 2 and 3. Then the outcome is unknown, so the verb must not run a second time: the answer
    is 409 ``idempotency_in_progress``. The exception is ``rerun_unfinished=True``: verbs that carry
    their own durable idempotency key (the card authorization ``pay:<ref>``, clearing events) run
    again, and the domain hands back the first result instead of selling, capturing or refunding twice.
    """
    from ledger.errors import IdempotencyConflict
    from ledger.transfers import request_hash
    from ledger.types import to_micros

    scope, fingerprint = _idempotency_scope()
    key = g.idempotency_key
    digest = request_hash(fingerprint)
    where = {"scope": scope, "key": key}
    ledger = services().ledger
    taken = object()  # the key was there when we inserted and gone when we read it (a refusal dropped it)

    # Three statements around a new city write (claim, then store or drop): parametrised SQL on the unit of
    # work's cursor (ledger.fastpath), not Core.
    def claim(uow):
        # Insert first: a new key (the usual case) is claimed in one statement; a key already there
        # inserts nothing (ON CONFLICT) and is read.
        if uow.sql.run(_CLAIM_INSERT, {**where, "hash": digest, "at": to_micros(uow.now())}):
            return None
        row = uow.sql.one(_CLAIM_READ, where)
        if row is None:  # the other request refused and dropped its claim in between: claim afresh
            return taken
        if row[0] != digest:
            raise IdempotencyConflict(f"idempotency key {key!r} was already used for a different request; "
                                      "use a new key", key=key)
        if row[1] is not None:
            return json.loads(row[1])
        if not rerun_unfinished:
            raise Problem(409, "idempotency_in_progress", f"a request with idempotency key {key!r} is still "
                          "running (or stopped before answering); its outcome is not known yet, so it is not "
                          "run again: check the resource, then retry with a new key")
        return None

    stored = ledger.transaction(claim)
    if stored is taken:  # the key vanished between our insert and read: try once more
        stored = ledger.transaction(claim)
        if stored is taken:
            raise Problem(409, "idempotency_in_progress", f"a request with idempotency key {key!r} is being "
                          "claimed by another request at this moment; retry with the same key")
    if stored is not None:
        return stored["body"], stored["status"], {"Idempotent-Replayed": "true"}
    try:
        body, status = _run_verb(compute, rerun_unfinished)
    except BaseException:
        # In a transaction of its own: the verb's failed one has rolled back and is gone.
        ledger.transaction(lambda uow: uow.sql.run(_CLAIM_DROP, where))
        raise
    stored = {"status": status, "body": body}
    response = json.dumps(stored, sort_keys=True, default=str)
    ledger.transaction(lambda uow: uow.sql.run(_CLAIM_STORE, {**where, "response": response}))
    return body, status, {}


def _run_verb(compute: Callable[[], tuple[Any, int]], rerun: bool) -> tuple[Any, int]:
    """``compute()``; a verb that may run again (``rerun_unfinished``) is run again (at most
    ``MAX_VERB_RERUNS`` times) after a database conflict that outlasted its own transactions' retries, as
    the client would retry it: its durable key hands back what an earlier run committed. Another verb's
    conflict propagates (a 503 problem: the client retries with the same key)."""
    attempt = 0
    while True:
        try:
            return compute()
        except Exception as error:  # noqa: BLE001 - only conflicts are retried
            if not rerun or attempt >= MAX_VERB_RERUNS or not is_retryable(error):
                raise
            backoff(MAX_RETRIES - 1)  # the verb's own retries have backed off this far already
            attempt += 1


_CLAIM_WHERE = ' WHERE scope = :scope AND "key" = :key'
_CLAIM_READ = "SELECT request_hash, response FROM ledger_idempotency" + _CLAIM_WHERE
# ON CONFLICT DO NOTHING (0 rows) rather than a unique violation: a failed statement would abort the
# PostgreSQL transaction, and the claim would cost a retry of the whole unit of work.
_CLAIM_INSERT = ('INSERT INTO ledger_idempotency (scope, "key", request_hash, response, created_at) '
                 'VALUES (:scope, :key, :hash, NULL, :at) ON CONFLICT (scope, "key") DO NOTHING')
_CLAIM_DROP = "DELETE FROM ledger_idempotency" + _CLAIM_WHERE + " AND response IS NULL"
_CLAIM_STORE = "UPDATE ledger_idempotency SET response = :response" + _CLAIM_WHERE


class NameConverter(BaseConverter):
    """``<name:actor>``: an actor, merchant or licence id (1-64 of letters, digits, _ . @ + -), else 404."""

    regex = r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}"


class MarketConverter(BaseConverter):
    """``<market:symbol>``: an instrument written BASE-QUOTE in URLs (``BTC-KZT`` is ``BTC/KZT``)."""

    regex = r"[A-Z][A-Z0-9]{1,9}-[A-Z][A-Z0-9]{1,9}"

    def to_python(self, value: str) -> str:
        return value.replace("-", "/")

    def to_url(self, value: Any) -> str:
        return str(value).replace("/", "-")


def install_converters(blueprint) -> None:
    """Call right after creating a blueprint (before its routes): its rules can use ``name`` and ``market``."""
    def install(state) -> None:
        state.app.url_map.converters.setdefault("name", NameConverter)
        state.app.url_map.converters.setdefault("market", MarketConverter)
    blueprint.record_once(install)
