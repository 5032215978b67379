"""Incidents a workshop host sets off through the API and the regulator page: each has its real effect on
the city, writes incident.started / incident.resolved, is listed on the regulator page, and the ledger
still verifies."""
from __future__ import annotations

import itertools
import re

import pytest

from web_support import auth

_keys = itertools.count(1)


def post(client, token, path, body=None, key=None):
    return client.post(path, json=body if body is not None else {},
                       headers=auth(token, **{"Idempotency-Key": key or f"inc-{next(_keys)}"}))


def start(cc, client, body, key=None):
    return post(client, cc.keys["operator"], "/api/v1/incidents", body, key)


def resolve(cc, client, incident_id):
    return post(client, cc.keys["operator"], f"/api/v1/incidents/{incident_id}/resolve")


def event_types(cc, *types):
    return [(e["type"], e["data"]["id"]) for e in cc.events(types=list(types))]


def regulator_page(cc, client) -> str:
    page = client.get("/regulator", headers=auth(cc.keys["regulator"]))
    assert page.status_code == 200
    return page.get_data(as_text=True)


def onchain_events(cc) -> list[str]:
    return [e["type"] for e in cc.events(types=["deposit.pending", "deposit.confirmed"])
            if e["data"].get("source") == "onchain"]


def onboard_btc_holder(cc, actor):
    """A customer with little tenge and some BTC: a purchase sells BTC just in time."""
    cc.onboard(actor=actor, kyc_tier="full", deposits={"KZT": 1_000_00, "BTC": 2_000_000})


def test_a_price_crash_walks_the_price_down_and_purchases_sell_at_it(cc, cc_client):
    onboard_btc_holder(cc, "erlan")
    onboard_btc_holder(cc, "dana")
    before = cc.pay(actor="erlan", merchant="zone-market", amount_minor=20_000_00, ref="before-crash")
    (leg_before,) = [leg for leg in before.to_dict()["sold"] if leg["asset"] == "BTC"]
    answer = start(cc, cc_client, {"kind": "price_crash", "percent": 30, "minutes": 30, "assets": ["BTC"]})
    assert answer.status_code == 201, answer.json
    crash = answer.json
    assert crash["status"] == "resolved"   # walked through its 30 minutes at once
    assert crash["resolved_at"] > crash["started_at"]
    fell = crash["outcome"]["after_minor"]["BTC"] / crash["outcome"]["before_minor"]["BTC"]
    assert 0.68 < fell < 0.72
    after = cc.pay(actor="dana", merchant="zone-market", amount_minor=20_000_00, ref="after-crash")
    (leg_after,) = [leg for leg in after.to_dict()["sold"] if leg["asset"] == "BTC"]
    assert leg_after["avg_price_minor"] < leg_before["avg_price_minor"] * 0.72
    assert leg_after["sold_qty_minor"] > leg_before["sold_qty_minor"] * 1.35   # more BTC for the same tenge
    assert event_types(cc, "incident.started", "incident.resolved") == [("incident.started", crash["id"]),
                                                                        ("incident.resolved", crash["id"])]
    assert f'id="incident-{crash["id"]}" data-kind="price_crash"' in regulator_page(cc, cc_client)
    cc.verify()


def test_a_suspended_exchange_licence_declines_crypto_funded_purchases_until_resolved(cc, cc_client):
    onboard_btc_holder(cc, "erlan")
    answer = start(cc, cc_client, {"kind": "licence_suspended"})
    assert answer.status_code == 201 and answer.json["status"] == "active"
    assert answer.json["params"] == {"licence_id": "AFSA-TF-001"} and answer.json["outcome"]["state"] == "suspended"
    refused = cc.pay(actor="erlan", merchant="zone-market", amount_minor=20_000_00, ref="suspended")
    assert refused.status == "declined" and "AFSA-TF-001" in refused.reason
    page = regulator_page(cc, cc_client)
    assert 'id="state-AFSA-TF-001">suspended' in page and f'id="incident-status-{answer.json["id"]}">active' in page
    done = resolve(cc, cc_client, answer.json["id"])
    assert done.status_code == 200 and done.json["status"] == "resolved" and done.json["outcome"]["state"] == "active"
    assert cc.pay(actor="erlan", merchant="zone-market", amount_minor=20_000_00, ref="reinstated").status == "approved"
    types = [e["type"] for e in cc.events(types=["incident.started", "licence.suspended", "licence.reinstated",
                                                 "incident.resolved"])]
    assert types == ["licence.suspended", "incident.started", "licence.reinstated", "incident.resolved"]
    cc.verify()


def test_participants_phones_show_the_incident_going_on(cc, cc_client):
    """The host sets off an incident: the participants' own pages (the wallet, in Russian too) show it in a
    banner while it goes on, and no longer once it is resolved."""
    me = cc.keys["aigerim"]
    assert 'id="incidents-now"' not in cc_client.get("/wallet", headers=auth(me)).text
    halt = start(cc, cc_client, {"kind": "gateway_down"})
    page = cc_client.get("/wallet", headers=auth(me)).text
    banner = re.search(r'<p class="flash flash-error" role="alert" id="incidents-now">(.*?)</p>', page, re.S)
    assert banner and "Incident in progress" in banner.group(1) and "Decision gateway down" in banner.group(1)
    russian = cc_client.get("/wallet?lang=ru", headers=auth(me)).text
    assert "Идёт инцидент" in russian
    resolve(cc, cc_client, halt.json["id"])
    assert 'id="incidents-now"' not in cc_client.get("/wallet", headers=auth(me)).text


def test_with_the_gateway_down_purchases_take_the_stand_in_decision(cc, cc_client):
    answer = start(cc, cc_client, {"kind": "gateway_down"})
    assert answer.status_code == 201 and answer.json["status"] == "active"
    again = start(cc, cc_client, {"kind": "gateway_down"})
    assert again.status_code == 409 and again.json["code"] == "incident_exists"
    down = cc.pay(actor="aigerim", merchant="zone-market", amount_minor=1_000_00, ref="down")
    assert down.to_dict()["decision"] == "webhook_error"
    assert down.status == "declined" and down.response_code == "91"   # the preset's stand-in: decline
    assert resolve(cc, cc_client, answer.json["id"]).json["status"] == "resolved"
    up = cc.pay(actor="aigerim", merchant="zone-market", amount_minor=1_000_00, ref="up")
    assert up.status == "approved" and up.to_dict()["decision"] is None
    cc.verify()


def test_an_aml_alert_wave_raises_flags_the_regulator_sees(cc, cc_client):
    answer = start(cc, cc_client, {"kind": "aml_alert_wave", "count": 3})
    assert answer.status_code == 201, answer.json
    assert answer.json["outcome"]["flags_raised"] >= 3 and answer.json["status"] == "resolved"
    flags = [e for e in cc.events(types=["aml.flag_raised"])]
    assert len(flags) >= 3 and {f["data"]["rule"] for f in flags} >= {"blocklist_merchant"}
    page = regulator_page(cc, cc_client)
    assert "blocklist_merchant" in page and 'data-kind="aml_alert_wave"' in page
    cc.verify()


def test_a_chain_halt_holds_onchain_deposits_until_the_chain_restarts(cc, cc_client):
    operator = cc.keys["operator"]
    halt = start(cc, cc_client, {"kind": "chain_halt"})
    assert halt.status_code == 201
    before = cc.balances("aigerim")["BTC"]
    sent = post(cc_client, operator, "/api/v1/customers/aigerim/onchain-deposits", {"amount_minor": 50_000})
    assert sent.status_code == 201 and sent.json["confirmations"] == 0
    assert cc.balances("aigerim")["BTC"] == before   # seen, not confirmed, not credited
    assert onchain_events(cc) == ["deposit.pending"]
    done = resolve(cc, cc_client, halt.json["id"])
    assert done.status_code == 200 and done.json["outcome"]["deposits_credited"] == 1
    assert cc.balances("aigerim")["BTC"] == before + 50_000
    assert onchain_events(cc) == ["deposit.pending", "deposit.confirmed"]
    cc.verify()


def test_a_chain_halt_refuses_a_custody_rebalance(cc, cc_client):
    """A move between the custody tiers needs a block: refused (409) while the chain is halted, done after."""
    operator = cc.keys["operator"]
    cc.withdraw(actor="aigerim", address=cc.deposit_address(actor="bob"), amount_minor=100_000, key="treasury")
    halt = start(cc, cc_client, {"kind": "chain_halt"})
    height = cc.btc_node.height()
    refused = post(cc_client, operator, "/api/v1/custody/rebalance", {})
    assert refused.status_code == 409 and refused.json["code"] == "chain_halted"
    assert cc.btc_node.height() == height and cc.custody_tiers().moves == ()
    resolve(cc, cc_client, halt.json["id"])
    assert len(cc.rebalance_custody().moves) == 2
    cc.verify()


def test_a_chain_halt_holds_withdrawals_and_the_nodes_mining_until_the_chain_restarts(cc, cc_client):
    from sandbox.btc_rpc_server import start_for_city   # what `serve --btc-rpc-port` starts
    from wallet.bitcoin.rpc import BitcoindRPC
    from wallet.errors import ChainError
    from wallet.keys import HDKeys, MasterSeed

    dest = HDKeys(MasterSeed.for_sandbox("outside-wallet")).address("bitcoin", "deposit", 0)
    halt = start(cc, cc_client, {"kind": "chain_halt"})
    assert halt.status_code == 201
    height = cc.btc_node.height()
    sent = cc.withdraw(actor="aigerim", address=dest, amount_minor=100_000, key="halted-1")
    assert sent["status"] in ("broadcast", "pending_cold")   # in the mempool, or waiting for a refill
    assert cc.btc_node.height() == height and cc.btc_node.balance_sat([dest]) == 0   # no block was mined
    server = start_for_city(cc, port=0, user="host", password="workshop")
    try:   # an outside tool on the node's bitcoind JSON-RPC cannot mine either
        with pytest.raises(ChainError, match="the chain is halted"):
            BitcoindRPC(server.url("workshop"), mine_to_address=dest).mine(1)
    finally:
        server.stop()
    assert cc.btc_node.height() == height
    assert [t for t, _ in event_types(cc, "withdrawal.created", "withdrawal.confirmed")] == ["withdrawal.created"]
    done = resolve(cc, cc_client, halt.json["id"])
    assert done.status_code == 200 and done.json["outcome"]["withdrawals_confirmed"] == 1
    (after,) = cc.withdrawals("aigerim")
    assert after["status"] == "confirmed" and cc.btc_node.balance_sat([dest]) == 100_000
    assert [t for t, _ in event_types(cc, "withdrawal.created", "withdrawal.confirmed")] == [
        "withdrawal.created", "withdrawal.confirmed"]
    cc.verify()



def test_the_restart_sends_and_confirms_every_withdrawal_the_halt_held(cc, cc_client):
    """Several withdrawals wait through one halt; the restart confirms each, with its own event."""
    from wallet.keys import HDKeys, MasterSeed
    outside = HDKeys(MasterSeed.for_sandbox("outside-wallets"))
    dests = [outside.address("bitcoin", "deposit", i) for i in range(3)]
    for actor in ("erlan", "dana"):
        onboard_btc_holder(cc, actor)
    halt = start(cc, cc_client, {"kind": "chain_halt"})
    for i, actor in enumerate(("erlan", "dana", "erlan")):
        cc.withdraw(actor=actor, address=dests[i], amount_minor=50_000 + i, key=f"held-{i}")
    assert cc.btc_node.balance_sat(dests) == 0
    done = resolve(cc, cc_client, halt.json["id"])
    assert done.status_code == 200 and done.json["outcome"]["withdrawals_confirmed"] == 3
    assert [w["status"] for a in ("erlan", "dana") for w in cc.withdrawals(a)] == ["confirmed"] * 3
    assert [cc.btc_node.balance_sat([d]) for d in dests] == [50_000, 50_001, 50_002]
    assert [t for t, _ in event_types(cc, "withdrawal.confirmed")] == ["withdrawal.confirmed"] * 3
    cc.verify()

@pytest.mark.slow
def test_a_frozen_kzte_address_is_frozen_on_chain_until_resolved(cc, cc_client):
    address = "0x00000000000000000000000000000000000d0e0F"
    answer = start(cc, cc_client, {"kind": "kzte_address_frozen", "address": address.lower()})
    assert answer.status_code == 201, answer.json
    frozen = answer.json["params"]["address"]
    assert frozen.lower() == address.lower() and cc.ctx.issuer.token.is_frozen(frozen)
    assert resolve(cc, cc_client, answer.json["id"]).json["status"] == "resolved"
    assert not cc.ctx.issuer.token.is_frozen(frozen)
    assert [e["type"] for e in cc.events(types=["kzte.address_frozen", "kzte.address_unfrozen"])] == [
        "kzte.address_frozen", "kzte.address_unfrozen"]
    cc.verify()


def test_refusals_name_what_is_wrong_and_change_nothing(cc, cc_client):
    bad = start(cc, cc_client, {"kind": "meteor_strike"})
    assert bad.status_code == 422
    crash = start(cc, cc_client, {"kind": "price_crash", "percent": 120, "minutes": 5})
    assert crash.status_code == 422 and crash.json["code"] == "invalid_incident" and "percent" in crash.json["detail"]
    assert start(cc, cc_client, {"kind": "kzte_address_frozen"}).json["code"] == "invalid_incident"
    not_evm = start(cc, cc_client, {"kind": "kzte_address_frozen", "address": "bcrt1qnotanevmaddress"}).json
    assert not_evm["code"] == "invalid_incident" and "EVM address" in not_evm["detail"]
    assert resolve(cc, cc_client, 999).status_code == 404
    customer = post(cc_client, cc.keys["aigerim"], "/api/v1/incidents", {"kind": "gateway_down"})
    assert customer.status_code == 403
    listed = cc_client.get("/api/v1/incidents", headers=auth(cc.keys["regulator"]))
    assert listed.status_code == 200 and listed.json["items"] == []
    assert event_types(cc, "incident.started") == []
    cc.verify()


def test_the_host_starts_and_resolves_an_incident_from_the_regulator_page(cc, cc_client):
    host = auth(cc.keys["operator"])
    page = cc_client.get("/regulator", headers=host).get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assert 'id="incident-form"' in page and 'id="event-feed"' in page
    assert 'id="incident-form"' not in regulator_page(cc, cc_client)   # a regulator watches; the host acts
    started = cc_client.post("/regulator/incidents", data={"csrf": csrf, "kind": "gateway_down", "percent": ""},
                             headers=host, follow_redirects=True)
    assert started.status_code == 200 and "Decision gateway down) is active" in started.get_data(as_text=True)
    (incident,) = cc_client.get("/api/v1/incidents", headers=host).json["items"]
    done = cc_client.post(f"/regulator/incidents/{incident['id']}/resolve", data={"csrf": csrf}, headers=host,
                          follow_redirects=True)
    assert f'id="incident-status-{incident["id"]}">resolved' in done.get_data(as_text=True)
    cc.verify()


def test_another_process_on_the_database_sees_the_gateway_down_and_the_crash(cc, cc_client, tmp_path):
    from sandbox.city import CryptoCity
    other = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path / 'city.db'}", seed=7)
    try:
        down = start(cc, cc_client, {"kind": "gateway_down"}).json
        paid = other.pay(actor="aigerim", merchant="zone-market", amount_minor=1_000_00, ref="elsewhere")
        assert paid.to_dict()["decision"] == "webhook_error"
        resolve(cc, cc_client, down["id"])
        crash = start(cc, cc_client, {"kind": "price_crash", "percent": 40, "minutes": 10, "assets": ["BTC"],
                                      "walk": False}).json
        assert crash["status"] == "active"
        cc.advance("10m")      # the first process moves the clock; the other only reads, and prices at the crash
        other.balances("aigerim")
        fell = other.ctx.exchange.price_model.price_minor("BTC") / crash["outcome"]["before_minor"]["BTC"]
        assert 0.58 < fell < 0.62
        other.advance("10m")   # and when it moves the clock, its makers requote at the crashed price
        assert other.ctx.exchange.price_model.price_minor("BTC") / crash["outcome"]["before_minor"]["BTC"] < 0.62
        other.verify()
    finally:
        other.close()
