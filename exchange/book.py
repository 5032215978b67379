"""The in-memory order book of one instrument: price levels of FIFO queues, best prices from heaps.

Strict price-time priority: better price first, then lower ``priority`` (arrival sequence) first.
Cancelled orders are removed lazily from their queue (flagged dead, skipped when reached) so a
cancel is O(1); a level disappears as soon as its live quantity reaches zero.

The book is a cache of the database: ``seq`` is the instrument sequence number it reflects.
"""
from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

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
        self.orders: deque[Order] = deque()
        self.qty = 0


class Book:
    __slots__ = ("symbol", "bids", "asks", "_bid_heap", "_ask_heap", "orders", "seq", "next_priority")

    def __init__(self, symbol: str, seq: int = 0) -> None:
        self.symbol = symbol
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self._bid_heap: list[int] = []   # negated prices
        self._ask_heap: list[int] = []
        self.orders: dict[int, Order] = {}
        self.seq = seq
        self.next_priority = 1

    # -- queries -----------------------------------------------------------------------------
    def best_bid(self) -> int | None:
        heap, levels = self._bid_heap, self.bids
        while heap:
            p = -heap[0]
            if p in levels:
                return p
            heappop(heap)
        return None

    def best_ask(self) -> int | None:
        heap, levels = self._ask_heap, self.asks
        while heap:
            p = heap[0]
            if p in levels:
                return p
            heappop(heap)
        return None

    def mid(self) -> int | None:
        b, a = self.best_bid(), self.best_ask()
        return None if b is None or a is None else (b + a) // 2

    def depth(self, levels: int = 20) -> dict:
        """L2 depth: up to ``levels`` price levels a side as ``(price, qty_minor)``, best first."""
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])[:levels]
        asks = sorted(self.asks.items())[:levels]
        return {"bids": [(p, lv.qty) for p, lv in bids], "asks": [(p, lv.qty) for p, lv in asks]}

    def walk(self, side: str):
        """Resting orders of ``side`` in priority order (best price, then oldest)."""
        levels = self.bids if side == BUY else self.asks
        for p in sorted(levels, reverse=side == BUY):
            for o in levels[p].orders:
                if o.live:
                    yield o

    def snapshot(self) -> list[tuple]:
        """Everything that defines the book (for comparing a rebuilt book with a live one)."""
        return [(o.side, o.price, o.priority, o.id, o.owner, o.remaining) for side in (BUY, SELL)
                for o in self.walk(side)]

    # -- mutations ---------------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level (its priority must already be set)."""
        levels = self.bids if order.side == BUY else self.asks
        level = levels.get(order.price)
        if level is None:
            level = levels[order.price] = Level()
            heappush(self._bid_heap if order.side == BUY else self._ask_heap,
                     -order.price if order.side == BUY else order.price)
        level.orders.append(order)
        level.qty += order.remaining
        order.live = True
        self.orders[order.id] = order
        if order.priority >= self.next_priority:
            self.next_priority = order.priority + 1

    def remove(self, order: Order) -> None:
        """Take a resting order off the book (cancel, expiry, self-trade prevention)."""
        if not order.live:
            return
        order.live = False
        del self.orders[order.id]
        levels = self.bids if order.side == BUY else self.asks
        level = levels[order.price]
        level.qty -= order.remaining
        if level.qty == 0:
            del levels[order.price]
        elif level.orders[0] is order:
            level.orders.popleft()

    def reduce(self, order: Order, new_remaining: int) -> None:
        """Lower a resting order's quantity in place: it keeps its place in the queue."""
        levels = self.bids if order.side == BUY else self.asks
        levels[order.price].qty -= order.remaining - new_remaining
        order.remaining = new_remaining
