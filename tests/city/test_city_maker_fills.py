"""A customer's resting order traded by someone else's — another customer's market order or the card's
just-in-time sale — is the customer's own acquisition or disposal: it reaches their tax statement, and
they hear of it (``trade.created`` as maker, ``order.filled`` when nothing is left)."""
from __future__ import annotations

import pytest

from sandbox.city import CryptoCity


@pytest.fixture
def city(tmp_path):
    c = CryptoCity.from_config("crypto-city", db=f"sqlite:///{tmp_path / 'city.db'}", seed=7)
    yield c
    c.close()


def _inside_spread(city) -> int:
    depth = city.exchange.depth("BTC/KZT")
    tick = city.exchange.instruments.get("BTC/KZT").tick_size
    return (depth["bids"][0][0] + depth["asks"][0][0]) // 2 // tick * tick


def _mine(city, actor, type_):
    return [e for e in city.events(types=[type_]) if e["data"].get("customer") == actor]


def test_a_resting_sell_filled_by_another_customer_is_a_disposal_and_an_event(city):
    city.onboard(actor="ana", kyc_tier="full", deposits={"BTC": 1_000_000})
    city.onboard(actor="ben", kyc_tier="full", deposits={"KZT": 10_000_000_00})
    price = _inside_spread(city)
    rest = city.place_order(actor="ana", instrument="BTC/KZT", side="sell", type="limit", qty_minor=50_000,
                            price_minor=price, tif="GTC")
    assert rest.status == "open"
    city.buy(actor="ben", instrument="BTC/KZT", quote_qty_minor=100_000_00)   # takes ana's order first, whole
    lines = city.tax_statement("ana", city.now().year).lines
    assert [(line.asset, line.qty_minor, line.reference) for line in lines] == [("BTC", 50_000, f"order {rest.order_id}")]
    trades = _mine(city, "ana", "trade.created")
    assert [(t["data"]["liquidity"], t["data"]["qty_minor"], t["data"]["order_id"]) for t in trades] == \
        [("maker", 50_000, rest.order_id)]
    net = trades[0]["data"]["notional_minor"] - trades[0]["data"]["fee_minor"]
    assert lines[0].proceeds_kzt_minor == net                 # proceeds net of the maker fee
    assert [e["data"]["order_id"] for e in _mine(city, "ana", "order.filled")] == [rest.order_id]
    city.verify()


def test_a_card_sale_that_hits_a_customers_bid_is_their_acquisition(city):
    city.onboard(actor="ana", kyc_tier="full", deposits={"KZT": 10_000_000_00})
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 1_000_000})
    price = _inside_spread(city)
    bid = city.place_order(actor="ana", instrument="BTC/KZT", side="buy", type="limit", qty_minor=200_000,
                           price_minor=price, tif="GTC")
    assert bid.status == "open"
    paid = city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee")
    assert paid.status == "approved" and paid.sold[0]["asset"] == "BTC"
    trades = _mine(city, "ana", "trade.created")
    assert trades and all(t["data"]["liquidity"] == "maker" and t["data"]["side"] == "buy" for t in trades)
    bought = sum(t["data"]["qty_minor"] for t in trades)
    assert bought == paid.sold[0]["sold_qty_minor"]               # the card's whole sale went to ana's bid
    assert _mine(city, "ana", "order.filled") == []          # her bid is only partly filled
    # ana's lot is what a later sale of hers is measured against: it has her cost, fee included
    city.cancel_order(order_id=bid.order_id)   # (or her sale would meet her own bid)
    city.place_order(actor="ana", instrument="BTC/KZT", side="sell", type="market", qty_minor=bought)
    line, = city.tax_statement("ana", city.now().year).lines
    cost = sum(t["data"]["notional_minor"] + t["data"]["fee_minor"] for t in trades)
    assert line.qty_minor == bought and line.cost_basis_kzt_minor == cost and line.basis_unknown_qty_minor == 0
    city.verify()


def test_market_makers_fills_write_nothing_of_the_kind(city):
    city.onboard(actor="aigerim", kyc_tier="full", deposits={"BTC": 1_000_000})
    before = city.last_event_id()
    city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee")
    assert [e["type"] for e in city.events(after=before)] == ["authorization.created"]
    city.verify()
