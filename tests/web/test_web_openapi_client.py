"""A Python client generated from a live server's /openapi.json (openapi-python-client) drives a purchase:
onboard -> pay (POS authorization) -> capture -> refund, then the ledger's verify, all through the API.

The client is generated once for this module, from the document the running server serves, with
``--meta none`` (a bare package) and no post-hooks (no formatter run), into a temporary directory.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import urllib.request

import pytest

from databases import copy_sqlite
from sandbox.web import create_app
from web_support import curl_commands, serve

pytestmark = pytest.mark.slow  # a generation (~6 s) and a live server
# the report downloads (a zip, a PDF) come to the client as bytes
CLIENT_CONFIG = ("post_hooks: []\ncontent_type_overrides:\n  application/zip: application/octet-stream\n"
                 "  application/pdf: application/octet-stream\n")


@pytest.fixture(scope="module")
def live(_city_template, tmp_path_factory):
    """A city (the web tests' template: keys per role, the crypto-city preset) behind a real HTTP server."""
    from sandbox.city import CryptoCity
    from conftest import CITY_PRESET, CITY_SEED
    template, keys, _info = _city_template
    path = tmp_path_factory.mktemp("client-city") / "city.db"
    copy_sqlite(template, path)
    city = CryptoCity.from_config(CITY_PRESET, db=f"sqlite:///{path}", seed=CITY_SEED)
    with contextlib.contextmanager(serve)(create_app(city, {"TESTING": True})) as base_url:
        yield city, keys, base_url
    city.close()


@pytest.fixture(scope="module")
def generated(live, tmp_path_factory):
    """The package openapi-python-client writes from the live server's document, imported."""
    _city, _keys, base_url = live
    root = tmp_path_factory.mktemp("generated")
    config = root / "config.yaml"
    config.write_text(CLIENT_CONFIG)
    done = subprocess.run([sys.executable, "-m", "openapi_python_client", "generate", "--url",
                           f"{base_url}/openapi.json", "--meta", "none", "--config", str(config),
                           "--output-path", str(root / "cryptocity_client"), "--fail-on-warning"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("cryptocity_client")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == "cryptocity_client" or n.startswith("cryptocity_client.")]:
            del sys.modules[name]


def _api(package, area: str, operation: str):
    return importlib.import_module(f"{package.__name__}.api.{area}.{operation}")


def test_the_generated_client_onboards_pays_captures_refunds_and_verifies(live, generated):
    city, keys, base_url = live
    models = importlib.import_module(f"{generated.__name__}.models")
    client_module = importlib.import_module(f"{generated.__name__}.client")
    operator = client_module.AuthenticatedClient(base_url=base_url, token=keys["operator"],
                                                 raise_on_unexpected_status=True)
    cafe = client_module.AuthenticatedClient(base_url=base_url, token=keys["coffee"],
                                             raise_on_unexpected_status=True)

    onboarded = _api(generated, "customers", "customers_onboard").sync(
        client=operator, idempotency_key="onboard-dana",
        body=models.Onboard(actor="dana", kyc_tier="full",
                            deposits=models.OnboardDeposits.from_dict({"BTC": 1_000_000})))
    assert isinstance(onboarded, models.Onboarded), onboarded
    assert onboarded.actor == "dana" and onboarded.masked_pan.endswith(onboarded.pan[-4:])

    paid = _api(generated, "pos", "pos_authorize").sync(
        merchant_id="alatau-coffee", client=cafe, idempotency_key="dana-coffee-1",
        body=models.AuthorizeRequest(amount_minor=1_500_00, card_id=onboarded.card_id))
    assert isinstance(paid, models.Authorization), paid
    assert paid.approved and paid.response_code == "00" and paid.status == "approved"
    assert paid.amount_minor == 1_500_00 and paid.reference == "dana-coffee-1"

    captured = _api(generated, "pos", "pos_capture").sync(
        authorization_id=paid.id, client=cafe, idempotency_key="dana-capture-1", body=models.CaptureRequest())
    assert isinstance(captured, models.Authorization), captured
    assert captured.status == "captured" and captured.captured_minor == 1_500_00

    refunded = _api(generated, "pos", "pos_refund").sync(
        authorization_id=paid.id, client=cafe, idempotency_key="dana-refund-1",
        body=models.AmountRequest(amount_minor=500_00))
    assert isinstance(refunded, models.Authorization), refunded
    assert refunded.refunded_minor == 500_00 and refunded.captured_minor == 1_500_00

    # a problem comes back typed too: the same key with another body is the documented 409
    conflict = _api(generated, "pos", "pos_refund").sync_detailed(
        authorization_id=paid.id, client=cafe, idempotency_key="dana-refund-1",
        body=models.AmountRequest(amount_minor=400_00))
    assert conflict.status_code == 409 and conflict.parsed.code == "idempotency_conflict"

    verified = _api(generated, "ledger", "ledger_verify").sync(client=operator)
    assert isinstance(verified, models.Verify) and verified.ok, verified
    city.verify()


def test_the_curl_examples_on_the_docs_page_run_as_they_are(live):
    """Copied from /docs of the live server, with only KEY set: a purchase, a balance and the ledger's check."""
    city, keys, base_url = live
    with urllib.request.urlopen(f"{base_url}/docs") as answer:
        commands = curl_commands(answer.read().decode())

    def run(operation_id: str, key: str) -> dict:
        done = subprocess.run(["bash", "-c", commands[operation_id] + " --silent --show-error --fail-with-body"],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "KEY": key})
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    paid = run("pos_authorize", keys["coffee"])
    assert paid["approved"] and paid["amount_minor"] == 150_000 and paid["reference"] == "pos-authorize-1"
    assert run("wallets_balances", keys["aigerim"])["actor"] == "aigerim"
    assert run("ledger_verify", keys["operator"])["ok"] is True
    city.verify()
