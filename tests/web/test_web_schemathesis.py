"""Property-based contract test: schemathesis drives every operation of /openapi.json in-process.

Checks: no 5xx, documented status codes, content types and headers, and bodies that match
their schemas (problem+json included). Modest example counts keep it well under a minute.

(schemathesis' lazy ``from_fixture`` does not work with pytest 9, so the operations are
driven with its Python API: one Hypothesis run per operation, all in one test.)
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from ledger import Database, Ledger, ManualClock
from sandbox.web import create_app

from web_support import seed

pytestmark = pytest.mark.slow
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance]
MAX_EXAMPLES = 10


def test_every_operation_honours_its_contract(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'city.db'}")
    db.migrate()
    city = seed(Ledger(db, ManualClock()))
    app = create_app(city.ledger, {"TESTING": True})
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {city.keys['operator']}"}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def exercise(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        exercise()
        tested.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /api/v1/transfers" in tested and "GET /api/v1/accounts/{account_id}/history" in tested
    city.ledger.verify()  # whatever the fuzzer sent, no money appeared or vanished
    db.dispose()
