"""The exchange service: validated orders, ledger settlement, persistence and the book cache.

Every write runs inside the CALLER's unit of work (nothing here commits) and follows one path:

1. validate the order in a fixed precedence (see ``_validate``); a refusal changes nothing;
2. take the instrument's lock (``uow.advisory_lock("exchange:BTC/KZT")``) and refresh the in-memory book
   if the database's sequence number moved past it (another process wrote);
3. refuse what cannot happen (post-only would cross, FOK not fillable, no liquidity, no funds) — still
   before anything is written;
4. hold the order's funds in the ledger, insert the order, match in memory, then write fills: each fill
   posts from the seller's base hold to the buyer and from the buyer's quote hold to the seller and the
   fee account, all in the same transaction as the order rows; bump the sequence number.

If the unit of work rolls back, the cached book is dropped and is rebuilt from the database next time.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import and_, func, insert, or_, select, update

from ledger import Ledger, Posting
from ledger.amounts import format_amount
from ledger.errors import InsufficientFunds, LedgerError
from ledger.ids import with_id
from ledger.transfers import request_hash
from ledger.types import to_micros

from . import queries
from . import tables as t
from .book import BUY, SELL, Book, Order
from .errors import (IdempotencyConflict, InsufficientBalance, InvalidOrder, LotSizeViolation,
                     MinNotionalViolation, NoLiquidity, OrderNotFound, OrderNotOpen, PostOnlyWouldCross,
                     SlippageExceeded, TickSizeViolation, TradingHalted, BookFull)
from .errors import (INVALID_AMOUNT, INVALID_CLIENT_ORDER_ID, INVALID_INTERVAL, INVALID_POST_ONLY, INVALID_PRICE,
                     INVALID_PROCEEDS_ACCOUNT, INVALID_QUANTITY, INVALID_SLIPPAGE)
from .fees import BPS, buy_hold_minor, fee_minor, min_qty_for_net_proceeds, notional_minor
from .instruments import Instrument, InstrumentRegistry
from .matching import (BUDGET_SPENT, EXPIRE_TAKER, FOK, GTC, IOC, LIMIT, MARKET, PRICE_LIMIT, SELF_TRADE,
                       STP_MODES, check_enum, execute, prepare)
from .results import MAKER_FILLS, Fill, MakerFill, OrderResult, SaleResult, SellQuote

SIDES, TYPES, TIFS = (BUY, SELL), (LIMIT, MARKET), (GTC, IOC, FOK)
MAX_QTY_MINOR = 10**15            # quantities, quote amounts and budgets: far above any real order, far below BIGINT
MAX_PRICE = 10**15                # quote minor units per whole base unit (BTC/KZT trades near 4.5 * 10**9)
MAX_ID = 2**63 - 1                # ids are BIGINT
MAX_ORDER_FILLS = 500             # fills listed with an order (its totals always count every fill)
MAX_DEPTH_LEVELS = 100
MAX_TRADES_PAGE = 500
MAX_CANDLES = 500
MAX_CLIENT_ID = 64
MARKET_COLLAR_BPS = 500           # default protection: 5% through the best opposite price (Coinbase Prime)
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
FEE_OWNER = "exchange"
_ORDER_IDS, _TRADE_IDS = "exchange_orders_id_seq", "exchange_trades_id_seq"   # the tables' own sequences
SALE_FILLS_AHEAD = 1              # fills of an instant sale whose trade and transfer ids are reserved ahead (most
                                  # sales take one; a sale with more fills writes the others with RETURNING)

# Hot-path statements as parametrised SQL on the unit of work's DBAPI cursor (ledger.fastpath): Core
# spends ~100 µs of Python per statement, more than SQLite spends running it (measured on bench card).
_INSERT_ORDER = (
    "INSERT INTO exchange_orders (symbol, owner, side, type, tif, post_only, price_minor, qty_minor, "
    "remaining_minor, filled_minor, quote_filled_minor, status, reason, priority, hold_id, hold_left_minor, "
    "client_order_id, client_request_hash, created_at, updated_at) VALUES (:symbol, :owner, :side, :type, :tif, "
    ":post_only, :price_minor, :qty_minor, :qty_minor, 0, 0, 'open', NULL, 0, :hold_id, :hold_left_minor, "
    ":client_order_id, :client_hash, :at, :at) RETURNING id")
# An order that cannot rest (IOC, FOK: no hold) written once, in the state its prepared match ends it in.
_INSERT_ORDER_DONE = (
    "INSERT INTO exchange_orders (symbol, owner, side, type, tif, post_only, price_minor, qty_minor, "
    "remaining_minor, filled_minor, quote_filled_minor, status, reason, priority, hold_id, hold_left_minor, "
    "client_order_id, client_request_hash, created_at, updated_at) VALUES (:symbol, :owner, :side, :type, :tif, "
    ":post_only, :price_minor, :qty, :rem, :filled, :qf, :st, :why, 0, NULL, 0, :client_order_id, :client_hash, "
    ":at, :at) RETURNING id")
_INSERT_TRADE = (
    "INSERT INTO exchange_trades (symbol, seq, price_minor, qty_minor, notional_minor, taker_side, maker_order_id, "
    "taker_order_id, buyer, seller, buyer_fee_minor, seller_fee_minor, created_at) VALUES (:symbol, :seq, "
    ":price_minor, :qty_minor, :notional_minor, :taker_side, :maker_order_id, :taker_order_id, :buyer, :seller, :buyer_fee_minor, "
    ":seller_fee_minor, :at) RETURNING id")
_UPDATE_MAKER = (
    "UPDATE exchange_orders SET remaining_minor = :rem, filled_minor = filled_minor + :q, "
    "quote_filled_minor = quote_filled_minor + :n, hold_left_minor = :hl, status = :st, updated_at = :at "
    "WHERE id = :oid")
# A maker still open after a fill: status left alone, so SQLite need not rewrite the (symbol, status) index.
_UPDATE_MAKER_OPEN = (
    "UPDATE exchange_orders SET remaining_minor = :rem, filled_minor = filled_minor + :q, "
    "quote_filled_minor = quote_filled_minor + :n, hold_left_minor = :hl, updated_at = :at WHERE id = :oid")
_UPDATE_TAKER = (
    "UPDATE exchange_orders SET qty_minor = :qty, remaining_minor = :rem, filled_minor = :filled, "
    "quote_filled_minor = :qf, status = :st, reason = :why, priority = :prio, hold_left_minor = :hl, "
    "updated_at = :at WHERE id = :oid")
_UPDATE_BOOK = "UPDATE exchange_books SET seq = :s, next_priority = :np WHERE symbol = :sym"
# The book's row and, unless its sequence number is the one cached (:cached), its open orders in
# priority order: one round trip, and the orders are those of the same snapshot as the sequence number.
_SELECT_BOOK = ("SELECT b.seq, b.next_priority, o.id, o.owner, o.side, o.price_minor, o.qty_minor, "
                "o.remaining_minor, o.priority, o.hold_id, o.hold_left_minor, o.post_only "
                "FROM exchange_books b LEFT JOIN exchange_orders o ON o.symbol = b.symbol AND o.status = 'open' "
                "AND b.seq <> :cached WHERE b.symbol = :sym ORDER BY o.priority")


def _expired_reason(otype: str, stopped: str | None) -> str:
    """Why an order that is not open ended before it was done (``OrderResult.reason`` of status expired)."""
    if stopped == SELF_TRADE:
        return "self_trade_prevention"
    if stopped == BUDGET_SPENT:
        return "budget_below_lot"       # a market buy by quote amount too small for one lot
    if otype == LIMIT:
        return "ioc_unfilled"           # an IOC limit order: nothing more at its price or better
    return "protection_price" if stopped == PRICE_LIMIT else "no_liquidity"


def _check_order_id(order_id: object, owner: str | None = None) -> None:
    """An order id is a positive BIGINT; anything else names no order (and must not reach the database)."""
    if type_(order_id) is not int or not 0 < order_id <= MAX_ID:
        raise OrderNotFound(f"{owner + ' has' if owner else 'there is'} no order {order_id!r}", order_id=order_id)


def customer_code(owner: str, asset: str) -> str:
    return f"customer:{owner}:{asset}"


class Exchange:
    """Order books for ``instruments`` settled in ``ledger``. Thread-safe; any number of instances may
    share one database (each keeps its own book cache, checked against the database on every write)."""

    def __init__(self, ledger: Ledger, instruments: list[Instrument], price_model=None, *,
                 market_collar_bps: int = MARKET_COLLAR_BPS) -> None:
        from .market_makers import MarketMakers
        self.ledger = ledger
        self.instruments = InstrumentRegistry(instruments)
        self.price_model = price_model
        self.market_collar_bps = market_collar_bps
        self.market_makers = MarketMakers(self, price_model)
        self._books: dict[str, Book] = {}
        self._accounts: dict[str, int] = {}
        self._mutex = threading.RLock()
        self._pay_accounts: dict[int, int] = {}  # taker order id -> paying account, while it settles
        self._proceeds_to: dict[int, int] = {}   # instant-sell order id -> account its proceeds settle to
        self._proceeds_split: dict[int, list[int]] = {}  # instant-sell order id -> [account, tiyn still to split off]
        self._proceeds_assets: dict[int, str] = {}  # proceeds account id -> its asset, checked and committed

    # ------------------------------------------------------------------ admin
    def set_trading(self, symbol: str, enabled: bool) -> Instrument:
        """Halt or resume trading on an instrument (orders and instant sells are refused while halted)."""
        inst = self.instruments.get(symbol).with_trading(enabled)
        self.instruments.set(inst)
        return inst

    # ------------------------------------------------------------------ book cache
    def _book(self, uow, symbol: str, *, lock: bool = True) -> Book:
        """The book of ``symbol`` as the database has it now; with ``lock`` the instrument's lock is held."""
        # A book this unit of work already checked against the database while no one else could move it
        # (under the instrument's lock, or in an exclusive unit of work) is still current.
        verified = uow.memo.get(("exchange:book", symbol))
        if verified is not None and (verified[1] or uow.exclusive):
            with self._mutex:
                if self._books.get(symbol) is verified[0]:
                    return verified[0]
        if lock:
            self._lock(uow, symbol)
        with self._mutex:
            cached = self._books.get(symbol)
            cached_seq = -1 if cached is None else cached.seq
        rows = uow.sql.all(_SELECT_BOOK, {"sym": symbol, "cached": cached_seq})
        stored = bool(rows) or lock   # the book's row exists (a first write inserts it just below)
        if not rows:
            if lock:
                uow.conn.execute(insert(t.books).values(symbol=symbol, seq=0, next_priority=1))
            rows = [_NO_BOOK]
        with self._mutex:
            book = self._books.get(symbol)
            if book is None or book.seq != rows[0][0]:
                if rows[0][0] == cached_seq and rows[0] is not _NO_BOOK:
                    # the read left the orders out (the cache was current then), and another thread has
                    # changed or dropped the cache since
                    rows = uow.sql.all(_SELECT_BOOK, {"sym": symbol, "cached": -1}) or [_NO_BOOK]
                book = _built(symbol, rows)
                if lock:
                    self._books[symbol] = book
            if lock or (uow.exclusive and stored):
                uow.memo[("exchange:book", symbol)] = (book, lock)
        return book

    @staticmethod
    def _lock(uow, symbol: str) -> None:
        """The instrument's lock, once per unit of work (on PostgreSQL it goes out with the next statement)."""
        if not uow.memo.get(("exchange:locked", symbol)):
            uow.advisory_lock(f"exchange:{symbol}")
            uow.memo[("exchange:locked", symbol)] = True

    def _touch(self, uow, book: Book) -> None:
        """Record that the book changed: bump the database sequence number (and the cache's with it)."""
        book.seq += 1
        # sent with the next statement (PostgreSQL): nothing reads it back in this unit of work before then
        uow.defer(_UPDATE_BOOK, {"sym": book.symbol, "s": book.seq, "np": book.next_priority})
        symbol = book.symbol

        def drop() -> None:
            with self._mutex:
                if self._books.get(symbol) is book:
                    del self._books[symbol]
        uow.after_rollback(drop)

    def _invalidate(self, symbol: str) -> None:
        with self._mutex:
            self._books.pop(symbol, None)

    def book_snapshot(self, symbol: str) -> list[tuple]:
        """The current book as comparable tuples (side, price, priority, id, owner, remaining)."""
        with self.ledger.unit_of_work(read_only=True) as uow:
            return self._book(uow, symbol, lock=False).snapshot()

    # ------------------------------------------------------------------ accounts
    def _account(self, uow, owner: str, asset: str, *, create: bool, purpose: str = "customer") -> int | None:
        code = f"{purpose}:{owner}:{asset}"
        acct_id = self._accounts.get(code)
        if acct_id is not None:
            return acct_id
        acct = uow.find_account(code)
        if acct is None:
            if not create:
                return None
            acct = uow.open_account(owner, asset, purpose)
        # cache only once committed: a rolled-back account's id may be reused by another account (SQLite)
        uow.after_commit(lambda: self._accounts.__setitem__(code, acct.id))
        return acct.id

    def known_account_id(self, owner: str, asset: str) -> int | None:
        """The id of ``customer:{owner}:{asset}`` if this exchange has used it in a committed unit of work
        (no query; None otherwise): an account's id never changes."""
        return self._accounts.get(customer_code(owner, asset))

    def _fee_account(self, uow, asset: str) -> int:
        return self._account(uow, FEE_OWNER, asset, create=True, purpose="fees")

    # ------------------------------------------------------------------ validation
    def _validate(self, inst: Instrument, side, type, qty_minor, quote_qty_minor, price_minor, tif, post_only,
                  protection_price_minor, stp, client_order_id) -> None:
        """Precedence: halted, side, type, tif, stp, quantity (1..MAX_QTY_MINOR), price (1..MAX_PRICE), tick,
        lot, min notional, post-only, client_order_id."""
        if not inst.trading_enabled:
            raise TradingHalted(f"trading on {inst.symbol} is halted", symbol=inst.symbol)
        check_enum(side, SIDES, "side")
        check_enum(type, TYPES, "type")
        check_enum(tif, TIFS, "tif")
        check_enum(stp, STP_MODES, "stp")
        if (qty_minor is None) == (quote_qty_minor is None):
            raise InvalidOrder("give exactly one of qty_minor or quote_qty_minor", code=INVALID_QUANTITY)
        for name, value in (("qty_minor", qty_minor), ("quote_qty_minor", quote_qty_minor)):
            if value is not None and (type_(value) is not int or not 0 < value <= MAX_QTY_MINOR):
                raise InvalidOrder(f"{name} must be a positive whole number of minor units, not {value!r}",
                                   code=INVALID_QUANTITY)
        if quote_qty_minor is not None and type != MARKET:
            raise InvalidOrder("quote_qty_minor is only for market orders", code=INVALID_QUANTITY)
        if type == LIMIT:
            if type_(price_minor) is not int or not 0 < price_minor <= MAX_PRICE:
                raise InvalidOrder(f"a limit order needs a whole-number price_minor from 1 to {MAX_PRICE:,} quote "
                                   f"minor units, not {price_minor!r}", code=INVALID_PRICE)
        elif price_minor is not None:
            raise InvalidOrder("a market order has no price_minor; give protection_price_minor instead",
                               code=INVALID_PRICE)
        if protection_price_minor is not None and (type_(protection_price_minor) is not int
                                                   or not 0 < protection_price_minor <= MAX_PRICE):
            raise InvalidOrder(f"protection_price_minor must be a whole number from 1 to {MAX_PRICE:,} quote minor "
                               f"units, not {protection_price_minor!r}", code=INVALID_PRICE)
        for p in (price_minor, protection_price_minor):
            if p is not None and p % inst.tick_size:
                raise TickSizeViolation(f"price {p} is not a multiple of the tick size {inst.tick_size}",
                                        price_minor=p, tick_size=inst.tick_size)
        if qty_minor is not None and qty_minor % inst.lot_size:
            raise LotSizeViolation(f"quantity {qty_minor} is not a multiple of the lot size {inst.lot_size}",
                                   qty_minor=qty_minor, lot_size=inst.lot_size)
        ref = price_minor if price_minor is not None else protection_price_minor
        value = quote_qty_minor if quote_qty_minor is not None else (
            notional_minor(ref, qty_minor, inst.base_unit) if ref is not None else None)
        if value is not None and value < inst.min_notional_minor:
            raise MinNotionalViolation(f"order value {value} is below the minimum {inst.min_notional_minor}",
                                       notional_minor=value, min_notional_minor=inst.min_notional_minor)
        if post_only and (type != LIMIT or tif != GTC):
            raise InvalidOrder("post-only applies to GTC limit orders only", code=INVALID_POST_ONLY)
        if client_order_id is not None and (not isinstance(client_order_id, str)
                                            or not 0 < len(client_order_id) <= MAX_CLIENT_ID):
            raise InvalidOrder(f"client_order_id must be 1-{MAX_CLIENT_ID} characters", code=INVALID_CLIENT_ORDER_ID)

    # ------------------------------------------------------------------ orders
    def place_order(self, uow, owner: str, symbol: str, side: str, type: str = LIMIT, qty_minor: int | None = None,
                    quote_qty_minor: int | None = None, price_minor: int | None = None, tif: str = GTC,
                    post_only: bool = False, protection_price_minor: int | None = None,
                    client_order_id: str | None = None, stp: str = EXPIRE_TAKER) -> OrderResult:
        """Place an order for ``owner``; returns what happened (fills, status). Raises a typed error
        (and changes nothing) when the order is refused. ``client_order_id`` makes a retry return the first
        result, and using it again for a different order is refused (``idempotency_conflict``). Market orders
        are IOC with a protection price, ``protection_price_minor`` (default: best opposite ± 5%); market
        buys may give ``quote_qty_minor`` (spend that much quote, fee included), market sells
        ``quote_qty_minor`` (net proceeds wanted)."""
        inst = self.instruments.get(symbol)
        self._validate(inst, side, type, qty_minor, quote_qty_minor, price_minor, tif, post_only,
                       protection_price_minor, stp, client_order_id)
        client = None
        if client_order_id is not None:
            # the order as asked, before defaults are filled in: a retry asks exactly the same
            client = (client_order_id, request_hash([symbol, side, type, qty_minor, quote_qty_minor, price_minor,
                                                     tif, post_only, protection_price_minor, stp]))
            previous = self._by_client_id(uow, owner, *client)
            if previous is not None:
                return previous
        book = self._book(uow, symbol)
        if type == MARKET:
            tif = IOC if tif == GTC else tif
            best = book.best_ask() if side == BUY else book.best_bid()
            if best is None:
                raise NoLiquidity(f"no {'sellers' if side == BUY else 'buyers'} on {symbol} right now",
                                  symbol=symbol)
            if protection_price_minor is None:
                protection_price_minor = self._collar(inst, side, best)
            limit = protection_price_minor
        else:
            limit = price_minor
        budget = None
        if quote_qty_minor is not None and side == SELL:
            qty_minor = self._walk_sell(inst, book, owner, quote_qty_minor, limit)[0]
            quote_qty_minor = None
        if quote_qty_minor is not None:  # market buy spending a quote amount
            budget = (quote_qty_minor, inst.taker_fee_bps, inst.lot_size, inst.base_unit)
            qty_minor = MAX_QTY_MINOR
            hold_amount = quote_qty_minor
        elif side == SELL:
            hold_amount = qty_minor
        else:
            hold_amount = buy_hold_minor(limit, qty_minor, inst.base_unit, max(inst.maker_fee_bps, inst.taker_fee_bps))
        return self._execute(uow, inst, book, owner, side, type, tif, price_minor, limit, qty_minor, hold_amount,
                             budget, post_only, stp, client)

    def _collar(self, inst: Instrument, side: str, best: int) -> int:
        tick = inst.tick_size
        if side == BUY:
            p = best * (BPS + self.market_collar_bps) // BPS
            return max(tick, p - p % tick)
        p = -(-best * (BPS - self.market_collar_bps) // BPS)
        return max(tick, -(-p // tick) * tick)

    def _execute(self, uow, inst: Instrument, book: Book, owner: str, side: str, otype: str, tif: str,
                 price: int | None, limit: int | None, qty_minor: int, hold_amount: int, budget, post_only: bool,
                 stp: str, client: tuple[str, str] | None, proceeds_to: int | None = None,
                 proceeds_split: tuple[int, int] | None = None, balance_read=None, ids=None) -> OrderResult:
        # -- refusals that must happen before anything is written: the match is worked out (post-only
        # would cross, fill-or-kill not fillable) on the book as it is, and applied once the order row exists
        plan = prepare(book, Order(0, owner, side, limit, qty_minor), limit_price=limit, tif=tif,
                       post_only=post_only, stp=stp, quote_budget=budget)
        if tif == GTC and len(book.orders) >= inst.max_resting_orders:
            raise BookFull(f"the {inst.symbol} book holds its maximum of {inst.max_resting_orders} orders",
                           symbol=inst.symbol)
        pay_asset = inst.quote if side == BUY else inst.base
        pay_acct = self._account(uow, owner, pay_asset, create=False)
        if pay_acct is None:
            available = 0
        else:   # read ahead by the caller (instant_sell), or now
            available = (balance_read() if balance_read else uow.balance(pay_acct)).available_minor
        if available < hold_amount:
            raise InsufficientBalance(
                f"{owner} has {format_amount(available, pay_asset, self.ledger.assets)} available; this order "
                f"needs {format_amount(hold_amount, pay_asset, self.ledger.assets)}",
                owner=owner, asset=pay_asset, available_minor=available, needed_minor=hold_amount)
        hold_id, reserved = None, 0
        if tif == GTC:
            # Only an order that may rest needs its funds reserved. An IOC/FOK order settles now, in this
            # unit of work: its legs are plain transfers from the account, which refuse an overdraft
            # themselves (and the whole order rolls back) — a hold would add 8 writes and protect nothing.
            try:
                hold_id, reserved = uow.hold(pay_acct, hold_amount, memo=f"{inst.symbol} {side} order").id, hold_amount
            except InsufficientFunds as error:
                raise InsufficientBalance(str(error), owner=owner, asset=pay_asset) from None
        row = dict(symbol=inst.symbol, owner=owner, side=side, type=otype, tif=tif, post_only=post_only,
                   price_minor=price, qty_minor=qty_minor, hold_id=hold_id, hold_left_minor=reserved,
                   client_order_id=client and client[0], client_hash=client and client[1], at=to_micros(uow.now()))
        written = None
        if hold_id is None and not plan.rests:
            # The match is known before the row is written: write it once, as settling will leave it.
            written = _final_state(otype, qty_minor, plan, budget, inst.base_unit)
            row.update(zip(_FINAL_KEYS, written))
            if ids is not None:   # its id reserved ahead (ledger.ids): no answer to wait for
                order_id = ids()[_ORDER_IDS][0]
                uow.defer(with_id(_INSERT_ORDER_DONE), dict(row, id=order_id))
            else:
                order_id = uow.sql.insert_id(_INSERT_ORDER_DONE, row)
        else:
            order_id = uow.sql.insert_id(_INSERT_ORDER, row)
        taker = Order(order_id, owner, side, limit, qty_minor, 0, hold_id, reserved, post_only)
        self._pay_accounts[order_id] = pay_acct
        if proceeds_to is not None:
            self._proceeds_to[order_id] = proceeds_to
        if proceeds_split is not None:
            self._proceeds_split[order_id] = list(proceeds_split)
        try:
            res = execute(book, taker, plan)
            return self._settle(uow, inst, book, taker, otype, tif, price, qty_minor, res, budget, written,
                                list(ids()[_TRADE_IDS]) if ids is not None else [])
        except BaseException:
            self._invalidate(inst.symbol)   # the book may be half-changed: rebuild from the database
            raise
        finally:
            self._pay_accounts.pop(order_id, None)
            self._proceeds_to.pop(order_id, None)
            self._proceeds_split.pop(order_id, None)

    def _settle(self, uow, inst, book, taker, otype, tif, price, qty_minor, res, budget,
                written: tuple | None = None, trade_ids: list[int] | None = None) -> OrderResult:
        conn = uow.conn
        sql = uow.sql
        now = uow.now()
        at = to_micros(now)
        unit = inst.base_unit
        taker_buys = taker.side == BUY
        base_of = lambda o: self._account(uow, o, inst.base, create=True)   # noqa: E731
        quote_of = lambda o: self._account(uow, o, inst.quote, create=True)  # noqa: E731
        fee_acct = self._fee_account(uow, inst.quote) if res.fills else None
        fills: list[Fill] = []
        filled = quote_filled = taker_fee_total = 0
        maker_updates = []
        for maker, q, p in res.fills:
            n = notional_minor(p, q, unit)
            mf, tf = fee_minor(n, inst.maker_fee_bps), fee_minor(n, inst.taker_fee_bps)
            buyer, seller = (taker, maker) if taker_buys else (maker, taker)
            bf, sf = (tf, mf) if taker_buys else (mf, tf)
            maker_done = maker.remaining == 0
            # base leg: seller's base hold -> buyer
            base_legs = [(base_of(buyer.owner), q)]
            # quote leg: buyer's quote hold -> seller (net of seller fee, less what an instant sell splits
            # off to another account) and the fee account
            seller_quote = self._proceeds_to.get(seller.id) if seller is taker else None
            split = self._proceeds_split.get(seller.id) if seller is taker else None
            split_minor = min(split[1], n - sf) if split else 0
            legs = [(seller_quote or quote_of(seller.owner), n - sf - split_minor),
                    (split[0] if split else None, split_minor), (fee_acct, bf + sf)]
            quote_legs = _merged([leg for leg in legs if leg[1] > 0])
            if split:
                split[1] -= split_minor
            seller_final, buyer_final = seller is maker and maker_done, buyer is maker and maker_done
            if not self._post_fill(uow, inst, seller, q, base_legs, seller_final, buyer, n + bf, quote_legs,
                                   buyer_final):
                self._post(uow, seller, q, base_legs, final=seller_final)
                self._post(uow, buyer, n + bf, quote_legs, final=buyer_final)
            trade = dict(symbol=inst.symbol, seq=book.seq + 1, price_minor=p, qty_minor=q, notional_minor=n,
                         taker_side=taker.side, maker_order_id=maker.id, taker_order_id=taker.id, buyer=buyer.owner,
                         seller=seller.owner, buyer_fee_minor=bf, seller_fee_minor=sf, at=at)
            if trade_ids:   # an id reserved ahead (ledger.ids): the row goes out with the next statement
                trade_id = trade_ids.pop(0)
                uow.defer(with_id(_INSERT_TRADE), dict(trade, id=trade_id))
            else:
                trade_id = sql.insert_id(_INSERT_TRADE, trade)
            fills.append(Fill(trade_id, p, q, n, tf))
            # the maker's side of the trade, for the layer above (its owner's tax lots and events)
            made = uow.memo.get(MAKER_FILLS)
            uow.memo[MAKER_FILLS] = [*(made or ()), MakerFill(trade_id, inst.symbol, maker.id, maker.owner, maker.side,
                                                               p, q, n, mf, maker_done)]
            filled += q
            quote_filled += n
            taker_fee_total += tf
            maker_updates.append((maker, q, n))
        for maker, q, n in maker_updates:
            params = {"oid": maker.id, "rem": maker.remaining, "q": q, "n": n, "hl": maker.hold_left, "at": at}
            if maker.remaining == 0:
                uow.defer(_UPDATE_MAKER, dict(params, st="filled"))
            else:
                uow.defer(_UPDATE_MAKER_OPEN, params)
        split = self._proceeds_split.get(taker.id)
        assert split is None or split[1] == 0, "the proceeds did not cover what was to be split off"
        for maker in res.expired_makers:
            self._release(uow, maker)
            conn.execute(update(t.orders).where(t.orders.c.id == maker.id).values(
                status="cancelled", reason="self_trade_prevention", hold_left_minor=0, updated_at=now))
        if res.rested:
            status, reason = "open", None
        else:
            self._release(uow, taker)
            if budget is not None:   # done when the budget is spent to the lot; the order is what it bought
                done = filled > 0 and res.stopped in (None, BUDGET_SPENT)
                qty_minor = filled
                taker.remaining = 0
            else:
                done = taker.remaining == 0
            status, reason = ("filled", None) if done else ("expired", _expired_reason(otype, res.stopped))
        if written != (qty_minor, taker.remaining, filled, quote_filled, status, reason) or taker.priority \
                or taker.hold_left:
            uow.defer(_UPDATE_TAKER, {"oid": taker.id, "qty": qty_minor, "rem": taker.remaining, "filled": filled,
                                    "qf": quote_filled, "st": status, "why": reason, "prio": taker.priority,
                                    "hl": taker.hold_left, "at": at})
        self._touch(uow, book)
        return OrderResult(taker.id, inst.symbol, taker.owner, taker.side, otype, tif, status, reason, price,
                           qty_minor, filled, taker.remaining, quote_filled, taker_fee_total, tuple(fills))

    def _post(self, uow, order: Order, amount: int, to: list[tuple[int, int]], *, final: bool) -> None:
        if amount <= 0:
            if final:
                self._release(uow, order)
            return
        if order.hold_id is None:  # an IOC/FOK taker pays straight from its account
            try:
                uow.transfer([Posting(self._pay_accounts[order.id], -amount)] + [Posting(a, m) for a, m in to],
                             memo="exchange fill")
            except InsufficientFunds as error:
                raise InsufficientBalance(str(error), owner=order.owner) from None
            return
        uow.post_hold(order.hold_id, to, amount_minor=amount, final=final, memo="exchange fill")
        order.hold_left = 0 if final else order.hold_left - amount

    def _post_fill(self, uow, inst: Instrument, seller: Order, base_minor: int, base_legs, seller_final: bool,
                   buyer: Order, quote_minor: int, quote_legs, buyer_final: bool) -> bool:
        """Settle a fill between a resting order's hold and a taker paying from its account (an IOC or FOK
        order, an instant sell) as ONE transfer: the hold's post carries the other leg. False (nothing
        done) when the fill does not have that shape; the caller then posts each leg on its own."""
        if (seller.hold_id is None) == (buyer.hold_id is None) or base_minor <= 0 or quote_minor <= 0:
            return False
        if buyer.hold_id is None:   # the taker buys: the seller's base hold pays the buyer, who pays in quote
            held, amount, to, final = seller, base_minor, base_legs, seller_final
            payer, pay_minor, pay_to, held_acct = buyer, quote_minor, quote_legs, (seller.owner, inst.base)
        else:
            held, amount, to, final = buyer, quote_minor, quote_legs, buyer_final
            payer, pay_minor, pay_to, held_acct = seller, base_minor, base_legs, (buyer.owner, inst.quote)
        paying = self._pay_accounts[payer.id]
        touched = [self._account(uow, *held_acct, create=True), paying, *(a for a, _ in to), *(a for a, _ in pay_to)]
        if len(set(touched)) != len(touched):
            return False   # one account on both legs (a transfer names each account once)
        also = [Posting(paying, -pay_minor)] + [Posting(a, m) for a, m in pay_to]
        try:
            uow.post_hold(held.hold_id, to, amount_minor=amount, final=final, memo="exchange fill", also=also)
        except InsufficientFunds as error:
            raise InsufficientBalance(str(error), owner=payer.owner) from None
        held.hold_left = 0 if final else held.hold_left - amount
        return True

    def _release(self, uow, order: Order) -> None:
        if order.hold_left > 0:
            uow.void_hold(order.hold_id)
        order.hold_left = 0

    def _by_client_id(self, uow, owner: str, client_order_id: str, digest: str) -> OrderResult | None:
        """The order ``owner`` placed with ``client_order_id``, if the request was the same; None if none."""
        o = t.orders.c
        row = uow.conn.execute(select(o.id, o.client_request_hash).where(
            and_(o.owner == owner, o.client_order_id == client_order_id))).first()
        if row is None:
            return None
        if row[1] is not None and row[1] != digest:
            raise IdempotencyConflict(f"client_order_id {client_order_id!r} was already used for a different order "
                                      f"(order {row[0]}); use a new client_order_id", client_order_id=client_order_id,
                                      order_id=row[0])
        return self.order(uow, row[0], replayed=True)

    def order(self, uow, order_id: int, *, replayed: bool = False) -> OrderResult:
        """An order's current state and its fills, oldest first: those it took on arrival (liquidity
        ``taker``) and those it made while resting (``maker``), each with this order's own fee. At most
        ``MAX_ORDER_FILLS`` fills are listed; ``fee_minor`` and the filled totals count every fill."""
        _check_order_id(order_id)
        o = t.orders.c
        r = uow.conn.execute(select(o.id, o.symbol, o.owner, o.side, o.type, o.tif, o.status, o.reason, o.price_minor,
                                    o.qty_minor, o.filled_minor, o.remaining_minor, o.quote_filled_minor)
                             .where(o.id == order_id)).first()
        if r is None:
            raise OrderNotFound(f"no order {order_id}", order_id=order_id)
        tr = t.trades.c
        fee = tr.buyer_fee_minor if r[3] == BUY else tr.seller_fee_minor   # the side this order was on
        mine = or_(tr.taker_order_id == order_id, tr.maker_order_id == order_id)
        rows = uow.conn.execute(select(tr.id, tr.price_minor, tr.qty_minor, tr.notional_minor, fee, tr.taker_order_id)
                                .where(mine).order_by(tr.id).limit(MAX_ORDER_FILLS + 1)).all()
        fills = tuple(Fill(tid, p, q, n, f, "taker" if taker_id == order_id else "maker")
                      for tid, p, q, n, f, taker_id in rows[:MAX_ORDER_FILLS])
        if len(rows) > MAX_ORDER_FILLS:
            fee_total = uow.conn.execute(select(func.coalesce(func.sum(fee), 0)).where(mine)).scalar_one()
        else:
            fee_total = sum(f.fee_minor for f in fills)
        return OrderResult(*r[:12], r[12], fee_total, fills, replayed)

    def cancel_order(self, uow, owner: str, order_id: int) -> OrderResult:
        """Cancel ``owner``'s open order and release its held funds."""
        symbol = self._open_order_symbol(uow, owner, order_id)
        book = self._book(uow, symbol)
        order = book.orders.get(order_id)
        if order is None:
            raise OrderNotOpen(f"order {order_id} is no longer open", order_id=order_id)
        book.remove(order)
        self._release(uow, order)
        uow.conn.execute(update(t.orders).where(t.orders.c.id == order_id).values(
            status="cancelled", reason="cancelled_by_owner", hold_left_minor=0, updated_at=uow.now()))
        self._touch(uow, book)
        return self.order(uow, order_id)

    def _open_order_symbol(self, uow, owner: str, order_id: int) -> str:
        _check_order_id(order_id, owner)
        o = t.orders.c
        row = uow.conn.execute(select(o.symbol, o.owner, o.status).where(o.id == order_id)).first()
        if row is None or row[1] != owner:
            raise OrderNotFound(f"{owner} has no order {order_id}", order_id=order_id)
        if row[2] != "open":
            raise OrderNotOpen(f"order {order_id} is {row[2]}, not open", order_id=order_id, status=row[2])
        return row[0]

    def amend_order(self, uow, owner: str, order_id: int, *, qty_minor: int | None = None,
                    price_minor: int | None = None) -> OrderResult:
        """Change an open order's remaining quantity and/or price (``price_minor``).

        Lowering the quantity at the same price keeps the order's place in the queue (and releases the
        funds no longer needed). Raising it or changing the price loses priority: the order is replaced —
        the old one ends with status ``replaced`` and a new order (new id, back of the queue, may trade at
        once) carries the new terms; its result is returned.
        """
        symbol = self._open_order_symbol(uow, owner, order_id)
        inst = self.instruments.get(symbol)
        book = self._book(uow, symbol)
        order = book.orders.get(order_id)
        if order is None:
            raise OrderNotOpen(f"order {order_id} is no longer open", order_id=order_id)
        new_qty = order.remaining if qty_minor is None else qty_minor
        new_price = order.price if price_minor is None else price_minor
        self._validate(inst, order.side, LIMIT, new_qty, None, new_price, GTC, order.post_only, None,
                       EXPIRE_TAKER, None)
        if new_price == order.price and new_qty <= order.remaining:
            if new_qty == order.remaining:
                return self.order(uow, order_id)
            need = new_qty if order.side == SELL else buy_hold_minor(
                new_price, new_qty, inst.base_unit, max(inst.maker_fee_bps, inst.taker_fee_bps))
            if order.hold_left > need:
                uow.void_hold(order.hold_id, amount_minor=order.hold_left - need)
                order.hold_left = need
            o = t.orders.c
            uow.conn.execute(update(t.orders).where(o.id == order_id).values(
                qty_minor=o.qty_minor - (order.remaining - new_qty), remaining_minor=new_qty,
                hold_left_minor=order.hold_left, updated_at=uow.now()))
            book.reduce(order, new_qty)
            self._touch(uow, book)
            return self.order(uow, order_id)
        # loses priority: cancel-replace (the new order is checked in full before the old one goes)
        hold_amount = new_qty if order.side == SELL else buy_hold_minor(
            new_price, new_qty, inst.base_unit, max(inst.maker_fee_bps, inst.taker_fee_bps))
        pay_acct = self._account(uow, owner, inst.quote if order.side == BUY else inst.base, create=False)
        if uow.balance(pay_acct).available_minor + order.hold_left < hold_amount:
            raise InsufficientBalance(f"{owner} cannot fund the amended order", owner=owner)
        if order.post_only:
            best = book.best_ask() if order.side == BUY else book.best_bid()
            if best is not None and (best <= new_price if order.side == BUY else best >= new_price):
                raise PostOnlyWouldCross(f"amended post-only price {new_price} would trade against {best}",
                                         price_minor=new_price, best_opposite_minor=best)
        book.remove(order)
        self._release(uow, order)
        uow.conn.execute(update(t.orders).where(t.orders.c.id == order_id).values(
            status="replaced", reason="amended", hold_left_minor=0, updated_at=uow.now()))
        return self._execute(uow, inst, book, owner, order.side, LIMIT, GTC, new_price, new_price, new_qty,
                             hold_amount, None, order.post_only, EXPIRE_TAKER, None)

    def order_owner_status(self, order_id: int) -> str:
        """The status of an order (open, filled, cancelled, expired, replaced)."""
        with self.ledger.unit_of_work(read_only=True) as uow:
            return self.order(uow, order_id).status

    def open_orders(self, uow, owner: str, symbol: str | None = None, limit: int = 100) -> list[OrderResult]:
        o = t.orders.c
        cond = [o.owner == owner, o.status == "open"]
        if symbol is not None:
            cond.append(o.symbol == symbol)
        ids = uow.conn.execute(select(o.id).where(and_(*cond)).order_by(o.id)
                               .limit(max(1, min(limit, MAX_TRADES_PAGE)))).scalars().all()
        return [self.order(uow, i) for i in ids]

    # ------------------------------------------------------------------ the card's port
    def _walk_sell(self, inst: Instrument, book: Book, owner: str, needed_minor: int, limit: int | None = None):
        """Simulate a sell that nets ``needed_minor`` after the taker fee, fill by fill as matching would.
        Returns (qty, gross, fee, worst_price, levels). Stops at the owner's own bids (self-trade
        prevention would stop the real order there too). Raises NoLiquidity."""
        need, qty, gross, fee, worst, levels = needed_minor, 0, 0, 0, None, 0
        unit, bps, lot = inst.base_unit, inst.taker_fee_bps, inst.lot_size
        for maker in book.walk(BUY):
            if maker.owner == owner or (limit is not None and maker.price < limit):
                break
            p = maker.price
            q = min_qty_for_net_proceeds(p, need, unit, bps, lot)
            q = min(q, maker.remaining)
            n = notional_minor(p, q, unit)
            f = fee_minor(n, bps)
            qty += q
            gross += n
            fee += f
            need -= n - f
            if p != worst:
                worst = p
                levels += 1
            if need <= 0:
                return qty, gross, fee, worst, levels
        raise NoLiquidity(f"not enough buyers on {inst.symbol} to raise "
                          f"{format_amount(needed_minor, inst.quote, self.ledger.assets)}",
                          symbol=inst.symbol, needed_minor=needed_minor)

    def _quote(self, inst: Instrument, book: Book, owner: str, needed_minor: int) -> SellQuote:
        if type_(needed_minor) is not int or not 0 < needed_minor <= MAX_QTY_MINOR:
            raise InvalidOrder(f"proceeds needed must be a whole number of minor units from 1 to {MAX_QTY_MINOR:,}, "
                               f"not {needed_minor!r}", code=INVALID_AMOUNT)
        if not inst.trading_enabled:
            raise TradingHalted(f"trading on {inst.symbol} is halted", symbol=inst.symbol)
        qty, gross, fee, worst, levels = self._walk_sell(inst, book, owner, needed_minor)
        bid, ask = book.best_bid(), book.best_ask()
        mid = (bid + ask) // 2 if ask is not None else bid
        avg = Decimal(gross) * inst.base_unit / Decimal(qty)  # quote minor per whole base
        slip = max(0, -(-int((Decimal(mid) - avg) * BPS) // mid)) if mid else 0
        return SellQuote(inst.symbol, qty, gross, fee, gross - fee, gross - fee - needed_minor,
                         int(avg.to_integral_value(ROUND_HALF_EVEN)), mid, worst, slip, levels)

    def quote_sell(self, uow, asset: str, proceeds_needed_minor: int, quote_asset: str,
                   owner: str | None = None) -> SellQuote:
        """How much ``asset`` a sale must give up to net ``proceeds_needed_minor`` of ``quote_asset`` after
        the taker fee, walking the bids now: quantity, average price, fee, slippage against mid."""
        inst = self.instruments.for_pair(asset, quote_asset)
        book = self._book(uow, inst.symbol, lock=False)
        return self._quote(inst, book, owner or "", proceeds_needed_minor)

    def instant_sell(self, uow, owner: str, asset: str, proceeds_needed_minor: int, quote_asset: str,
                     slippage_cap_bps: int, *, proceeds_to: int | None = None,
                     proceeds_split: tuple[int, int] | None = None) -> SaleResult:
        """Sell just enough of ``owner``'s ``asset`` to net at least ``proceeds_needed_minor`` of
        ``quote_asset`` (credited to ``customer:{owner}:{quote_asset}``, or to the ledger account
        ``proceeds_to`` — a card's bank account — so the sale settles straight there), as an IOC order
        inside the caller's unit of work. Refuses, changing nothing, with no_liquidity, slippage_exceeded,
        insufficient_balance, trading_halted or unknown_instrument. Whole lots are sold, so proceeds may
        exceed the need by less than one lot's value (``surplus_minor``, left in the quote account).
        ``proceeds_split`` ``(account_id, amount_minor)``: that much of the proceeds (at most the need) is
        credited to ``account_id`` instead, in the sale's own transfer (a card's conversion fee)."""
        inst = self.instruments.for_pair(asset, quote_asset)
        if not inst.trading_enabled:
            raise TradingHalted(f"trading on {inst.symbol} is halted", symbol=inst.symbol)
        if type_(slippage_cap_bps) is not int or slippage_cap_bps < 0:
            raise InvalidOrder("slippage_cap_bps must be a non-negative integer", code=INVALID_SLIPPAGE)
        if proceeds_to is not None:
            self._check_proceeds_account(uow, proceeds_to, quote_asset)
        if proceeds_split is not None:
            split_to, split_minor = proceeds_split
            if type_(split_minor) is not int or not 0 <= split_minor <= proceeds_needed_minor:
                raise InvalidOrder("the amount split off the proceeds must be a whole number of minor units from 0 "
                                   "to the proceeds needed", code=INVALID_AMOUNT)
            self._check_proceeds_account(uow, split_to, quote_asset)
            proceeds_split = proceeds_split if split_minor else None
        # The round trip that takes the instrument's lock and reads the book also reads the seller's balance
        # and reserves the ids of what the sale writes (ledger.ids): the order, its fills and their transfers.
        # The rest then goes out with the statements that need answers: fewer round trips under the lock.
        # The lock goes first: what is read is read under it, and the ids follow the book's order (a trade's
        # id, like its seq, grows with every trade of the instrument).
        self._lock(uow, inst.symbol)
        pay_acct = self._account(uow, owner, asset, create=False)
        balance_read = None if pay_acct is None else uow.balance_later(pay_acct)
        ids = uow.reserve_ids({_ORDER_IDS: 1, _TRADE_IDS: SALE_FILLS_AHEAD}, transfers=SALE_FILLS_AHEAD)
        book = self._book(uow, inst.symbol)
        quote = self._quote(inst, book, owner, proceeds_needed_minor)
        if quote.slippage_bps > slippage_cap_bps:
            raise SlippageExceeded(
                f"selling {format_amount(quote.base_qty_minor, asset, self.ledger.assets)} would cost "
                f"{quote.slippage_bps} bps against mid; "
                f"the cap is {slippage_cap_bps} bps", slippage_bps=quote.slippage_bps,
                slippage_cap_bps=slippage_cap_bps)
        result = self._execute(uow, inst, book, owner, SELL, MARKET, IOC, None, quote.worst_price_minor,
                               quote.base_qty_minor, quote.base_qty_minor, None, False, EXPIRE_TAKER, None,
                               proceeds_to, proceeds_split, balance_read, ids)
        proceeds = result.quote_filled_minor - result.fee_minor
        assert result.filled_qty_minor == quote.base_qty_minor and proceeds >= proceeds_needed_minor, \
            "instant sell diverged from its quote"
        return SaleResult(inst.symbol, asset, quote_asset, result.filled_qty_minor, proceeds,
                          proceeds - proceeds_needed_minor, quote.avg_price_minor, result.fee_minor, quote.slippage_bps,
                          result.order_id, result.trade_ids)

    def _check_proceeds_account(self, uow, account_id: int, quote_asset: str) -> None:
        """``account_id`` must be a ledger account in ``quote_asset`` (remembered once committed: an
        account's asset never changes)."""
        if self._proceeds_assets.get(account_id) == quote_asset:
            return
        try:
            asset = uow.account(account_id).asset if type_(account_id) is int and 0 < account_id <= MAX_ID else None
        except LedgerError:
            asset = None
        if asset != quote_asset:
            raise InvalidOrder(f"the proceeds of a sale for {quote_asset} cannot settle to account {account_id!r}"
                               f" ({'no such account' if asset is None else 'an account in ' + asset})",
                               code=INVALID_PROCEEDS_ACCOUNT)
        uow.after_commit(lambda: self._proceeds_assets.__setitem__(account_id, asset))

    # ------------------------------------------------------------------ market data
    def depth(self, symbol: str, levels: int = 20) -> dict:
        """L2 depth of ``symbol``: ``{"bids": [(price_minor, qty_minor)], "asks": [...], "seq": n}`` (≤ 100 levels)."""
        self.instruments.get(symbol)
        levels = max(1, min(int(levels), MAX_DEPTH_LEVELS))
        with self.ledger.unit_of_work(read_only=True) as uow:
            book = self._book(uow, symbol, lock=False)
            out = book.depth(levels)
            out["seq"] = book.seq
            return out

    def recent_trades(self, symbol: str, limit: int = 50) -> list[dict]:
        """The latest trades, newest first (at most 500)."""
        self.instruments.get(symbol)
        tr = t.trades.c
        with self.ledger.unit_of_work(read_only=True) as uow:
            rows = uow.conn.execute(select(tr.id, tr.price_minor, tr.qty_minor, tr.notional_minor, tr.taker_side,
                                           tr.created_at).where(tr.symbol == symbol).order_by(tr.id.desc())
                                    .limit(max(1, min(int(limit), MAX_TRADES_PAGE)))).all()
        return [{"trade_id": r[0], "price_minor": r[1], "qty_minor": r[2], "notional_minor": r[3], "taker_side": r[4],
                 "at": r[5]} for r in rows]

    def candles(self, symbol: str, interval: str = "1h", limit: int = 100, *, until: datetime | None = None) -> list[dict]:
        """OHLCV candles ending at sandbox time ``until`` (default now), oldest first; empty intervals skipped."""
        self.instruments.get(symbol)
        if interval not in INTERVALS:
            raise InvalidOrder(f"interval must be one of {', '.join(INTERVALS)}", code=INVALID_INTERVAL)
        secs = INTERVALS[interval]
        limit = max(1, min(int(limit), MAX_CANDLES))
        until = until or self.ledger.clock.now()
        since = until - timedelta(seconds=secs * limit)
        with self.ledger.unit_of_work(read_only=True) as uow:
            return queries.candles(uow, symbol, since, until, secs)

    def stats_24h(self, symbol: str, *, until: datetime | None = None) -> dict:
        """Open, high, low, last price, base and quote volume and trade count over the last 24 h."""
        self.instruments.get(symbol)
        until = until or self.ledger.clock.now()
        with self.ledger.unit_of_work(read_only=True) as uow:
            w = queries.window(uow, symbol, until - timedelta(hours=24), until)
        change = None if w.open is None else (w.last - w.open) * BPS // w.open
        return {"symbol": symbol, "open": w.open, "high": w.high, "low": w.low, "last": w.last,
                "volume_minor": w.volume_minor, "quote_volume_minor": w.quote_volume_minor, "trades": w.trades,
                "change_bps": change}


_FINAL_KEYS = ("qty", "rem", "filled", "qf", "st", "why")


_NO_BOOK = (0, 1) + (None,) * 10   # what a book not yet stored reads as


def _built(symbol: str, rows: list[tuple]) -> Book:
    """The book from ``_SELECT_BOOK``'s rows (read with a sequence number other than the book's)."""
    book = Book(symbol, rows[0][0])
    for r in rows:
        if r[2] is not None:
            order = Order(r[2], r[3], r[4], r[5], r[6], r[8], r[9], r[10], bool(r[11]))
            order.remaining = r[7]
            book.add(order)
    book.next_priority = max(book.next_priority, rows[0][1])
    return book


def _final_state(otype: str, qty_minor: int, plan, budget, unit: int) -> tuple:
    """(qty, remaining, filled, quote filled, status, reason) of an order that does not rest, once ``plan``
    (its prepared match) is applied: what ``Exchange._settle`` computes, known before the row is written."""
    filled = sum(q for _, q, _ in plan.fills)
    quote_filled = sum(notional_minor(p, q, unit) for _, q, p in plan.fills)
    if budget is not None:   # a market buy spending a quote amount: the order is what it bought
        done, qty_minor, remaining = filled > 0 and plan.stopped in (None, BUDGET_SPENT), filled, 0
    else:
        remaining = qty_minor - filled
        done = remaining == 0
    status, reason = ("filled", None) if done else ("expired", _expired_reason(otype, plan.stopped))
    return qty_minor, remaining, filled, quote_filled, status, reason


def _merged(legs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Credits with each account once (in first-seen order): a transfer names an account once."""
    out: dict[int, int] = {}
    for account_id, amount in legs:
        out[account_id] = out.get(account_id, 0) + amount
    return list(out.items())


type_ = type
