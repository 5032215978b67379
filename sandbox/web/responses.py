"""JSON responses for views that build their body themselves (idempotent writes replay stored JSON)."""
from __future__ import annotations

from flask import Response, json


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
