"""Endpoints that start an in-process chain: KZTE on the EVM (~5 s) and BTC on the regtest node (~2 s)."""
from __future__ import annotations

from web_support import auth


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {}, headers=auth(token, **{"Idempotency-Key": key}))


def test_kzte_mint_redeem_attestation_and_freezes(cc_client, cc):
    me, reg = cc.keys["aigerim"], cc.keys["regulator"]
    empty = cc_client.get("/api/v1/stablecoin/attestation", headers=auth(cc.keys["coffee"])).json
    assert empty["supply_minor"] == 0 and empty["peg_holds"] and not cc.issuer_started  # reading starts nothing
    bank = cc.balances("aigerim")["KZT"]
    minted = post(cc_client, "/api/v1/customers/aigerim/kzte/mint", me, "m-1", {"amount_minor": 10_000_00})
    assert minted.status_code == 201 and minted.json["kzte_minor"] == 10_000_00
    assert minted.json["bank_kzt_minor"] == bank - 10_000_00
    assert post(cc_client, "/api/v1/customers/aigerim/kzte/mint", me, "m-1",
                {"amount_minor": 10_000_00}).headers["Idempotent-Replayed"] == "true"
    redeemed = post(cc_client, "/api/v1/customers/aigerim/kzte/redeem", me, "r-1", {"amount_minor": 4_000_00})
    assert redeemed.status_code == 201 and redeemed.json["kzte_minor"] == 6_000_00
    too_much = post(cc_client, "/api/v1/customers/aigerim/kzte/redeem", me, "r-2", {"amount_minor": 7_000_00})
    assert too_much.status_code in (409, 422) and cc.balances("aigerim")["KZTE"] == 6_000_00
    att = cc_client.get("/api/v1/stablecoin/attestation", headers=auth(me)).json
    assert att["supply_minor"] == att["liability_minor"] == 6_000_00 and att["reserve_minor"] >= 6_000_00
    assert att["peg_holds"] is True
    holder = cc.issuer.token.w3.eth.accounts[5]
    assert post(cc_client, "/api/v1/stablecoin/freezes", me, "f-0", {"address": holder}).status_code == 403
    frozen = post(cc_client, "/api/v1/stablecoin/freezes", reg, "f-1", {"address": holder, "reason": "fraud"})
    assert frozen.status_code == 200 and frozen.json["frozen"] is True and cc.issuer.token.is_frozen(holder)
    protected = post(cc_client, "/api/v1/stablecoin/freezes", reg, "f-2", {"address": cc.issuer.custodian})
    assert protected.status_code == 409 and not cc.issuer.token.is_frozen(cc.issuer.custodian)
    assert post(cc_client, "/api/v1/stablecoin/unfreezes", reg, "f-3", {"address": holder}).json["frozen"] is False
    cc.verify()


def test_deposit_address_is_the_customers_own_and_stable(cc_client, cc):
    first = post(cc_client, "/api/v1/customers/bob/deposit-addresses", cc.keys["bob"], "a-1", {"chain": "bitcoin"})
    assert first.status_code == 200 and first.json["address"].startswith("bcrt1")
    second = post(cc_client, "/api/v1/customers/bob/deposit-addresses", cc.keys["bob"], "a-2", {})
    assert second.json["address"] == first.json["address"]
    theirs = post(cc_client, "/api/v1/customers/aigerim/deposit-addresses", cc.keys["operator"], "a-3", {})
    assert theirs.json["address"] != first.json["address"]
    deposit = post(cc_client, "/api/v1/customers/bob/onchain-deposits", cc.keys["operator"], "d-1",
                   {"amount_minor": 50_000})
    assert deposit.status_code == 201 and deposit.json["address"] == first.json["address"]
    assert cc.balances("bob")["BTC"] == 50_000
    cc.verify()
