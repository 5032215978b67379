"""The in-memory order book of one instrument: price levels indexed by price, each a FIFO queue.

Strict price-time priority: better price first, then lower ``priority`` (arrival sequence) first.
Levels live in a dict keyed by price beside a ``SortedList`` of those prices, so the best price, depth
and a walk in priority order cost what they read, never the whole book. Each level's queue is an ``OrderedDict`` keyed by order id:
a cancel removes its order at once (O(1)), so the book holds exactly the live orders and levels —
memory and walking time follow the live book however many orders came and went before.

The book is a cache of the database: ``seq`` is the instrument sequence number it reflects.
"""
from __future__ import annotations

from collections import OrderedDict

from sortedcontainers import SortedList

BUY, SELL = "buy", "sell"


class Order:
    __slots__ = ("id", "owner", "side", "price", "qty", "remaining", "priority", "hold_id", "hold_left",
                 "post_only", "live")

    def __init__(self, id: int, owner: str, side: str, price: int | None, qty: int, priority: int = 0,
                 hold_id: int | None = None, hold_left: int = 0, post_only: bool = False) -> None:
        self.id = id
        self.owner = owner
        self.side = side
        self.price = price
        self.qty = qty
        self.remaining = qty
        self.priority = priority
        self.hold_id = hold_id
        self.hold_left = hold_left     # funds still reserved by the order's ledger hold
        self.post_only = post_only
        self.live = False

    def __repr__(self) -> str:
        return f"Order({self.id}, {self.owner}, {self.side} {self.remaining}@{self.price})"


class Level:
    __slots__ = ("orders", "qty")

    def __init__(self) -> None:
        self.orders: OrderedDict[int, Order] = OrderedDict()   # order id -> order, oldest first
        self.qty = 0


class Book:
    __slots__ = ("symbol", "bids", "asks", "bid_prices", "ask_prices", "_best_bid", "_best_ask", "orders", "seq",
                 "next_priority")

    def __init__(self, symbol: str, seq: int = 0) -> None:
        self.symbol = symbol
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_prices = SortedList()   # the prices of ``bids``, ascending: best bid last
        self.ask_prices = SortedList()   # the prices of ``asks``, ascending: best ask first
        self._best_bid: int | None = None   # bid_prices[-1], kept at hand: every order asks for it
        self._best_ask: int | None = None   # ask_prices[0]
        self.orders: dict[int, Order] = {}
        self.seq = seq
        self.next_priority = 1

    # -- queries -----------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        return self._best_bid

    def best_ask(self) -> int | None:
        return self._best_ask

    def mid(self) -> int | None:
        b, a = self._best_bid, self._best_ask
        return None if b is None or a is None else (b + a) // 2

    def price_at(self, side: str, rank: int) -> int | None:
        """The price of ``side``'s level number ``rank`` (0: the best), None past the last."""
        prices = self.bid_prices if side == BUY else self.ask_prices
        if rank >= len(prices):
            return None
        if rank == 0:
            return self._best_bid if side == BUY else self._best_ask
        return prices[-1 - rank] if side == BUY else prices[rank]

    def _prices(self, side: str):
        """Prices of ``side``'s levels, best first."""
        return reversed(self.bid_prices) if side == BUY else iter(self.ask_prices)

    def depth(self, levels: int = 20) -> dict:
        """L2 depth: up to ``levels`` price levels a side as ``(price, qty_minor)``, best first."""
        out = {}
        for side, name, book_side in ((BUY, "bids", self.bids), (SELL, "asks", self.asks)):
            out[name] = [(p, book_side[p].qty) for p, _ in zip(self._prices(side), range(levels))]
        return out

    def walk(self, side: str):
        """Resting orders of ``side`` in priority order (best price, then oldest). The book must not
        change while the walk runs."""
        levels = self.bids if side == BUY else self.asks
        for p in self._prices(side):
            yield from levels[p].orders.values()

    def snapshot(self) -> list[tuple]:
        """Everything that defines the book (for comparing a rebuilt book with a live one)."""
        return [(o.side, o.price, o.priority, o.id, o.owner, o.remaining) for side in (BUY, SELL)
                for o in self.walk(side)]

    def entries(self) -> int:
        """How many entries the book stores (price index, levels, queued orders): proportional to the
        live orders however many came and went."""
        return (len(self.bid_prices) + len(self.ask_prices)
                + sum(1 + len(level.orders) for side in (self.bids, self.asks) for level in side.values()))

    # -- mutations ---------------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level (its priority must already be set)."""
        price = order.price
        if order.side == BUY:
            level = self.bids.get(price)
            if level is None:
                level = self.bids[price] = Level()
                self.bid_prices.add(price)
                if self._best_bid is None or price > self._best_bid:
                    self._best_bid = price
        else:
            level = self.asks.get(price)
            if level is None:
                level = self.asks[price] = Level()
                self.ask_prices.add(price)
                if self._best_ask is None or price < self._best_ask:
                    self._best_ask = price
        level.orders[order.id] = order
        level.qty += order.remaining
        order.live = True
        self.orders[order.id] = order
        if order.priority >= self.next_priority:
            self.next_priority = order.priority + 1

    def remove(self, order: Order) -> None:
        """Take a resting order off the book (cancel, expiry, self-trade prevention, filled in full)."""
        if not order.live:
            return
        order.live = False
        del self.orders[order.id]
        price = order.price
        levels = self.bids if order.side == BUY else self.asks
        level = levels[price]
        del level.orders[order.id]
        level.qty -= order.remaining
        if not level.orders:
            del levels[price]
            if order.side == BUY:
                self.bid_prices.remove(price)
                if price == self._best_bid:
                    self._best_bid = self.bid_prices[-1] if self.bid_prices else None
            else:
                self.ask_prices.remove(price)
                if price == self._best_ask:
                    self._best_ask = self.ask_prices[0] if self.ask_prices else None

    def fill(self, order: Order, qty_minor: int) -> None:
        """A resting order traded ``qty_minor``: lower it, and take it off the book once done."""
        if order.remaining == qty_minor:
            self.remove(order)
            order.remaining = 0
            return
        order.remaining -= qty_minor
        (self.bids if order.side == BUY else self.asks)[order.price].qty -= qty_minor

    def reduce(self, order: Order, new_remaining: int) -> None:
        """Lower a resting order's quantity in place: it keeps its place in the queue."""
        levels = self.bids if order.side == BUY else self.asks
        levels[order.price].qty -= order.remaining - new_remaining
        order.remaining = new_remaining
