"""ISO 8583 field 39 response codes the card issuer returns, each with a plain reason."""
from __future__ import annotations

APPROVED = "00"
DO_NOT_HONOR = "05"
PARTIAL_APPROVAL = "10"
INVALID_AMOUNT = "13"
INVALID_CARD = "14"
INSUFFICIENT_FUNDS = "51"
EXPIRED_CARD = "54"
NOT_PERMITTED = "57"
SUSPECTED_FRAUD = "59"
AMOUNT_LIMIT = "61"
RESTRICTED_CARD = "62"
COUNT_LIMIT = "65"
ISSUER_INOPERATIVE = "91"
ORIGINAL_AMOUNT_INCORRECT = "64"
DUPLICATE = "94"
SYSTEM_ERROR = "96"
CVV_MISMATCH = "N7"  # Visa's CVV2 failure code (many processors answer 82); card/verification.py

REASONS: dict[str, str] = {
    APPROVED: "approved",
    DO_NOT_HONOR: "do not honor",
    PARTIAL_APPROVAL: "partial approval",
    INVALID_AMOUNT: "invalid amount",
    INVALID_CARD: "invalid card number",
    INSUFFICIENT_FUNDS: "insufficient funds: tenge plus crypto cannot cover the amount",
    EXPIRED_CARD: "expired card",
    NOT_PERMITTED: "transaction not permitted to cardholder",
    SUSPECTED_FRAUD: "suspected fraud",
    AMOUNT_LIMIT: "exceeds amount limit",
    RESTRICTED_CARD: "restricted card (frozen or closed)",
    COUNT_LIMIT: "exceeds frequency limit",
    ISSUER_INOPERATIVE: "issuer or funding unavailable",
    ORIGINAL_AMOUNT_INCORRECT: "original amount incorrect: the capture is more than the authorized amount plus "
                               "the tip tolerance of the merchant's category",
    DUPLICATE: "duplicate transmission",
    SYSTEM_ERROR: "system error",
    CVV_MISMATCH: "CVV2 mismatch: the card verification value does not match the card's",
}


# An approval holds money: 00 for the whole amount, 10 for part of it (``amount_minor`` is what was approved).
APPROVALS = frozenset({APPROVED, PARTIAL_APPROVAL})

# Why a purchase was decided as it was when the programme names a decision app (card/decisions.py):
# the app answered (approved / declined), or the programme's stand-in decided because the app did not.
WEBHOOK_APPROVED = "webhook_approved"
WEBHOOK_DECLINED = "webhook_declined"
WEBHOOK_TIMEOUT = "webhook_timeout"
WEBHOOK_ERROR = "webhook_error"
DECISIONS = (WEBHOOK_APPROVED, WEBHOOK_DECLINED, WEBHOOK_TIMEOUT, WEBHOOK_ERROR)


def is_approval(code: str) -> bool:
    """True for a response code that approved (some or all of) the amount: 00 or 10."""
    return code in APPROVALS


def reason(code: str) -> str:
    """The plain reason for ``code``; unknown codes say so instead of failing."""
    return REASONS.get(code, f"unknown response code {code}")
