"""The OpenAPI document the app serves at ``/openapi.json`` (and renders at ``/docs``).

flask-smorest writes the document from the views' schemas; this module finishes it, the same way
for every operation, from what the code itself declares:

* ``operationId`` — ``<blueprint>_<view function>`` (``pos_capture``), stable while the code is;
* the problem responses an operation can really give, derived from its access policy, its path,
  its method and body (``error_statuses``), checked against the running app by the tests;
* an example on every request body and every response body: the view's own (``example=`` on
  ``@blp.arguments`` / ``@blp.response``), else the schema's named one, else one built from the
  schema (``examples.py``);
  each problem response carries the problem that status really answers for that operation.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from flask import Flask

from .auth import SCOPED_ROLES, policy_of
from .conventions import MAX_ID, IdConverter, MarketConverter, NameConverter
from .examples import example_for_schema, problem_example
from .problems import PROBLEM_MEDIA_TYPE

PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs")
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
READ_METHODS = frozenset({"get", "head", "options"})
# The blueprints that answer 503 city_required on a server built on a bare ledger (the NOW modules do not).
LEDGER_BLUEPRINTS = frozenset({"system", "accounts", "transfers", "clock", "ledger"})
STATUS_DESCRIPTIONS = {
    400: "Bad request: no `Idempotency-Key` on a POST, or a body that is not a JSON object",
    401: "No API key, or an unknown or revoked one",
    403: "This key's role may not call this operation",
    404: "Not found, or not visible to this key",
    409: "Conflict: the `Idempotency-Key` was used for a different request, or the resource's state refuses it",
    413: "The request body is larger than 64 KiB",
    422: "Invalid fields (`errors` names each), or refused by the sandbox's rules",
    503: "Unavailable: no city behind this server, the database too busy (retry), or a chain not shared",
}
# How each path converter reads in the document: an id is an integer, a name and a market keep their pattern.
PATH_PARAMETER_SCHEMAS: dict[type, dict] = {
    IdConverter: {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    NameConverter: {"type": "string", "pattern": f"^{NameConverter.regex}$"},
    MarketConverter: {"type": "string", "pattern": f"^{MarketConverter.regex}$", "example": "BTC-KZT"},
}
TEXT_EXAMPLES = {
    "text/csv": "section,key,value\nlicences,active,12\n",
    "text/event-stream": 'id: 42\nevent: authorization.created\ndata: {"id": 42, "type": "authorization.created"}\n\n',
    "text/html": "<!doctype html>...",
    # binary bodies: what their first bytes say they are (a client saves them as files)
    "application/pdf": "%PDF-1.7 ... (a PDF document, binary)",
    "application/zip": "PK... (a zip archive of CSV files, binary)",
}
_RULE_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def operation_id(endpoint: str, method: str, methods_of_view: int) -> str:
    """``pos.capture`` -> ``pos_capture``; a view serving several methods adds the method (``_get``)."""
    base = endpoint.replace(".", "_").replace("-", "_")
    return f"{base}_{method}" if methods_of_view > 1 else base


def error_statuses(*, path: str, method: str, blueprint: str, policy, operation: dict,
                   schemas: dict | None = None) -> list[int]:
    """The problem statuses this operation can answer, from the rules every view runs through:

    * 401 on every operation that needs a key; 403 where some role's key is refused (auth.authorize);
    * 404 where the path or the body names something (an id the router, the owner check or the
      service may not find: a path argument, a body's ``…_id``, ``pan`` or a field marked
      ``x-names-something``);
    * 400 and 409 on every POST (``Idempotency-Key`` missing, or reused for another request) and 400
      on a PUT (a body that is not JSON); 413 on every request with a body;
    * 422 where there is a body or query arguments to validate, and on every write (the sandbox's
      rules refuse with 422: insufficient funds, not licensed…);
    * 503 on the city's operations (``city_required`` on a bare ledger) and on every write
      (``database_busy``).
    """
    statuses: set[int] = set()
    if path in PUBLIC_PATHS or (policy is not None and policy.public):
        return sorted(statuses)
    write = method not in READ_METHODS
    statuses.add(401)
    if _may_refuse_a_role(policy, write):
        statuses.add(403)
    if "{" in path or _names_something(operation, schemas):
        statuses.add(404)
    if method == "post":
        statuses |= {400, 409}
    if method in ("put", "patch"):
        statuses.add(400)
    if "requestBody" in operation:
        statuses.add(413)
    if "requestBody" in operation or write or any(p.get("in") == "query" for p in operation.get("parameters", [])):
        statuses.add(422)
    if write or blueprint not in LEDGER_BLUEPRINTS:
        statuses.add(503)
    return sorted(statuses)


def _may_refuse_a_role(policy, write: bool) -> bool:
    """auth.authorize: the operator passes; the regulator reads, and writes only where named; merchant and
    customer keys only where named, and a list pinned to their own data refuses an ``owner`` naming another."""
    if policy is None:
        return True  # undeclared: operator only
    if write and not policy.regulator_write:
        return True
    if policy.shared:
        return False
    return not SCOPED_ROLES <= policy.roles or policy.scope == "owner"


def _names_something(operation: dict, schemas: dict | None) -> bool:
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    while "$ref" in schema and schemas is not None:
        schema = schemas.get(schema["$ref"].rsplit("/", 1)[-1], {})
    return any(name.endswith("_id") or name == "pan" or prop.get("x-names-something")
               for name, prop in schema.get("properties", {}).items())


def rule_path(rule: str) -> str:
    """A Flask rule in OpenAPI's spelling: ``/cards/<id:card_id>`` -> ``/cards/{card_id}``."""
    return _RULE_ARG.sub(r"{\1}", rule)


def build(spec_dict: dict, app: Flask) -> dict:
    """Finish ``spec_dict`` (flask-smorest's document, left untouched) into the served document."""
    spec = copy.deepcopy(spec_dict)
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for response in spec.get("components", {}).get("responses", {}).values():
        response["content"] = copy.deepcopy(problem_content)
    spec["security"] = [{"bearer": []}, {"apiKey": []}]
    schemas = spec.get("components", {}).get("schemas", {})
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboard.") or rule.endpoint == "static":
            continue
        path = rule_path(rule.rule)
        operations = spec.get("paths", {}).get(path)
        if operations is None:
            continue
        view = app.view_functions[rule.endpoint]
        methods = [m.lower() for m in rule.methods or () if m.lower() in HTTP_METHODS]
        for method in methods:
            operation = operations.get(method)
            if not isinstance(operation, dict):
                continue
            operation["operationId"] = operation_id(rule.endpoint, method, len(methods))
            _split_summary(operation)
            if path in PUBLIC_PATHS:
                operation["security"] = []
            if path == "/docs":
                operation["responses"] = {"200": {"description": "HTML", "content": {
                    "text/html": {"schema": {"type": "string"}, "example": "<!doctype html>..."}}}}
            _finish_operation(operation, path, method, rule.endpoint.split(".")[0], policy_of(view), schemas,
                              rule.arguments)
    return spec


def _split_summary(operation: dict) -> None:
    """flask-smorest makes a docstring's first paragraph the summary: keep its first sentence there (a
    line in a list of operations) and the rest, unwrapped, as the (Markdown) description."""
    text = " ".join(operation.get("summary", "").split())
    if operation.get("description") or len(text) <= 90:
        return
    first, *rest = re.split(r"(?<=\.)\s(?=[A-Z0-9`])", text, maxsplit=1)
    if len(first) > 120 and ": " in first[:120]:  # a long first sentence: its head up to the colon
        head, tail = first.split(": ", 1)
        first, rest = head, [tail[:1].upper() + tail[1:] + (" " + rest[0] if rest else "")]
    elif len(first) > 120:
        first, rest = first[:117].rsplit(" ", 1)[0] + "...", [text]
    operation["summary"] = first.rstrip(".;:")
    if rest:
        operation["description"] = rest[0]


def _finish_operation(operation: dict, path: str, method: str, blueprint: str, policy, schemas: dict,
                      arguments) -> None:
    responses = operation.setdefault("responses", {})
    # flask-smorest adds its own "default" and 422 entries; this module decides the problem responses.
    for status in [s for s in responses if s == "default" or (s.isdigit() and int(s) >= 400)]:
        del responses[status]
    request_example = None
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        if "example" not in body and "examples" not in body:
            body["example"] = example_for_schema(body.get("schema", {}), schemas, request=True)
        request_example = body.get("example")
    for status, response in responses.items():
        for media_type, content in response.get("content", {}).items():
            if "example" in content or "examples" in content or "schema" not in content:
                continue
            if media_type == "application/json":
                content["example"] = example_for_schema(content["schema"], schemas, request=False)
            elif media_type in TEXT_EXAMPLES:
                content["example"] = TEXT_EXAMPLES[media_type]
    for status in error_statuses(path=path, method=method, blueprint=blueprint, policy=policy,
                                 operation=operation, schemas=schemas):
        example = problem_example(status, path=path, method=method, arguments=sorted(arguments),
                                  request_example=request_example, policy=policy)
        responses[str(status)] = {
            "description": STATUS_DESCRIPTIONS.get(status, "problem"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"},
                                             "example": example}}}


def every_operation(spec: dict) -> list[tuple[str, str, dict[str, Any]]]:
    """``(path, method, operation)`` of every operation in ``spec``, in document order."""
    return [(path, method, op) for path, ops in spec.get("paths", {}).items() for method, op in ops.items()
            if method in HTTP_METHODS and isinstance(op, dict)]
