"""Health, readiness, the OpenAPI document and its docs page (no key needed)."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app, render_template, request
from flask_smorest import Blueprint
from sqlalchemy import text

from ..auth import access
from ..problems import Problem
from ..readiness import missing_migrations
from ..services import services

blp = Blueprint("system", __name__, description="Health, readiness and the API contract")


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"example": "ready"})
    database = ma.fields.String(required=True, metadata={"description": "sqlite or postgresql"})


@blp.route("/healthz")
@access(public=True)
@blp.response(200, HealthSchema)
@blp.doc(summary="Liveness: the process answers")
def healthz():
    return {"status": "ok"}


@blp.route("/readyz")
@access(public=True)
@blp.response(200, ReadySchema)
@blp.doc(summary="Readiness: the database answers and every migration is applied")
def readyz():
    ledger = services().ledger
    try:
        with ledger.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            missing = missing_migrations(conn)
    except Exception as error:  # noqa: BLE001 - any failure here means "not ready", said in words
        raise Problem(503, "database_unreachable", f"the database does not answer: {type(error).__name__}")
    if missing:
        raise Problem(503, "migrations_pending", "migrations not applied: " + ", ".join(sorted(missing)) +
                      " (run `cryptocity serve`, which migrates, or Database.migrate())")
    return {"status": "ready", "database": ledger.db.dialect}


@blp.route("/openapi.json")
@access(public=True)
@blp.response(200, description="The OpenAPI 3 document (JSON)")
@blp.doc(summary="This API's OpenAPI 3 document")
def openapi_json():
    return current_app.extensions["cryptocity_spec"]()


@blp.route("/docs")
@access(public=True)
@blp.doc(summary="Browsable API documentation (HTML, rendered from the OpenAPI document)")
def docs():
    from ..docs_page import markdown, markdown_inline, sections
    spec = current_app.extensions["cryptocity_spec"]()
    return render_template("docs.html", spec=spec, intro=markdown(spec["info"].get("description")),
                           inline=markdown_inline, sections=sections(spec, request.host_url))
