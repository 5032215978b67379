"""Examples for the OpenAPI document where a view gives none of its own.

A body's example is built from its schema: a field's own ``example`` first, then a value its name
and type suggest (``amount_minor`` 150000, ``actor`` "aigerim", a date-time in the city's zone…),
kept within the field's bounds, enum and pattern. A problem's example is the problem that status
really answers, in the words the code uses (conventions.py, auth.py, problems.py).
"""
from __future__ import annotations

import re
from typing import Any

from .problems import problem_document

EXAMPLE_AT = "2026-01-15T09:30:00+05:00"
# field name -> a value a reader recognises (the crypto-city preset's people, shops and assets)
BY_NAME: dict[str, Any] = {
    "actor": "aigerim", "merchant_id": "alatau-coffee", "merchant": "alatau-coffee", "asset": "BTC",
    "owner": "cust:aigerim", "purpose": "customer", "symbol": "BTC/KZT", "instrument": "BTC/KZT",
    "base": "BTC", "quote": "KZT", "iban": "KZ86125KZT5004100100", "masked_pan": "400000******0010",
    "pan": "4000001234567899", "expiry": "06/28", "cvv": "123", "response_code": "00", "auth_code": "A1B2C3",
    "kyc_tier": "full", "side": "buy", "status": "ok", "reason": "", "currency": "KZT",
    "url": "https://shop.example/webhooks", "address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
    "memo": "coffee", "code": "cust:aigerim:KZT:customer", "summary": "all invariants hold",
    "detail": "", "title": "", "type": "authorization.created", "year": 2026, "seq": 1,
    "full_name": "Aigerim Nurlanovna", "reference": "coffee-1", "kind": "purchase", "channel": "card_present",
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "scenario": "name: coffee\nsteps: []\n",
}
# Whole examples of the bodies a reader meets first (the README's purchase), by component name: one
# story — Aigerim onboarded with 0.01 BTC, a 1 500.00 KZT coffee at Alatau Coffee, captured, 500.00 refunded.
REQUEST_EXAMPLES: dict[str, Any] = {
    "Onboard": {"actor": "aigerim", "kyc_tier": "full", "deposits": {"BTC": 1_000_000}},
    "AuthorizeRequest": {"card_id": 1, "amount_minor": 150_000},
    "AdviceRequest": {"card_id": 1, "amount_minor": 150_000},
    "CaptureRequest": {"amount_minor": 150_000, "final": True},
    "AmountRequest": {"amount_minor": 50_000},
    "TransferCreate": {"from_account_id": 1, "to_account_id": 2, "amount_minor": 150_000, "memo": "rent"},
    "OrderCreate": {"instrument": "BTC/KZT", "side": "buy", "type": "limit", "qty_minor": 100_000,
                    "price_minor": 45_000_000_00},
    "WithdrawalRequest": {"asset": "BTC", "address": "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
                          "amount_minor": 100_000},
    "KycChange": {"kyc_tier": "full", "reason": "documents checked"},
    "Reason": {"reason": "annual audit finding"},
}
RESPONSE_EXAMPLES: dict[str, Any] = {
    "Authorization": {"id": 1, "reference": "coffee-1", "merchant_id": "alatau-coffee", "approved": True,
                      "response_code": "00", "reason": "approved", "auth_code": "A1B2C3", "amount_minor": 150_000,
                      "status": "captured", "captured_minor": 150_000, "reversed_minor": 0,
                      "refunded_minor": 50_000, "kind": "purchase", "at": EXAMPLE_AT},
    "Onboarded": {"actor": "aigerim", "iban": "KZ86125KZT5004100100", "card_id": 1,
                  "masked_pan": "400000******0010", "pan": "4000000000000010", "expiry": "06/28", "cvv": "123"},
    "Verify": {"ok": True, "summary": "all invariants hold", "checks": ["every asset sums to zero"],
               "problem": None},
}
CANDIDATE_STRINGS = ("aigerim", "BTC", "BTC-KZT", "alatau-coffee", "customer", "abc", "1", "A",
                     "0x52908400098527886E0F7030069857D2E4169EE7")


def _resolve(schema: dict, schemas: dict) -> dict:
    while "$ref" in schema:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return schema


def example_for_schema(schema: dict, schemas: dict, *, request: bool, name: str = "", depth: int = 0) -> Any:
    """An example value of ``schema`` (``$ref``s into ``schemas`` resolved). A request example has its
    required fields only (each optional one has a default); a response example has every field."""
    named = (REQUEST_EXAMPLES if request else RESPONSE_EXAMPLES).get(schema.get("$ref", "").rsplit("/", 1)[-1])
    if named is not None:
        return named
    schema = _resolve(schema, schemas)
    if "example" in schema:
        return schema["example"]
    if "allOf" in schema:
        return example_for_schema(schema["allOf"][0], schemas, request=request, name=name, depth=depth)
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        required = set(schema.get("required", ()))
        example = {field: example_for_schema(prop, schemas, request=request, name=field, depth=depth + 1)
                   for field, prop in schema.get("properties", {}).items()
                   if not request or field in required}
        extra = schema.get("additionalProperties")
        if not example and isinstance(extra, dict) and not request:
            example = {"BTC": example_for_schema(extra, schemas, request=request, name="amount_minor",
                                                 depth=depth + 1)}
        return example
    if kind == "array":
        item = example_for_schema(schema.get("items", {}), schemas, request=request, name=name.rstrip("s"),
                                  depth=depth + 1)
        return [item] if depth <= 4 else []
    if kind == "integer":
        return _bounded(_integer_for(name), schema)
    if kind == "number":
        return _bounded(1.5, schema)
    if kind == "boolean":
        return True
    if kind == "string":
        return _string_for(name, schema)
    return BY_NAME.get(name, None)


def _integer_for(name: str) -> int:
    if name in BY_NAME and isinstance(BY_NAME[name], int):
        return BY_NAME[name]
    if name.endswith("_bps"):
        return 25
    if name.endswith("_ms"):
        return 2000
    if name.endswith("_minor") or name.startswith("amount"):
        return 150_000
    return 1


def _bounded(value, schema: dict):
    if "minimum" in schema and value < schema["minimum"]:
        value = schema["minimum"]
    if "maximum" in schema and value > schema["maximum"]:
        value = schema["maximum"]
    return value


def _string_for(name: str, schema: dict) -> str:
    fmt = schema.get("format")
    if fmt == "date-time" or name == "at" or name.endswith("_at"):
        return EXAMPLE_AT
    if fmt == "date" or name.endswith("_on") or name == "date":
        return EXAMPLE_AT[:10]
    candidates = [BY_NAME[name]] if isinstance(BY_NAME.get(name), str) else []
    candidates += [name.replace("_", "-") or "text", *CANDIDATE_STRINGS]
    pattern = schema.get("pattern")
    for value in candidates:
        if _fits(value, schema, pattern):
            return value
    return candidates[0]


def _fits(value: str, schema: dict, pattern: str | None) -> bool:
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 10**9):
        return False
    return pattern is None or re.search(pattern, value) is not None


def problem_example(status: int, *, path: str, method: str, arguments: list[str], request_example: Any,
                    policy) -> dict:
    """The problem ``status`` answers on this operation, as the code words it."""
    upper = method.upper()
    if status == 400:
        if method == "post":
            return problem_document(400, "idempotency_key_required", "every POST needs an Idempotency-Key header "
                                    "(any unique string, e.g. a UUID); resend the same key to retry safely")
        return problem_document(400, "malformed_body", "the request body is not valid JSON")
    if status == 401:
        return problem_document(401, "unauthorized", "this endpoint needs an API key: send 'Authorization: "
                                "Bearer <key>' (create one with `cryptocity keys create ROLE`)")
    if status == 402:
        return problem_document(402, "card_declined", "not enough money, even after selling crypto",
                                title="Card declined", response_code="51")
    if status == 403:  # the refusal auth.authorize gives first, as it words it
        roles = policy.roles if policy is not None else frozenset()
        for role in ("customer", "merchant"):
            if role not in roles:
                return problem_document(403, "forbidden", f"a {role} key may not call {upper} {path}")
        if upper not in ("GET", "HEAD") and not policy.regulator_write:
            return problem_document(403, "forbidden", "a regulator key may read everything but cannot make "
                                    "this change")
        return problem_document(403, "forbidden", "a customer key sees only its own data (owner cust:aigerim)")
    if status == 404:
        if arguments:
            return problem_document(404, "not_found", f"no {arguments[0].removesuffix('_id')} 42 is visible to "
                                    "this key")
        named = [f for f in (request_example or {}) if f.endswith("_id") or f == "pan"]
        if named and (named[0].startswith("card") or named[0] == "pan"):
            return problem_document(404, "card_not_found", "no card 42", title="CardNotFound")
        return problem_document(404, "account_not_found", "no account with id 42", title="AccountNotFound",
                                context={"account": 42})
    if status == 409:
        if method == "post":
            return problem_document(409, "idempotency_conflict", "idempotency key 'coffee-1' was already used for "
                                    "a different request; use a new key", title="IdempotencyConflict")
        return problem_document(409, "conflict", "the resource's state refuses this request")
    if status == 413:
        return problem_document(413, "request_too_large", "the request body is larger than 64 KiB")
    if status == 422:
        field = next(iter(request_example), None) if isinstance(request_example, dict) else None
        if field is not None:
            errors = {field: ["Not a valid integer." if field.endswith("_minor") else "Not a valid string."]}
            return problem_document(422, "validation_error", f"invalid request: {field}: {errors[field][0]}",
                                    title="Invalid request", errors=errors)
        if upper in ("GET", "DELETE"):
            errors = {"query.limit": ["Must be greater than or equal to 1 and less than or equal to 200."]}
            return problem_document(422, "validation_error", "invalid request: query.limit: " +
                                    errors["query.limit"][0], title="Invalid request", errors=errors)
        return problem_document(422, "insufficient_funds", "account 7 has 1000.00 available, needs 1500.00",
                                title="InsufficientFunds")
    if status == 503:
        if upper == "GET":
            return problem_document(503, "city_required", "this server runs without a city; start it with "
                                    "--config (e.g. `cryptocity serve --config crypto-city`)")
        return problem_document(503, "database_busy", "the database was too busy with concurrent requests to "
                                "finish this one; it changed nothing it did not commit: retry with the same "
                                "Idempotency-Key")
    return problem_document(status, "error", "see the status")
