"""Typed refusals of the ledger.

Every refusal is a named result: a stable snake_case ``code`` (what programs
match on) and a message in words a workshop participant understands. The same
bad request always gets the same code because validation runs in a fixed order
(see ``transfers.validate_postings``).
"""
from __future__ import annotations


class DomainError(Exception):
    """The one base of every refusal in cryptocity: ledger, wallet, stablecoin, exchange, card and the
    sandbox's own. ``code`` is a stable snake_case constant of the class (what programs and the web
    layer match on), ``str()`` explains in words a workshop participant understands, ``details`` name
    what the refusal concerns (an account, an asset, a key…)."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, **details: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, **{k: _plain(v) for k, v in self.details.items()}}


class LedgerError(DomainError):
    """Refusals of the ledger itself (amounts, accounts, transfers, holds, idempotency)."""

    code = "ledger_error"


def _plain(value: object) -> object:
    return value if isinstance(value, (str, int, bool, type(None), list, dict)) else str(value)


class InvalidAmount(LedgerError):
    """An amount that is not a non-negative whole number of minor units (or a parsable human amount)."""

    code = "invalid_amount"


# Narrower codes of InvalidAmount: what exactly is wrong with the number or the text.
AMOUNT_IS_FLOAT = "amount_is_float"
AMOUNT_NOT_INTEGER = "amount_not_integer"
AMOUNT_NOT_A_NUMBER = "amount_not_a_number"
AMOUNT_NEGATIVE = "amount_negative"
AMOUNT_TOO_PRECISE = "amount_too_precise"
AMOUNT_MISSING_ASSET = "amount_missing_asset"
AMOUNT_BAD_GROUPING = "amount_bad_grouping"
AMOUNT_AMBIGUOUS = "amount_ambiguous"


class UnknownAsset(LedgerError):
    code = "unknown_asset"


class AccountNotFound(LedgerError):
    code = "account_not_found"


class AccountExists(LedgerError):
    code = "account_exists"


class InvalidAccount(LedgerError):
    code = "invalid_account"


# Narrower code of InvalidAccount.
NEGATIVE_NOT_ALLOWED = "negative_not_allowed"


class InvalidTransfer(LedgerError):
    """Structurally wrong transfer: no postings, too many, same account twice, zero amount."""

    code = "invalid_transfer"


# Narrower codes of InvalidTransfer.
ZERO_AMOUNT = "zero_amount"
NO_POSTINGS = "no_postings"
TOO_MANY_POSTINGS = "too_many_postings"
DUPLICATE_ACCOUNT = "duplicate_account"


class AssetMismatch(LedgerError):
    code = "asset_mismatch"


class UnbalancedTransfer(LedgerError):
    code = "unbalanced_transfer"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"


class InvalidIdempotencyKey(LedgerError):
    code = "invalid_idempotency_key"


class IdempotencyConflict(LedgerError):
    code = "idempotency_conflict"


class HoldNotFound(LedgerError):
    code = "hold_not_found"


class HoldNotPending(LedgerError):
    code = "hold_not_pending"


class HoldExpired(LedgerError):
    code = "hold_expired"


class HoldExceeded(LedgerError):
    code = "hold_exceeded"


class InvariantViolation(LedgerError):
    """``verify()`` found money created, destroyed or mis-recorded. The message names the first violation."""

    code = "invariant_violation"


# Narrower codes of InvariantViolation: which invariant broke.
ASSET_NOT_ZERO_SUM = "asset_not_zero_sum"
TRANSFER_UNBALANCED = "transfer_unbalanced"
BALANCE_MISMATCH = "balance_mismatch"
ENTRY_ASSET_MISMATCH = "entry_asset_mismatch"
HELD_MISMATCH = "held_mismatch"
OVERDRAFT = "overdraft"
CHECK_FAILED = "check_failed"
