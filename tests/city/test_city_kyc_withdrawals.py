"""KYC tier changes (shared by every process, audited, applied to the next purchase or trade) and BTC
withdrawals paid out on the regtest chain from the exchange's treasury (cold wallet -> hot -> customer)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from sandbox.city import CryptoCity
from sandbox.tables import audit_log
from wallet.keys import HDKeys, MasterSeed

BTC = 100_000_000


def _open(url: str) -> CryptoCity:
    return CryptoCity.from_config("crypto-city", db=url, seed=7)


def _audit(city: CryptoCity, action: str) -> list[dict]:
    with city.ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(select(audit_log.c.subject, audit_log.c.details)
                                .where(audit_log.c.action == action).order_by(audit_log.c.seq)).all()
    return [dict(json.loads(d), subject=s) for s, d in rows]


def outside_address(index: int = 0) -> str:
    """A regtest address the custodian does not own (someone's external wallet)."""
    return HDKeys(MasterSeed.for_sandbox("outside-wallet")).address("bitcoin", "deposit", index)


@pytest.fixture
def two(db_url):
    a, b = _open(db_url), _open(db_url)
    yield a, b
    a.close()
    b.close()


def test_city_kyc_tier_changed_in_one_process_applies_to_the_next_purchase_in_the_other(two):
    a, b = two
    a.onboard(actor="bob", kyc_tier="basic", deposits={"KZT": 300_000_00})
    assert b.pay(actor="bob", merchant="alatau-coffee", amount_minor=60_000_00, ref="tv-1").response_code == "61"
    out = a.set_kyc_tier(actor="bob", kyc_tier="full", reason="documents verified")
    assert out.to_dict() == {"status": "ok", "actor": "bob", "kyc_tier": "full", "previous_kyc_tier": "basic",
                             "changed": True}
    # b cached bob's profile at the first purchase; the decision reads the tier the database holds now
    assert b.pay(actor="bob", merchant="alatau-coffee", amount_minor=60_000_00, ref="tv-2").status == "approved"
    assert b.profile("bob").kyc_tier == "full"
    assert a.set_kyc_tier(actor="bob", kyc_tier="full")["changed"] is False   # nothing to change, not audited
    b.set_kyc_tier(actor="bob", kyc_tier="none", reason="sanctions hit")
    declined = a.pay(actor="bob", merchant="alatau-coffee", amount_minor=1_000_00, ref="tv-3")
    assert declined.status == "declined"
    with pytest.raises(Exception) as no_trading:
        a.buy(actor="bob", instrument="BTC/KZT", quote_qty_minor=1_000_00)
    assert no_trading.value.code == "kyc_not_permitted"
    changes = _audit(a, "customer.kyc_changed")
    assert [(c["from_tier"], c["to_tier"], c["reason"]) for c in changes] == [
        ("basic", "full", "documents verified"), ("full", "none", "sanctions hit")]
    with pytest.raises(Exception) as bad:
        a.set_kyc_tier(actor="bob", kyc_tier="platinum")
    assert bad.value.code == "invalid_kyc_tier" and "none, basic, full" in str(bad.value)
    with pytest.raises(Exception) as unknown:
        a.set_kyc_tier(actor="nobody", kyc_tier="full")
    assert unknown.value.code == "unknown_actor"
    reopened = _open(a.db.url)
    try:
        assert reopened.profile("bob").kyc_tier == "none"
    finally:
        reopened.close()
    a.verify()


def test_city_withdrawal_is_paid_on_chain_from_the_treasury_and_confirmed(db_url):
    city = _open(db_url)
    try:
        city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": BTC // 50, "KZT": 1_000_00})
        dest = outside_address()
        first = city.withdraw(actor="aigerim", address=dest, amount_minor=300_000, key="w-1")
        assert first["status"] == "confirmed" and first["fee_minor"] > 0 and first["address"] == dest
        assert city.btc_node.confirmations(first["txid"]) >= city.cfg.custody.confirmations["BTC"]
        assert city.btc_node.balance_sat([dest]) == 300_000
        assert city.balances("aigerim")["BTC"] == BTC // 50 - 300_000 - first["fee_minor"]
        # the same key and request: the same withdrawal, nothing sent twice
        assert city.withdraw(actor="aigerim", address=dest, amount_minor=300_000, key="w-1") == first
        assert city.btc_node.balance_sat([dest]) == 300_000
        with pytest.raises(Exception) as conflict:
            city.withdraw(actor="aigerim", address=dest, amount_minor=300_001, key="w-1")
        assert conflict.value.code == "idempotency_conflict"
        before = city.balances("aigerim")
        assert city.ctx.value_kzt("BTC", 1_200_000) >= city.cfg.custody.travel_rule_threshold_minor
        for kwargs, code in (({"asset": "USDT"}, "withdrawal_asset_not_supported"),
                             ({"amount_minor": 100}, "dust_amount"),
                             ({"address": dest[:-1] + ("q" if dest[-1] != "q" else "p")}, "bad_address"),
                             ({"amount_minor": BTC}, "travel_rule_required"),
                             ({"amount_minor": 1_200_000, "travel_rule": {"originator_name": "A"}},
                              "travel_rule_required")):
            args = {"actor": "aigerim", "address": dest, "amount_minor": 100_000, "key": f"bad-{code}", **kwargs}
            with pytest.raises(Exception) as refused:
                city.withdraw(**args)
            assert refused.value.code == code, (kwargs, refused.value)
        assert city.balances("aigerim") == before
        # the treasury: mined once to the cold wallet, the custodian's own coins; the chain matches the ledger
        assert [t["amount_minor"] for t in _audit(city, "custody.treasury_funded")] == [50 * BTC]
        reserves = city.custodian.reserves_report("BTC")
        assert reserves["ledger_onchain_minor"] == reserves["onchain_minor"]
        # not a disposal: the tax statement has no line for it, but the coins' cost basis leaves with them
        entries = _audit(city, "funds.withdrawal")
        withdrawn = 300_000 + first["fee_minor"]
        assert len(entries) == 1 and entries[0]["txid"] == first["txid"]
        assert entries[0]["tax"] == [{"kind": "transfer_out", "asset": "BTC", "qty_minor": withdrawn, "kzt_minor": 0,
                                      "source": "transfer_out", "ref": f"withdrawal:{first['id']}"}]
        assert city.tax_statement("aigerim", 2025).lines == []
        deposit_cost = [e for d in _audit(city, "funds.deposit") if d["customer"] == "aigerim"
                        for e in d["tax"] if e["asset"] == "BTC"][0]["kzt_minor"]
        city.sell(actor="aigerim", instrument="BTC/KZT", qty_minor=100_000)
        [line] = city.tax_statement("aigerim", 2025).lines
        left_qty = BTC // 50 - withdrawn
        left_cost = deposit_cost - deposit_cost * withdrawn // (BTC // 50)
        assert line.qty_minor == 100_000 and line.cost_basis_kzt_minor == left_cost * 100_000 // left_qty
        assert [w["id"] for w in city.withdrawals("aigerim")] == [first["id"]]
        city.verify()
    finally:
        city.close()
