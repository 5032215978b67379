"""Two "processes" (two cities on two engines, each with its own app) over one database give the same
answers: a customer onboarded through one is a full customer in the other. Before, the POS path of a
process that had not onboarded the customer looked it up in a per-process dictionary, missed it, and
recorded the crypto sale without its tax disposal (seen with gunicorn: 5 crypto-funded purchases, 3
disposals on the statement)."""
from __future__ import annotations

import pytest
from web_support import auth

from sandbox.apikeys import create_key
from sandbox.city import CryptoCity
from sandbox.web import create_app

PURCHASES = 5


@pytest.fixture
def two(db_url):
    a = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    b = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    with a.ledger.unit_of_work() as uow:
        keys = {"operator": create_key(uow.conn, "operator", None, now=uow.now()).token,
                "coffee": create_key(uow.conn, "merchant", "alatau-coffee", now=uow.now()).token}
        uow.commit()
    yield a, b, create_app(a, {"TESTING": True}).test_client(), create_app(b, {"TESTING": True}).test_client(), keys
    a.close()
    b.close()


def test_a_customer_onboarded_in_one_process_pays_in_the_other_with_every_disposal_on_the_statement(two):
    a, b, client_a, client_b, keys = two
    onboarded = client_a.post("/api/v1/customers", json={"actor": "aigerim", "kyc_tier": "full"},
                              headers=auth(keys["operator"], **{"Idempotency-Key": "onboard"})).json
    funded = client_a.post("/api/v1/customers/aigerim/faucet", json={"asset": "USDT", "amount_minor": 500 * 10**6},
                           headers=auth(keys["operator"], **{"Idempotency-Key": "usdt"}))
    assert funded.status_code == 201
    answers = []
    for n in range(PURCHASES):   # the bank account is empty: every purchase sells USDT just in time
        answers.append(client_b.post("/api/v1/merchants/alatau-coffee/authorizations",
                                     json={"card_id": onboarded["card_id"], "amount_minor": 2_000_00},
                                     headers=auth(keys["coffee"], **{"Idempotency-Key": f"till-{n}"})).json)
    assert [x["response_code"] for x in answers] == ["00"] * PURCHASES
    year = a.now().astimezone(a.cfg.sandbox.zone).year
    for city in (a, b):   # both processes give the same statement
        statement = city.tax_statement("aigerim", year).to_dict()
        assert len(statement["disposals"]) == PURCHASES
        assert {d["asset"] for d in statement["disposals"]} == {"USDT"}
    assert a.tax_statement("aigerim", year).to_dict() == b.tax_statement("aigerim", year).to_dict()
    a.verify()
