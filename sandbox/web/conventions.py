"""Conventions every endpoint follows: idempotent POSTs, pagination, bounded ids and strings."""
from __future__ import annotations

import hashlib
from typing import Any, Callable

import marshmallow as ma
from flask import g, request
from werkzeug.routing import BaseConverter

from ledger.transfers import MAX_KEY_LENGTH

from .problems import Problem
from .services import services

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_ID = 2**63 - 1
IDEMPOTENCY_HEADER = "Idempotency-Key"


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


def _idempotency_scope() -> tuple[str, dict]:
    """The key's scope (the caller's API key and the endpoint) and the request's fingerprint (method, path,
    query and JSON body)."""
    principal = g.get("principal")
    who = principal.key_id if principal is not None else "dashboard"
    scope = "http:" + hashlib.sha256(f"{who}|{request.endpoint}".encode()).hexdigest()[:40]
    body = request.get_json(silent=True)
    if isinstance(body, dict) and "cvv" in body:
        # A card's CVV2 is never stored, not even hashed (three digits hash to no secret): a retry with the
        # same key gets the first answer whatever CVV2 it carries (card/verification.py).
        body = {k: v for k, v in body.items() if k != "cvv"}
    fingerprint = {"method": request.method, "path": request.path, "query": sorted(request.args.items(multi=True)),
                   "body": body}
    return scope, fingerprint


def idempotent_write(compute: Callable[[Any], tuple[Any, int]], *, retries: int | None = None
                     ) -> tuple[Any, int, dict]:
    """The request's ONE write transaction: claim the ``Idempotency-Key``, run ``compute(uow) -> (body,
    status)`` (the effect and its audit entry), store the response — committed together, so there is no
    state in which the effect exists without its stored response or the other way round.

    The key is scoped to the caller's API key and the endpoint; the fingerprint is the method, path, query
    and JSON body. A replay returns the stored first response with ``Idempotent-Replayed: true``; the same
    key with a different request is a 409 ``idempotency_conflict``. A refusal inside ``compute`` rolls
    everything back (the key too), so the client may fix the request and retry with the same key.
    ``retries=0`` for work that touched an in-process chain (a retry would repeat it)."""
    from ledger import idempotency
    scope, fingerprint = _idempotency_scope()
    key = g.idempotency_key

    from sandbox import events
    request_id = g.get("request_id")

    def work(uow):
        events.attribute(uow, request_id=request_id, idempotency_key=key)   # what caused the events it writes
        stored = idempotency.claim(uow, scope, key, fingerprint)
        if stored is not None:
            return stored.response, True
        body, status = compute(uow)
        response = {"status": status, "body": body}
        idempotency.store(uow, scope, key, response, at_commit=True)   # goes out with the COMMIT
        return response, False

    city = services().city
    if city is not None:
        response, replayed = city.ctx.transaction(work, retries=retries)
    else:
        response, replayed = services().ledger.transaction(work)
    return response["body"], response["status"], {"Idempotent-Replayed": "true"} if replayed else {}


def stored_response() -> tuple[Any, int, dict] | None:
    """This request's stored response if its ``Idempotency-Key`` was answered already (a read), for views
    that do slow work outside the database before their write (a scenario run)."""
    from ledger import idempotency
    scope, fingerprint = _idempotency_scope()
    with services().ledger.unit_of_work(autocommit=True) as uow:   # one read: no transaction needed
        stored = idempotency.peek(uow, scope, g.idempotency_key, fingerprint)
    if stored is None:
        return None
    return stored.response["body"], stored.response["status"], {"Idempotent-Replayed": "true"}


def require_city():
    """The facade behind the city endpoints, or a 503 problem when the server runs on a bare ledger."""
    city = services().city
    if city is None:
        raise Problem(503, "city_required", "this server runs without a city; start it with --config "
                      "(e.g. `cryptocity serve --config crypto-city`)")
    return city


def city_read(fn: Callable[[Any], Any]) -> Any:
    """``fn(uow)`` in a read-only unit of work of the city (at the city's time)."""
    return require_city().ctx.read(fn)


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
