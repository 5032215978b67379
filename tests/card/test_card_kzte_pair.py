"""Card funding through the stablecoin: KZTE held is redeemed at par, and an asset that only trades
against KZTE is sold for KZTE on the exchange and that KZTE redeemed — real exchange, real issuer on
py-evm, the peg checked by ledger.verify() (stablecoin.attestation's check)."""
from __future__ import annotations

import pytest
from web3 import EthereumTesterProvider, Web3

from card import CardService, FundingSettings
from exchange import Exchange, Instrument
from ledger import Database, Ledger
from sandbox.funding import ExchangeFunder
from stablecoin.attestation import install_check
from stablecoin.issuer import Issuer
from stablecoin.token import deploy

from card_helpers import fund, snapshot

ETH_KZTE = Instrument("ETH/KZTE", "ETH", "KZTE", 1_00, 100_000, 100_00, 10, 10, base_decimals=9)
ETH_BID = 1_500_000_00  # 1 500 000.00 KZTE per ETH


@pytest.fixture(scope="module")
def chain():
    w3 = Web3(EthereumTesterProvider())
    owner, minter, custodian = w3.eth.accounts[:3]
    token = deploy(w3, owner)
    token.configure_minter(owner, minter, 10**15)
    return w3, token, dict(owner=owner, minter=minter, custodian=custodian)


@pytest.fixture
def city(chain, db_url, clock):
    w3, token, who = chain
    snap = w3.testing.snapshot()
    db = Database(db_url)
    db.migrate()
    ledger = Ledger(db, clock)
    issuer = Issuer(token, minter=who["minter"], custodian=who["custodian"], owner=who["owner"])
    install_check(ledger, issuer)
    ex = Exchange(ledger, [ETH_KZTE])
    # the market maker's KZTE is minted against tenge it pays into the reserve: no KZTE without backing
    for owner, kzte_minor in (("mm", 100_000_000_00), ("cust:1", 2_000_00)):
        fund(ledger, owner, "KZT", kzte_minor)
        with ledger.unit_of_work() as uow:
            payer = uow.account_by_code(f"customer:{owner}:KZT")
            issuer.mint(uow, owner, None, kzte_minor, f"mint-{owner}", pay_from_account_id=payer.id)
            uow.commit()
    fund(ledger, "mm", "ETH", 100 * 10**9)
    for side, price in (("buy", ETH_BID), ("sell", ETH_BID + 1_000_00)):
        with ledger.unit_of_work() as uow:
            ex.place_order(uow, "mm", "ETH/KZTE", side, "limit", qty_minor=10 * 10**9, price_minor=price)
            uow.commit()
    fund(ledger, "cust:1", "ETH", 10**8)  # 0.1 ETH, about 150 000 KZT
    cards = CardService(ledger, ExchangeFunder(ex, issuer=issuer), deadline_ms=30_000)
    cards.register_merchant("cafe", "Alatau Coffee", "5814", mdr_bps=150)
    card, _cvv = cards.issue_card("cust:1", funding=FundingSettings(order=("KZTE", "ETH"), mode="combine"))
    yield ledger, issuer, cards, card
    db.dispose()
    w3.testing.revert(snap)


def test_card_kzte_first_then_eth_sold_for_kzte_and_redeemed(city):
    ledger, issuer, cards, card = city
    supply_before = issuer.token.total_supply()
    r = cards.authorize(card_id=card.id, amount_minor=10_000_00, merchant_id="cafe", idempotency_key="buy")
    assert r.approved, r.reason
    # 10 000 KZT + 1% = 10 100 needed: the 2 000 KZTE first, at par, then ETH for the other 8 100
    kzte_leg, eth_leg = r.sold
    assert kzte_leg["asset"] == "KZTE" and kzte_leg["proceeds_minor"] == 2_000_00 == kzte_leg["sold_qty_minor"]
    assert eth_leg["asset"] == "ETH" and eth_leg["proceeds_minor"] >= 8_100_00
    s = snapshot(ledger)
    # every KZTE the card raised was burnt: the customer holds none, the supply fell by exactly that
    assert s["customer:cust:1:KZTE"][0] == 0
    assert supply_before - issuer.token.total_supply() == 2_000_00 + eth_leg["proceeds_minor"]
    assert s["customer:cust:1:ETH"][0] == 10**8 - eth_leg["sold_qty_minor"]
    surplus = 2_000_00 + eth_leg["proceeds_minor"] - 10_100_00
    assert s["bank:cust:1:KZT"] == (10_000_00 + surplus, 10_000_00)  # held for the purchase
    cards.capture(r.authorization_id, key="clr")
    assert snapshot(ledger)["merchant:cafe:KZT"][0] == 10_000_00 - 150_00
    ledger.verify()  # includes the peg: KZTE on chain = ledger liability <= tenge reserve


def test_card_kzte_pair_decline_burns_nothing(city):
    ledger, issuer, cards, card = city
    before, supply = snapshot(ledger), issuer.token.total_supply()
    r = cards.authorize(card_id=card.id, amount_minor=400_000_00, merchant_id="cafe", idempotency_key="big")
    assert r.response_code == "51"
    assert snapshot(ledger) == before and issuer.token.total_supply() == supply
    ledger.verify()
