"""The served OpenAPI document: valid OpenAPI 3, an operationId on every operation, an example on every
request and response body (each valid against its schema), and problem responses that are the ones the
operation really gives — checked by sending bad requests of each kind to every operation."""
from __future__ import annotations

import json
import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from sandbox.web.openapi import every_operation
from web_support import auth, curl_commands

LIVE_STREAMS = {"/api/v1/events/stream"}  # answers for minutes: tests/web/test_web_events.py
PATH_VALUES = {"actor": "aigerim", "merchant_id": "alatau-coffee", "symbol": "BTC-KZT", "year": "2026",
               "licence_id": "1"}


@pytest.fixture
def spec(cc_client):
    return cc_client.get("/openapi.json").json


def test_the_document_is_valid_openapi_3(spec):
    validate(spec)  # openapi-spec-validator: raises on the first violation
    assert spec["openapi"].startswith("3.")


def test_every_operation_has_a_unique_readable_operation_id(spec):
    ids = [op.get("operationId") for _path, _method, op in every_operation(spec)]
    assert len(ids) >= 80 and all(isinstance(i, str) and re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    by_path = {(path, method): op["operationId"] for path, method, op in every_operation(spec)}
    assert by_path["/api/v1/merchants/{merchant_id}/authorizations", "post"] == "pos_authorize"
    assert by_path["/api/v1/authorizations/{authorization_id}/capture", "post"] == "pos_capture"
    assert by_path["/api/v1/ledger/verify", "get"] == "ledger_verify"


def _validator(spec, schema):
    resource = Resource.from_contents(spec, default_specification=DRAFT4)
    registry = Registry().with_resource("urn:spec", resource)
    return OAS30Validator({**schema, "$ref": schema["$ref"].replace("#", "urn:spec#")} if "$ref" in schema
                          else schema, registry=registry)


def test_every_body_has_an_example_that_fits_its_schema(spec):
    checked = 0
    for path, method, op in every_operation(spec):
        bodies = [("request", c) for c in op.get("requestBody", {}).get("content", {}).values()]
        bodies += [(status, c) for status, r in op["responses"].items() for c in r.get("content", {}).values()]
        assert op["responses"], f"{method} {path}"
        for where, content in bodies:
            assert "example" in content, f"{method.upper()} {path} {where}: no example"
            errors = list(_validator(spec, content["schema"]).iter_errors(content["example"]))
            assert not errors, f"{method.upper()} {path} {where}: {errors[0].message}"
            checked += 1
    assert checked > 500


def _url(path: str, missing: bool = False) -> str:
    def value(match):
        name = match.group(1)
        if missing:
            return {"symbol": "ZZZ-KZT", "year": "2026"}.get(name, "nobody" if not name.endswith("_id") or
                                                               name in ("merchant_id", "licence_id") else "999999")
        return PATH_VALUES.get(name, "1")
    return re.sub(r"{([^}]+)}", value, path)


def _documented(op) -> set[int]:
    return {int(s) for s in op["responses"] if s.isdigit() and int(s) >= 400}


def test_the_problems_documented_are_the_ones_bad_requests_get(spec, cc_client, cc):
    """Each operation, sent a request that is bad in one way, answers a status it documents; and a 401, 403,
    400 or 422 it documents is one such a request really gets."""
    keys = {"regulator": cc.keys["regulator"], "customer": cc.keys["bob"], "merchant": cc.keys["coffee"]}
    for path, method, op in every_operation(spec):
        if path in LIVE_STREAMS:
            continue
        documented, where = _documented(op), f"{method.upper()} {path}"
        call = getattr(cc_client, method)
        no_key = call(_url(path)).status_code
        if op.get("security") == []:
            assert not documented & {401, 403}, where
            continue
        assert no_key == 401 and 401 in documented, where
        # no Idempotency-Key: a role admitted stops at the key check (400), a role refused gets 403
        seen = {role: call(_url(path), headers=auth(token)).status_code for role, token in keys.items()}
        if any(p["name"] == "owner" and p["in"] == "query" for p in op.get("parameters", [])):
            # a list pinned to the key's own data refuses an owner filter naming someone else
            asking = call(_url(path) + "?owner=cust:nobody", headers=auth(keys["customer"]))
            seen["customer-asking"] = asking.status_code
        assert set(seen.values()) <= documented | {200}, (where, seen)
        assert (403 in seen.values()) == (403 in documented), (where, seen)
        operator = auth(cc.keys["operator"])
        if method == "post":
            assert call(_url(path), headers=operator, json={}).status_code == 400 and 400 in documented, where
        if "requestBody" in op:
            unknown = call(_url(path), headers={**operator, "Idempotency-Key": "bad-field"}, json={"zz_unknown": 1})
            assert unknown.status_code == 422 and 422 in documented, (where, unknown.json)
        if method == "get" and "{" in path:
            # what is not there, or not this key's (a merchant's list of another merchant), is not found
            missing = {call(_url(path, missing=True), headers=auth(token)).status_code
                       for token in (cc.keys["operator"], keys["customer"], keys["merchant"])}
            assert 404 in missing and 404 in documented, (where, missing)
    big = cc_client.post("/api/v1/transfers", data="x" * (65 * 1024), content_type="application/json",
                         headers={**auth(cc.keys["operator"]), "Idempotency-Key": "big"})
    assert big.status_code == 413
    cc.verify()


def test_every_request_example_is_accepted_by_the_schema_that_reads_it(spec):
    """An example a reader copies is a request the server parses (``validates_schema`` rules included)."""
    from marshmallow import class_registry
    from marshmallow.exceptions import RegistryError
    loaded, refused = 0, []
    for path, method, op in every_operation(spec):
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is None:
            continue
        name = body["schema"]["$ref"].rsplit("/", 1)[-1]
        classes = []
        for candidate in (name, name + "Schema"):
            try:
                found = class_registry.get_class(candidate, all=True)
                classes += found if isinstance(found, list) else [found]
            except RegistryError:
                pass
        assert classes, name
        failures = []
        for cls in classes:
            try:
                cls().load(body["example"])
                break
            except Exception as error:  # noqa: BLE001 - collected for the message
                failures.append(error)
        else:
            refused.append(f"{method.upper()} {path}: {name} refuses its example: {failures}")
        loaded += 1
    assert not refused, "\n".join(refused)
    assert loaded >= 30


def test_the_docs_page_renders_each_operation_with_a_curl_example(spec, cc_client):
    page = cc_client.get("/docs").get_data(as_text=True)
    commands = curl_commands(page)
    assert set(commands) == {op["operationId"] for _path, _method, op in every_operation(spec)}
    authorize = commands["pos_authorize"]
    assert authorize.startswith("curl -X POST http://localhost/api/v1/merchants/alatau-coffee/authorizations")
    assert '-H "Authorization: Bearer $KEY"' in authorize and "Idempotency-Key: pos-authorize-1" in authorize
    assert """-d '{"card_id": 1, "amount_minor": 150000}'""" in authorize
    assert commands["system_healthz"] == "curl http://localhost/healthz"  # public: no key, no body
    assert "Idempotency-Key" not in commands["pos_get_authorization"]
    # descriptions are Markdown: code spans rendered, raw HTML never passed through
    assert "Authorize a purchase at <code>merchant_id</code>" in page and "``merchant_id``" not in page
    assert "<script" not in page and "cdn" not in page.lower()


def test_cryptocity_openapi_writes_the_served_document_without_a_server(spec, tmp_path):
    from click.testing import CliRunner

    from sandbox.cli import main
    out = tmp_path / "openapi.json"
    result = CliRunner().invoke(main, ["openapi", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == spec  # the document depends on the code only, not on the city
