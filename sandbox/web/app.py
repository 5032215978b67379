"""The Flask application factory: API (flask-smorest, OpenAPI 3 from code) plus the dashboard.

    from sandbox.web import create_app
    app = create_app(ledger, {"OPEN_DASHBOARD": True})

``ledger_or_services`` is a ``ledger.Ledger``, a ``WebServices`` or the CryptoCity facade
(anything with ``.ledger``). ``config`` overrides ``DEFAULTS``.
"""
from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, InternalServerError

from ledger.db import is_retryable
from ledger.errors import DomainError

from . import api as api_modules
from . import openapi
from .auth import check_policies, check_request
from .conventions import IdConverter, require_idempotency_key
from .problems import (Problem, ProblemSchema, from_domain_error, from_http_exception,
                       is_domain_error, problem_response)
from .services import WebServices

log = logging.getLogger("cryptocity.web")

DEFAULTS: dict[str, Any] = {
    "API_TITLE": "Crypto City sandbox API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": None,  # the app serves /openapi.json and /docs itself (post-processed, no CDN)
    "MAX_CONTENT_LENGTH": 64 * 1024,  # request bodies above 64 KiB get a 413 problem
    "OPEN_DASHBOARD": False,  # True: the dashboard acts as operator without a key (localhost sandbox)
    "SECRET_KEY": None,  # signs the dashboard session cookie; random per process when unset
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # True: every answer carries ``X-Round-Trips: N``, the round trips its request made to the database
    # (ledger.db.count_round_trips); ``cryptocity serve --count-round-trips``, for ``bench http``.
    "ROUND_TRIPS_HEADER": False,
}
ROUND_TRIPS_HEADER = "X-Round-Trips"

API_DESCRIPTION = """JSON API of the Crypto City payments sandbox.

* **Keys**: `Authorization: Bearer <key>` (or `X-API-Key`). Create one with `cryptocity keys create ROLE [--for ID]`.
  Roles: operator (everything), regulator (reads everything), merchant (its own merchant), customer (its own data).
* **Money** is an integer in the asset's minor unit (`amount_minor`: tiyn, satoshi, gwei…), never a float.
* **Every POST** takes an `Idempotency-Key` header: the same key and body return the first response
  (`Idempotent-Replayed: true`), the same key with a different body is a 409.
* **Errors** are `application/problem+json` with a stable `type` (`urn:cryptocity:problem:<code>`), `title`,
  `status`, a human `detail`, `errors` per field for validation problems and `response_code` for card declines.
* **Lists** paginate: `limit` (at most 200) and `after_id` (the previous page's `next_after_id`).
"""


def create_app(ledger_or_services: Any, config: dict | None = None) -> Flask:
    """Build the WSGI app over ``ledger_or_services``; the database must already be migrated."""
    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.url_map.converters["id"] = IdConverter
    app.extensions["cryptocity"] = WebServices.wrap(ledger_or_services)

    api = Api(app, spec_kwargs={"info": {"description": API_DESCRIPTION}})
    api.spec.components.schema("Problem", schema=ProblemSchema)
    for converter, schema in openapi.PATH_PARAMETER_SCHEMAS.items():  # typed path parameters in the document
        api.register_converter(converter, lambda _converter, schema=schema: dict(schema))
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("apiKey", {"type": "apiKey", "in": "header", "name": "X-API-Key"})
    for module in api_modules.modules():
        api.register_blueprint(module.blp)
        if hasattr(module, "init_app"):
            module.init_app(app)
    app.extensions["cryptocity_spec"] = _spec_builder(api, app)

    from .dashboard import bp as dashboard_bp
    app.register_blueprint(dashboard_bp)
    from .i18n import init_app as init_i18n
    init_i18n(app)   # the dashboard in English, Russian or Kazakh (the API stays English)

    if app.config["ROUND_TRIPS_HEADER"]:
        _install_round_trip_meter(app)   # first: the key check's statements count too
    app.before_request(_reject_unreadable_body)
    app.before_request(check_request)
    app.before_request(require_idempotency_key)
    _register_error_handlers(app)
    check_policies(app)
    return app


def _install_round_trip_meter(app: Flask) -> None:
    from flask import g

    from ledger.db import start_round_trip_meter, stop_round_trip_meter

    @app.before_request
    def _start() -> None:
        g.round_trips, g.round_trip_token = start_round_trip_meter()

    @app.after_request
    def _report(response):
        meter = g.get("round_trips")
        if meter is not None:
            response.headers[ROUND_TRIPS_HEADER] = str(meter[0])
        return response

    @app.teardown_request
    def _stop(_error) -> None:  # noqa: ANN001
        token = g.pop("round_trip_token", None)
        if token is not None:
            stop_round_trip_meter(token)


def _reject_unreadable_body() -> None:
    # A body over the limit is a 413 whether it announced its length or came chunked (no Content-Length:
    # werkzeug then stops reading at the limit, and the cut-off JSON would look malformed); a JSON body
    # that does not decode is a 400 problem, not silently "no body".
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    limit_bytes = request.max_content_length
    if limit_bytes is not None:
        if request.content_length is not None:
            too_large = request.content_length > limit_bytes
        else:  # chunked: werkzeug reads up to the limit; one byte more tells "exactly at" from "over"
            too_large = (bool(request.environ.get("wsgi.input_terminated"))
                         and len(request.get_data(cache=True)) >= limit_bytes
                         and bool(request.environ["wsgi.input"].read(1)))
        if too_large:
            raise Problem(413, "request_too_large", f"the request body is larger than {limit_bytes // 1024} KiB")
    if request.blueprint != "dashboard" and request.is_json:
        if request.get_data(cache=True) and request.get_json(silent=True) is None:
            raise Problem(400, "malformed_body", "the request body is not valid JSON")


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def _problem(error: Problem):
        return problem_response(error.status, error.code, error.detail, title=error.title, headers=error.headers,
                                **error.extra)

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        return from_domain_error(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        if isinstance(error, InternalServerError) and error.original_exception is not None:
            return _unexpected(error.original_exception)
        return from_http_exception(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return from_http_exception(error)
        if is_domain_error(error):
            return from_domain_error(error)
        if is_retryable(error):  # a conflict that outlasted every retry: the client may try again
            log.warning("database conflict outlasted the retries on %s %s: %s", request.method, request.path,
                        error)
            return problem_response(503, "database_busy", "the database was too busy with concurrent requests "
                                    "to finish this one; it changed nothing it did not commit: retry with the "
                                    "same Idempotency-Key", headers={"Retry-After": "1"})
        log.exception("unexpected error on %s %s", request.method, request.path)
        return problem_response(500, "internal_error", "the server failed unexpectedly; the request changed "
                                "nothing it did not commit, and the log has the details")


def _spec_builder(api: Api, app: Flask):
    """The OpenAPI document, finished once (openapi.py: operation ids, problem responses, examples)."""
    cache: dict = {}

    def build() -> dict:
        if "spec" not in cache:
            cache["spec"] = openapi.build(api.spec.to_dict(), app)
        return cache["spec"]
    return build
