"""Typed card errors with a stable ``code`` and a message a workshop participant understands."""
from __future__ import annotations


class CardError(Exception):
    code = "card_error"

    def __init__(self, message: str, **details) -> None:
        super().__init__(message)
        self.details = details


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


class AmountTooLarge(CardError):
    code = "amount_too_large"


class IdempotencyConflict(CardError):
    code = "idempotency_conflict"
