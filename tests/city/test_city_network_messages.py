"""Network messages on demand through the facade: ATM withdrawals and P2P transfers under the pilot's
programme and under one that permits them; incremental authorization; authorization advice."""
from __future__ import annotations

import pytest

from sandbox.city import CryptoCity
from sandbox.config import load_config


def _city(url: str, **card) -> CryptoCity:
    cfg = load_config("crypto-city")
    if card:
        cfg = cfg.model_copy(update={"card": cfg.card.model_copy(update=card)})
    city = CryptoCity.from_config(cfg, db=url, seed=7)
    city.register_merchant(merchant_id="halyk-atm", name="Halyk ATM", mcc="6011")
    city.register_merchant(merchant_id="kaspi-p2p", name="Kaspi transfers", mcc="4829")
    return city


def _types(city: CryptoCity, mark: str | None) -> list[str]:
    return [e["type"] for e in city.events(after=mark)]


@pytest.fixture
def pilot(sqlite_url):
    city = _city(sqlite_url)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 50_000_00, "USDT": 500_000_000})
    yield city
    city.close()


def test_an_atm_withdrawal_and_a_p2p_transfer_decline_57_under_the_pilots_programme(pilot):
    before = pilot.balances("aigerim")
    mark = pilot.last_event_id()
    cash = pilot.pay(actor="aigerim", merchant="halyk-atm", amount_minor=10_000_00, ref="cash-1")
    assert (cash.status, cash.response_code, cash.kind) == ("declined", "57", "atm_withdrawal")
    assert cash.reason == "ATM withdrawals (cash) are not permitted under this card programme"
    p2p = pilot.pay(actor="aigerim", merchant="kaspi-p2p", amount_minor=1_000_00, ref="p2p-1")
    assert (p2p.response_code, p2p.kind) == ("57", "p2p") and "person-to-person" in p2p.reason
    # labelling the message a purchase does not get cash past the programme: the ATM's category decides
    labelled = pilot.pay(actor="aigerim", merchant="halyk-atm", amount_minor=1_000_00, ref="cash-2", kind="purchase")
    assert (labelled.response_code, labelled.kind) == ("57", "atm_withdrawal")
    # a withdrawal asked for at a shop is still refused by the pilot
    asked = pilot.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_000_00, ref="cash-3",
                      kind="atm_withdrawal")
    assert (asked.response_code, asked.kind) == ("57", "atm_withdrawal")
    assert pilot.balances("aigerim") == before
    created = [e["data"] for e in pilot.events(after=mark, types=["authorization.created"])]
    assert [(d["kind"], d["response_code"]) for d in created] == [
        ("atm_withdrawal", "57"), ("p2p", "57"), ("atm_withdrawal", "57"), ("atm_withdrawal", "57")]
    statement = pilot.cards.customer_statement("aigerim")
    assert [line["status"] for line in statement] == ["declined"] * 4
    pilot.verify()


def test_a_programme_that_permits_atm_withdrawals_debits_cash_and_sells_crypto_just_in_time(sqlite_url):
    city = _city(sqlite_url, allow_atm=True)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 5_000_00, "USDT": 500_000_000})
    mark = city.last_event_id()
    cash = city.pay(actor="aigerim", merchant="halyk-atm", amount_minor=20_000_00, ref="cash-1")
    assert (cash.status, cash.response_code, cash.kind) == ("approved", "00", "atm_withdrawal")
    assert cash.shortfall_minor == 15_000_00 and cash.sold and cash.sold[0]["asset"] == "USDT"
    city.capture(ref="cash-1")
    assert city.account_balance("merchant:halyk-atm:KZT") > 0
    # P2P is still the pilot's: not permitted
    p2p = city.pay(actor="aigerim", merchant="kaspi-p2p", amount_minor=1_000_00, ref="p2p-1")
    assert p2p.response_code == "57"
    created = [e for e in city.events(after=mark) if e["type"] == "authorization.created"]
    assert [(e["data"]["kind"], e["data"]["response_code"]) for e in created] == [("atm_withdrawal", "00"),
                                                                                 ("p2p", "57")]
    assert "authorization.captured" in _types(city, mark)
    city.verify()
    city.close()


def test_a_programme_that_permits_p2p_approves_a_transfer(sqlite_url):
    city = _city(sqlite_url, allow_p2p=True)
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 50_000_00})
    p2p = city.pay(actor="aigerim", merchant="kaspi-p2p", amount_minor=1_000_00, ref="p2p-1")
    assert (p2p.status, p2p.kind) == ("approved", "p2p")
    assert city.pay(actor="aigerim", merchant="halyk-atm", amount_minor=1_000_00, ref="cash-1").response_code == "57"
    city.verify()
    city.close()
