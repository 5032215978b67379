"""Typed card errors with a stable ``code`` and a message a workshop participant understands."""
from __future__ import annotations

from ledger.errors import DomainError


class CardError(DomainError):
    code = "card_error"


class CardNotFound(CardError):
    code = "card_not_found"


class MerchantNotFound(CardError):
    code = "merchant_not_found"


class BankAccountNotFound(CardError):
    code = "bank_account_not_found"


class AuthorizationNotFound(CardError):
    code = "authorization_not_found"


class InvalidCardState(CardError):
    code = "invalid_card_state"


class InvalidRequest(CardError):
    code = "invalid_request"


class InvalidAuthorizationState(CardError):
    code = "invalid_authorization_state"


class InvalidSpendControls(CardError):
    """Spend controls that cannot be kept: a count that is not a positive whole number, a scoped limit with
    no scope or no limit, more scoped limits than a card may have."""

    code = "invalid_spend_controls"


class AmountTooLarge(CardError):
    code = "amount_too_large"


class IdempotencyConflict(CardError):
    code = "idempotency_conflict"


class NothingToCapture(InvalidAuthorizationState):
    """Capturing an authorization that has nothing left to capture (captured, reversed or expired)."""

    code = "nothing_to_capture"


class NothingToReverse(InvalidAuthorizationState):
    """Reversing an authorization whose hold is gone (reversed or expired)."""

    code = "nothing_to_reverse"


class NothingToRefund(InvalidAuthorizationState):
    """Refunding a purchase that was refunded in full already."""

    code = "nothing_to_refund"


class NothingToExpire(InvalidAuthorizationState):
    """Expiring an authorization whose hold is gone already (fully captured, reversed or expired)."""

    code = "nothing_to_expire"


class OverCaptureRefused(InvalidRequest):
    """A capture beyond the authorized amount plus the tolerance the merchant's category allows (ISO 8583 64)."""

    code = "over_capture_refused"


class ClearingUnfunded(CardError):
    """Tenge plus the crypto the card may sell cannot pay a force post or an over-capture (ISO 8583 51)."""

    code = "clearing_unfunded"
