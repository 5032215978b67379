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
def pilot(db_url):
    city = _city(db_url)
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


# ------------------------------------------------------------------ incremental authorization
def test_an_increment_raises_the_hold_and_sells_crypto_for_the_new_shortfall(pilot):
    first = pilot.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=40_000_00, ref="hotel")
    assert first.status == "approved" and first.shortfall_minor == 0
    before = pilot.balances("aigerim")
    mark = pilot.last_event_id()
    more = pilot.increment(ref="hotel", amount_minor=30_000_00, key="night-2")
    assert (more.status, more.response_code, more.increment_minor, more.amount_minor) == (
        "approved", "00", 30_000_00, 70_000_00)
    # 10 000 KZT were left on the bank account: the other 20 000 (and the 1% fee) came from USDT
    assert more.shortfall_minor == 20_000_00 and more.conversion_fee_minor == 200_00
    assert [leg["asset"] for leg in more.sold] == ["USDT"]
    after = pilot.balances("aigerim")
    assert after["USDT"] < before["USDT"] and after["KZT"] < 1_000_00
    again = pilot.increment(ref="hotel", amount_minor=30_000_00, key="night-2")
    assert again.replayed and again.response_code == "00" and pilot.balances("aigerim") == after
    assert [(e["type"], e["data"]["amount_minor"]) for e in pilot.events(after=mark)] == [
        ("authorization.incremented", 70_000_00)]
    captured = pilot.capture(ref="hotel")
    assert (captured.captured_minor, captured.status) == (70_000_00, "captured")
    [line] = pilot.cards.customer_statement("aigerim")
    assert [h["kind"] for h in line["history"]] == ["authorized", "incremented", "captured"]
    assert [h["message_type"] for h in line["history"]] == ["0100", "0100", "0220"]
    assert line["amount_minor"] == 70_000_00 and [leg["asset"] for leg in line["crypto_sold"]] == ["USDT"]
    pilot.verify()


def test_an_increment_that_cannot_be_funded_declines_51_and_changes_nothing(pilot):
    pilot.onboard(actor="bob", kyc_tier="full", deposits={"KZT": 15_000_00, "USDT": 10_000_000})
    pilot.pay(actor="bob", merchant="alatau-coffee", amount_minor=10_000_00, ref="car")
    before = pilot.balances("bob")
    mark = pilot.last_event_id()
    # 5 000 KZT and 10 USDT cannot fund 100 000 KZT more
    denied = pilot.increment(ref="car", amount_minor=100_000_00, key="week-2")
    assert (denied.status, denied.response_code, denied.amount_minor) == ("declined", "51", 10_000_00)
    assert pilot.balances("bob") == before
    assert [e["type"] for e in pilot.events(after=mark)] == ["authorization.increment_declined"]
    again = pilot.increment(ref="car", amount_minor=100_000_00, key="week-2")
    assert again.replayed and again.response_code == "51" and again.reason == denied.reason
    # the per-transaction limit (250 000 KZT in the preset) applies to the authorization's new total
    over = pilot.increment(ref="car", amount_minor=245_000_00, key="week-3")
    assert over.response_code == "61" and "per-transaction limit" in over.reason
    assert pilot.balances("bob") == before
    assert pilot.capture(ref="car").captured_minor == 10_000_00
    [line] = pilot.cards.customer_statement("bob")
    assert [h["kind"] for h in line["history"]] == ["authorized", "increment_denied", "increment_denied", "captured"]
    pilot.verify()


def test_an_increment_of_a_captured_or_frozen_cards_authorization_is_refused(pilot):
    from card.errors import InvalidAuthorizationState
    pilot.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_000_00, ref="done")
    pilot.capture(ref="done")
    with pytest.raises(InvalidAuthorizationState):
        pilot.increment(ref="done", amount_minor=100_00)
    pilot.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_000_00, ref="open")
    card_id = pilot.cards.customer_statement("aigerim")[0]["card_id"]
    pilot.freeze_card(card_id=card_id, by="aigerim")
    frozen = pilot.increment(ref="open", amount_minor=100_00)
    assert frozen.response_code == "62"
    pilot.verify()


# ------------------------------------------------------------------ authorization advice
def test_an_advice_is_booked_from_tenge_then_crypto_and_the_rest_becomes_a_debt(pilot):
    pilot.onboard(actor="bob", kyc_tier="basic", deposits={"KZT": 5_000_00, "USDT": 10_000_000})
    mark = pilot.last_event_id()
    booked = pilot.advise(actor="bob", merchant="alatau-coffee", amount_minor=20_000_00, ref="stand-in-1")
    assert (booked.status, booked.response_code) == ("approved", "00") and "stand-in" in booked.reason
    assert booked.tenge_minor == 5_000_00 and booked.crypto_minor > 0 and booked.debt_minor > 0
    assert booked.tenge_minor + booked.crypto_minor + booked.debt_minor == 20_000_00
    assert [leg["asset"] for leg in booked.sold] == ["USDT"]
    after = pilot.balances("bob")
    assert after["USDT"] >= 0 and after["USDT"] < 10_000 and after["KZT"] == 0   # all sold, all held, nothing below 0
    assert pilot.card_debt("bob") == booked.debt_minor
    assert pilot.account_balance(f"external:card-credit/{_bank_of(pilot, 'bob')}:KZT") == -booked.debt_minor
    [event] = pilot.events(after=mark)
    assert event["type"] == "authorization.advice_booked"
    assert event["data"]["debt_minor"] == booked.debt_minor and event["data"]["tenge_minor"] == 5_000_00
    again = pilot.advise(actor="bob", merchant="alatau-coffee", amount_minor=20_000_00, ref="stand-in-1")
    assert again.replayed and (again.debt_minor, again.crypto_minor) == (booked.debt_minor, booked.crypto_minor)
    assert pilot.events(after=mark) == [event] and pilot.card_debt("bob") == booked.debt_minor
    # cleared like any purchase; the statement shows the loan
    assert pilot.capture(ref="stand-in-1").captured_minor == 20_000_00
    [line] = pilot.cards.customer_statement("bob")
    assert [h["kind"] for h in line["history"]] == ["advice_booked", "credit_lent", "captured"]
    assert [h["message_type"] for h in line["history"]] == ["0120", None, "0220"]   # ISO 8583
    assert line["history"][1]["amount_minor"] == booked.debt_minor
    # the debt is an open receivable until repaid from the bank account
    pilot.deposit(actor="bob", asset="KZT", amount_minor=50_000_00)
    assert pilot.card_debt("bob") == booked.debt_minor
    repaid = pilot.repay_card_debt(actor="bob")
    assert (repaid.repaid_minor, repaid.debt_minor) == (booked.debt_minor, 0)
    assert pilot.balances("bob")["KZT"] == 50_000_00 - booked.debt_minor and pilot.card_debt("bob") == 0
    pilot.verify()


def test_an_advice_on_a_frozen_card_with_no_crypto_is_booked_all_on_credit(pilot):
    pilot.onboard(actor="dana", kyc_tier="basic", deposits={"KZT": 1_000_00})
    dana_card = pilot.advise(actor="dana", merchant="alatau-coffee", amount_minor=500_00, ref="small")
    assert (dana_card.tenge_minor, dana_card.debt_minor) == (500_00, 0)   # covered: no debt
    pilot.freeze_card(card_id=_card_of(pilot, "dana"), by="dana")
    mark = pilot.last_event_id()
    big = pilot.advise(actor="dana", merchant="alatau-coffee", amount_minor=3_000_00, ref="big")
    assert [e["type"] for e in pilot.events(after=mark)] == ["authorization.advice_booked"]
    assert (big.tenge_minor, big.crypto_minor, big.debt_minor) == (500_00, 0, 2_500_00)
    assert pilot.balances("dana")["KZT"] == 0 and pilot.card_debt("dana") == 2_500_00
    # a reversal releases the hold: the loan stays in the bank account, and repays the debt
    pilot.reverse(ref="big")
    assert pilot.repay_card_debt(actor="dana", amount_minor=1_000_00).debt_minor == 1_500_00
    assert pilot.repay_card_debt(actor="dana").debt_minor == 0
    booked = [e["data"] for e in pilot.events(types=["authorization.advice_booked"])]
    assert [(d["reference"], d["debt_minor"]) for d in booked] == [("small", 0), ("big", 2_500_00)]
    pilot.verify()


def test_an_advice_for_an_unknown_card_or_merchant_is_refused_and_changes_nothing(pilot):
    from card.errors import MerchantNotFound
    from sandbox.services import advices
    before = pilot.balances("aigerim")
    with pytest.raises(MerchantNotFound):
        pilot.advise(actor="aigerim", merchant="nowhere-shop", amount_minor=100_00, ref="x")
    with pytest.raises(Exception) as refused:
        pilot.run(advices.book, merchant_id="alatau-coffee", amount_minor=100_00, ref="y", card_id=999)
    assert refused.value.code == "card_not_found"
    assert pilot.balances("aigerim") == before
    pilot.verify()


def _bank_of(city: CryptoCity, actor: str) -> int:
    from card import issuing
    return city.read(lambda ctx, uow: issuing.bank_account_of(uow, actor).ledger_account_id)


def _card_of(city: CryptoCity, actor: str) -> int:
    from sandbox.services import customers
    return city.read(lambda ctx, uow: customers.require(uow, actor).card_id)
