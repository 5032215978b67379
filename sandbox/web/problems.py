"""RFC 9457 problem details: every error the API returns is ``application/problem+json``.

``type`` is a stable URN ``urn:cryptocity:problem:<code>`` (programs match on it), ``title`` a
short phrase, ``status`` the HTTP status, ``detail`` a sentence a workshop participant
understands. Card declines add ``response_code`` (ISO 8583 style); validation errors add
``errors`` naming each offending field.
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

import marshmallow as ma
from flask import Response, json
from werkzeug.exceptions import HTTPException

from ledger import errors as E

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:cryptocity:problem:"

# Domain error code -> HTTP status where the rule below would guess wrong.
STATUS_BY_CODE: dict[str, int] = {
    "invalid_idempotency_key": 400, "invalid_duration": 400,
    "idempotency_conflict": 409, "hold_not_pending": 409, "hold_expired": 409, "order_not_open": 409,
    "invalid_card_state": 409, "invalid_authorization_state": 409, "trading_halted": 409,
    "broadcast_failed": 503, "chain_error": 503,
    "invariant_violation": 500,
    # the city facade
    "unknown_actor": 404, "unknown_reference": 404, "unknown_licence": 404, "unknown_instrument": 404,
    "already_onboarded": 409, "address_protected": 409, "licence_expired": 409, "renewal_too_late": 409,
    "renewal_too_early": 409, "chain_halted": 409,
    "order_not_found": 404, "city_required": 503, "chain_not_shared": 503, "evm_state_lost": 503,
    "nothing_to_capture": 409, "nothing_to_reverse": 409, "nothing_to_refund": 409,
    "nothing_to_expire": 409,
    # mining
    "unknown_farm": 404, "farm_closed": 409, "nothing_owed": 409, "no_case": 409,
}


def status_for(code: str) -> int:
    """HTTP status of a domain refusal: 404 for ``*_not_found``, 409 for state conflicts, else 422."""
    if code in STATUS_BY_CODE:
        return STATUS_BY_CODE[code]
    if code.endswith("_not_found"):
        return 404
    if code.endswith("_exists"):
        return 409
    return 422


def is_domain_error(error: BaseException) -> bool:
    """A typed refusal (every one derives from ``ledger.errors.DomainError``)."""
    return isinstance(error, E.DomainError)


class ProblemSchema(ma.Schema):
    """Documentation of the problem+json body (RFC 9457: extension members are allowed)."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, metadata={"example": TYPE_PREFIX + "insufficient_funds"})
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    detail = ma.fields.String(required=True)
    code = ma.fields.String(required=True, metadata={"description": "stable snake_case code"})
    response_code = ma.fields.String(metadata={"description": "ISO 8583-style code of a card decline"})
    errors = ma.fields.Dict(metadata={"description": "field -> messages, for validation problems"})
    context = ma.fields.Dict(metadata={"description": "what the refusal concerns (account, asset, key…)"})


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, code: str, detail: str, *, title: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.title = title or code.replace("_", " ").capitalize()
        self.headers = headers or {}
        self.extra = extra


def problem_document(status: int, code: str, detail: str, *, title: str | None = None, **extra: Any) -> dict:
    """The problem+json body as a dict (also written by the HTTP servers themselves: server_errors.py)."""
    body = {"type": TYPE_PREFIX + code, "title": title or code.replace("_", " ").capitalize(), "status": status,
            "detail": detail, "code": code}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(status: int, code: str, detail: str, *, title: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> Response:
    body = problem_document(status, code, detail, title=title, **extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def from_domain_error(error: Exception) -> Response:
    """A domain refusal as a problem; ``response_code`` travels along when the error has one."""
    to_dict = getattr(error, "to_dict", None)
    details = {k: v for k, v in (to_dict() if callable(to_dict) else {}).items() if k not in {"code", "message"}}
    response_code = getattr(error, "response_code", None) or details.get("response_code")
    details.pop("response_code", None)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return problem_response(status_for(error.code), error.code, message, title=type(error).__name__,
                            response_code=response_code, context=details or None)


def card_decline(response_code: str, reason: str, **context: Any) -> Response:
    """A declined card authorization: 402 with the ISO 8583-style ``response_code`` and the reason in words."""
    return problem_response(402, "card_declined", reason, title="Card declined", response_code=response_code,
                            context=context or None)


def _field_errors(messages: Any) -> dict:
    """webargs nests messages by location ({"json": {"amount_minor": [...]}}); flatten for humans."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "path", "form", "files",
                                                       "view_args", "cookies"}:
        flat: dict = {}
        for location, fields in messages.items():
            if isinstance(fields, dict):
                for name, msgs in fields.items():
                    flat[name if location in ("json", "form") else f"{location}.{name}"] = msgs
            else:
                flat[location] = fields
        return flat
    return messages if isinstance(messages, dict) else {"_": messages}


def _sentence(errors: dict) -> str:
    parts = []
    for name, msgs in list(errors.items())[:5]:
        if isinstance(msgs, dict):
            msgs = [f"{k}: {v}" for k, v in msgs.items()]
        text = "; ".join(str(m) for m in (msgs if isinstance(msgs, list) else [msgs]))
        parts.append(f"{name}: {text}" if name != "_schema" else text)
    return "; ".join(parts)


def from_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    if messages is not None:
        errors = _field_errors(messages)
        if "_schema" in errors and any("Invalid input type" in str(m) for m in errors["_schema"]):
            return problem_response(400, "malformed_body", "the request body must be a JSON object",
                                    title="Malformed body", errors=errors)
        return problem_response(422 if status in (400, 422) else status, "validation_error",
                                "invalid request: " + _sentence(errors), title="Invalid request", errors=errors)
    code = status_code_name(status)
    detail = data.get("message") or error.description or HTTPStatus(status).phrase
    if status == 400 and "JSON" in str(detail):
        code, detail = "malformed_body", "the request body is not valid JSON: " + str(detail)
    if status == 413:
        detail = "the request body is larger than this server accepts"
    headers = {}
    if status == 405 and error.get_response().headers.get("Allow"):
        headers["Allow"] = error.get_response().headers["Allow"]
    return problem_response(status, code, str(detail), title=status_title(status), headers=headers)


# Spelled out: Python's reason phrases change between versions (3.13: 414 "URI Too Long", was
# "Request-URI Too Long"), and a problem's code must not.
_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "request_too_large",
                 414: "uri_too_long", 415: "unsupported_media_type", 417: "expectation_failed",
                 429: "too_many_requests", 431: "request_header_fields_too_large", 500: "internal_error",
                 501: "not_implemented", 505: "http_version_not_supported"}


def status_code_name(status: int) -> str:
    """The problem ``code`` of an HTTP status that no domain error explains: 414 -> ``uri_too_long``."""
    if status in _STATUS_CODES:
        return _STATUS_CODES[status]
    if status in HTTPStatus._value2member_map_:
        return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    return "http_error"


def status_title(status: int) -> str:
    return HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
