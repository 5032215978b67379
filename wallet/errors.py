"""Typed refusals of the custodial wallet. Every one has a stable ``code`` and a plain-words message."""
from __future__ import annotations

from ledger.errors import DomainError


class WalletError(DomainError):
    """Base of wallet refusals (a ``DomainError``, so callers handle every domain error alike)."""

    code = "wallet_error"


class BadAddress(WalletError):
    code = "bad_address"


class AddressBlocked(WalletError):
    code = "address_blocked"


class AddressNotWhitelisted(WalletError):
    code = "address_not_whitelisted"


class TravelRuleRequired(WalletError):
    code = "travel_rule_required"


class UnsupportedAsset(WalletError):
    code = "unsupported_asset"


class DustAmount(WalletError):
    code = "dust_amount"


class InvalidTransaction(WalletError):
    """Base of transactions the node refuses to accept."""

    code = "invalid_transaction"


class DoubleSpend(InvalidTransaction):
    code = "double_spend"


class MissingInput(InvalidTransaction):
    code = "missing_input"


class BadSignature(InvalidTransaction):
    code = "bad_signature"


class Unsigned(InvalidTransaction):
    code = "unsigned"


class OutputsExceedInputs(InvalidTransaction):
    code = "outputs_exceed_inputs"


class InsufficientOnChainFunds(WalletError):
    """The custodian's own addresses do not hold enough coins to build the transaction."""

    code = "insufficient_onchain_funds"


class BroadcastFailed(WalletError):
    code = "broadcast_failed"


class WithdrawalNotFound(WalletError):
    code = "withdrawal_not_found"


class ChainError(WalletError):
    """The chain (node or RPC endpoint) answered with an error."""

    code = "chain_error"
