"""Typed refusals of the stablecoin: a stable ``code`` and a message in plain words."""
from __future__ import annotations

from ledger.errors import DomainError

# The contract's reason strings mapped to stable codes programs can match on.
_REASON_CODES = {
    "paused": "token_paused",
    "sender frozen": "sender_frozen",
    "receiver frozen": "receiver_frozen",
    "spender frozen": "spender_frozen",
    "owner frozen": "owner_frozen",
    "minter frozen": "minter_frozen",
    "not a minter": "not_a_minter",
    "mint exceeds minter allowance": "mint_exceeds_minter_allowance",
    "zero address": "zero_address",
    "not the owner": "not_the_owner",
    "not the pauser": "not_the_pauser",
    "not the regulator": "not_the_regulator",
    "KZTE: transfer amount exceeds balance": "transfer_exceeds_balance",
    "KZTE: transfer amount exceeds allowance": "transfer_exceeds_allowance",
    "KZTE: burn amount exceeds balance": "burn_exceeds_balance",
    "mint amount must be positive": "invalid_amount",
    "burn amount must be positive": "invalid_amount",
}


class StablecoinError(DomainError):
    code = "stablecoin_error"


class ContractRejected(StablecoinError):
    """The token contract refused a call; ``reason`` is its revert string."""

    code = "contract_rejected"

    def __init__(self, function: str, reason: str) -> None:
        super().__init__(f"the KZTE contract refused {function}: {reason}",
                         code=_REASON_CODES.get(reason, ContractRejected.code), function=function, reason=reason)
        self.function = function
        self.reason = reason


class ReserveShortfall(StablecoinError):
    """Minting more KZTE than the unbacked tenge sitting in the reserve."""

    code = "reserve_shortfall"


# Narrower code of ReserveShortfall: the account paying for the KZTE lacks the tenge.
INSUFFICIENT_FUNDS = "insufficient_funds"


class InsufficientKZTE(StablecoinError):
    """Redeeming more KZTE than the holder has."""

    code = "insufficient_kzte"


class InvalidRequest(StablecoinError):
    code = "invalid_request"


# Narrower codes of InvalidRequest.
WRONG_ASSET = "wrong_asset"
INVALID_ADDRESS = "invalid_address"
INVALID_OWNER = "invalid_owner"
