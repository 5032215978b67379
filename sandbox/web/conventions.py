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
