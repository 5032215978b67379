"""exchange — the licensed AIFC exchange: instruments, order books and matching, fees, market makers
fed by a seeded price model, quotes and instant sell (the card's funding port).

    from exchange import Exchange, Instrument, PriceModel
    ex = Exchange(ledger, [Instrument("BTC/KZT", "BTC", "KZT", tick_size=100_00, lot_size=1_000,
                                      min_notional_minor=100_00)], PriceModel(seed=7))
    with ledger.unit_of_work() as uow:
        ex.place_order(uow, "alice", "BTC/KZT", "buy", "limit", qty_minor=10_000, price_minor=45_000_000_00)
        uow.commit()

Prices are int quote-minor per whole base unit; quantities int base-minor. See fees.py for rounding.
"""
from . import errors
from .book import BUY, SELL, Book, Order
from .instruments import Instrument, InstrumentRegistry, default_instruments
from .market_makers import MarketMaker, MarketMakers
from .matching import EXPIRE_BOTH, EXPIRE_MAKER, EXPIRE_TAKER, FOK, GTC, IOC, LIMIT, MARKET, match
from .price_model import AssetDynamics, PriceModel
from .results import Fill, OrderResult, SaleResult, SellQuote
from .service import Exchange, customer_code

__all__ = ["errors", "BUY", "SELL", "Book", "Order", "Instrument", "InstrumentRegistry", "default_instruments",
           "MarketMaker", "MarketMakers", "EXPIRE_BOTH", "EXPIRE_MAKER", "EXPIRE_TAKER", "FOK", "GTC", "IOC",
           "LIMIT", "MARKET", "match", "AssetDynamics", "PriceModel", "Fill", "OrderResult", "SaleResult",
           "SellQuote", "Exchange", "customer_code"]
