"""Typed refusals of the exchange. Every one subclasses ``ledger.errors.DomainError`` with a stable ``code``.

Order validation runs in a fixed precedence (see ``validation.validate_order``), so the same bad order
always gets the same code, and a refused order changes nothing.
"""
from __future__ import annotations

from ledger import errors as ledger_errors
from ledger.errors import DomainError


class ExchangeError(DomainError):
    code = "exchange_error"


class UnknownInstrument(ExchangeError):
    code = "unknown_instrument"


class TradingHalted(ExchangeError):
    code = "trading_halted"


class InvalidOrder(ExchangeError):
    """A malformed order: bad side, type, time in force, quantity or price (``code`` says which)."""

    code = "invalid_order"


# Narrower codes of InvalidOrder: which part of the order is malformed.
INVALID_SIDE = "invalid_side"
INVALID_TYPE = "invalid_type"
INVALID_TIF = "invalid_tif"
INVALID_STP = "invalid_stp"
INVALID_QUANTITY = "invalid_quantity"
INVALID_PRICE = "invalid_price"
INVALID_POST_ONLY = "invalid_post_only"
INVALID_CLIENT_ORDER_ID = "invalid_client_order_id"
INVALID_AMOUNT = "invalid_amount"
INVALID_SLIPPAGE = "invalid_slippage"
INVALID_PROCEEDS_ACCOUNT = "invalid_proceeds_account"
INVALID_INTERVAL = "invalid_interval"
# the code of a bad value of each enumerated order field
INVALID_ENUM_CODES = {"side": INVALID_SIDE, "type": INVALID_TYPE, "tif": INVALID_TIF, "stp": INVALID_STP}


class TickSizeViolation(ExchangeError):
    code = "invalid_tick_size"


class LotSizeViolation(ExchangeError):
    code = "invalid_lot_size"


class MinNotionalViolation(ExchangeError):
    code = "below_min_notional"


class PostOnlyWouldCross(ExchangeError):
    code = "post_only_would_cross"


class FillOrKillUnfilled(ExchangeError):
    code = "fok_not_fillable"


class BookFull(ExchangeError):
    code = "book_full"


class NoLiquidity(ExchangeError):
    code = "no_liquidity"


class SlippageExceeded(ExchangeError):
    code = "slippage_exceeded"


class InsufficientBalance(ExchangeError):
    code = "insufficient_balance"


class OrderNotFound(ExchangeError):
    code = "order_not_found"


class OrderNotOpen(ExchangeError):
    code = "order_not_open"


class IdempotencyConflict(ExchangeError, ledger_errors.IdempotencyConflict):
    """A ``client_order_id`` already used by the same owner for a different order."""

    code = "idempotency_conflict"
