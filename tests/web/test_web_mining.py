"""The mining API and page: the operator registers farms and breaks a meter, the clock advance charges
the levy and mints rewards, the regulator runs the detection and closes an illegal farm, and reads it all
(the JSON summary, the farm's tax report with corporate income tax, the dashboard page, the regulator's
report); customers may not."""
from __future__ import annotations


def post(client, path, token, key, body=None):
    return client.post(path, json=body if body is not None else {},
                       headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key})


def get(client, path, token):
    return client.get(path, headers={"Authorization": f"Bearer {token}"})


def test_farms_levy_detection_and_closure_over_the_api(cc_client, cc):
    op, reg = cc.keys["operator"], cc.keys["regulator"]
    for actor in ("steppe-hash", "shadow"):
        assert post(cc_client, "/api/v1/customers", op, f"onb-{actor}",
                    {"actor": actor, "kyc_tier": "full", "deposits": {"KZT": 100_000_000}}).status_code in (200, 201)
    farm = {"farm": "steppe-hash", "location": "ekibastuz", "hashrate_ths": 95_000, "efficiency_j_per_th": "34",
            "max_load_kw": 4_000}
    first = post(cc_client, "/api/v1/mining/farms", op, "farm-1", farm)
    assert first.status_code == 200 and first.json["licence_id"] == "MDDIAI-DM-steppe-hash", first.json
    assert post(cc_client, "/api/v1/mining/farms", op, "farm-1", farm).headers.get("Idempotent-Replayed") == "true"
    assert post(cc_client, "/api/v1/mining/farms", op, "farm-2", farm).json["code"] == "farm_exists"
    assert post(cc_client, "/api/v1/mining/farms", op, "farm-3", dict(farm, farm="nobody")).status_code == 404
    assert post(cc_client, "/api/v1/mining/farms", reg, "farm-4", dict(farm, farm="shadow")).status_code == 403
    assert post(cc_client, "/api/v1/mining/farms", op, "farm-5",
                {"farm": "shadow", "location": "ekibastuz", "hashrate_ths": 20_000, "efficiency_j_per_th": "34",
                 "licensed": False}).status_code == 200
    assert post(cc_client, "/api/v1/mining/farms/steppe-hash/meter", op, "meter-1", {"working": False}).json[
        "meter_working"] is False
    assert post(cc_client, "/api/v1/clock/advance", op, "adv-1", {"seconds": 86_400}).status_code == 200
    summary = get(cc_client, "/api/v1/mining", reg).json
    row = next(f for f in summary["farms"] if f["farm"] == "steppe-hash")
    assert row["metered_kwh"] == "96000.000" and row["levy_paid_minor"] == 19_200_000   # broken meter: max load
    assert summary["levy_revenue_minor"] == 19_200_000
    assert get(cc_client, "/api/v1/mining", cc.keys["aigerim"]).status_code == 403
    detected = post(cc_client, "/api/v1/mining/detect", reg, "detect-1").json
    assert [c["location"] for c in detected["cases"]] == ["ekibastuz"]
    closed = post(cc_client, "/api/v1/mining/farms/shadow/close", reg, "close-1", {"reason": "unlicensed"}).json
    assert closed["evaded_levy_minor"] == 3_264_000     # 16 320 kWh at 2 KZT/kWh
    report = get(cc_client, "/api/v1/mining/farms/steppe-hash", reg).json
    assert report["tax"]["levy_minor"] == 19_200_000 and report["tax"]["cit_pct"] == "20"
    assert report["readings"][0]["assessed_at_max_load"] is True
    from sandbox.web import create_app
    page = create_app(cc, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client().get("/mining")
    assert page.status_code == 200 and b"steppe-hash" in page.data and b"ekibastuz" in page.data
    assert b'id="case-1"' in page.data
    regulator = get(cc_client, "/api/v1/reports/regulator", reg).json
    assert regulator["mining"]["farms"] == 2 and regulator["mining"]["cases_closed"] == 1
    assert get(cc_client, "/api/v1/ledger/verify", op).json["ok"]


def test_a_farms_licence_is_in_the_register_and_the_regulator_suspends_it_like_any_other(cc_client, cc):
    op, reg = cc.keys["operator"], cc.keys["regulator"]
    cc.onboard(actor="licensed-farm", kyc_tier="full", deposits={"BTC": 1_000_000})
    cc.register_farm(farm="licensed-farm", location="pavlodar", hashrate_ths=100, efficiency_j_per_th=34)
    page = get(cc_client, "/api/v1/licences?limit=200", reg).json["items"]
    row = next(item for item in page if item["id"] == "MDDIAI-DM-licensed-farm")
    assert (row["holder"], row["scope"], row["status"]) == ("licensed-farm", "digital_mining", "active")
    assert row["regulator_name"] == "Ministry of Digital Development, Innovation and Aerospace Industry"
    assert post(cc_client, "/api/v1/licences/MDDIAI-DM-licensed-farm/suspend", reg, "s-1",
                {"reason": "inspection"}).status_code == 200
    refused = post(cc_client, "/api/v1/customers/licensed-farm/orders", op, "o-1",
                   {"instrument": "BTC/KZT", "side": "sell", "type": "market", "qty_minor": 100_000})
    assert refused.json["code"] == "not_licensed", refused.json
    assert any(lic["id"] == "MDDIAI-DM-licensed-farm" for lic in cc.regulator_summary()["licences"])
    assert cc.balances("licensed-farm")["BTC"] == 1_000_000   # the refused sale changed nothing
    cc.verify()
