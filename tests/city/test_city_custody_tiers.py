"""The custodian's hot, warm and cold wallets on the city's regtest chain: a rebalance brings them to the
configuration's 5 / 15 / 80 % with real signed transactions, a second one moves nothing, and a withdrawal
the hot wallet cannot pay is refilled from warm before cold."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sandbox.city import CryptoCity
from sandbox.config import load_config
from sandbox.tables import audit_log

from test_city_kyc_withdrawals import outside_address

BTC = 100_000_000


def _audit(city: CryptoCity, action: str) -> list[dict]:
    with city.ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(select(audit_log.c.details).where(audit_log.c.action == action)
                                .order_by(audit_log.c.seq)).scalars().all()
    return [json.loads(d) for d in rows]


def test_city_rebalance_reaches_five_fifteen_eighty_and_refills_hot_from_warm(db_url):
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    try:
        city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": BTC // 50})
        assert city.custody_tiers().total_minor == 0            # the treasury is mined when first needed
        first = city.withdraw(actor="aigerim", address=outside_address(), amount_minor=300_000, key="w-1")
        assert first["status"] == "confirmed"
        assert [r["from"] for r in _audit(city, "custody.hot_refilled")] == ["cold"]   # no warm wallet yet
        before = city.custody_tiers()
        assert before.shares_bps["cold"] > 9_900

        done = city.rebalance_custody()
        assert [(m.source, m.destination) for m in done.moves] == [("cold", "warm"), ("warm", "hot")]
        assert done.targets_bps == {"hot": 500, "warm": 1_500, "cold": 8_000}
        assert all(abs(done.shares_bps[t] - done.targets_bps[t]) <= 100 for t in ("hot", "warm", "cold"))
        fees = before.total_minor - done.total_minor
        assert 0 < fees < 10_000                                  # two transactions' network fees, nothing lost
        for move in done.moves:
            assert city.btc_node.confirmations(move.txid) >= 1
        assert city.rebalance_custody().moves == ()              # settled: nothing to move, nothing audited
        assert len(_audit(city, "custody.rebalanced")) == 1

        # more than the hot wallet holds: refilled from warm, which holds enough; cold untouched
        held = city.custody_tiers().held_minor
        big = held["hot"] + BTC // 100
        city.deposit(actor="aigerim", asset="BTC", amount_minor=big)
        travel = {"originator_name": "Aigerim A.", "originator_account": "aigerim", "originator_id": "IIN 900101000001",
                  "beneficiary_name": "Aigerim A.", "beneficiary_account": "cold storage"}
        out = city.withdraw(actor="aigerim", address=outside_address(1), amount_minor=big, key="w-2",
                            travel_rule=travel)
        assert out["status"] == "confirmed"
        assert _audit(city, "custody.hot_refilled")[-1]["from"] == "warm"
        assert city.custody_tiers().held_minor["cold"] == held["cold"]
        city.verify()
    finally:
        city.close()


def test_city_custody_tier_shares_must_fit_in_the_whole():
    cfg = load_config("crypto-city")
    with pytest.raises(Exception) as refused:
        type(cfg).model_validate({**cfg.model_dump(mode="json", by_alias=True),
                                  "custody": {**cfg.custody.model_dump(mode="json"), "hot_pct": "60", "warm_pct": "50"}})
    assert "add up to more than 100" in str(refused.value)
