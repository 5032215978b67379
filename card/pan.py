"""Card numbers under a test BIN (Luhn check digit), expiry dates and CVVs kept only as salted hashes."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from stdnum import luhn

from .errors import CardError
from stdnum.exceptions import ValidationError

DEFAULT_TEST_BIN = "220099"  # a made-up test range; real issuers' BINs are never generated
PAN_LENGTH = 16


class InvalidPan(CardError, ValueError):
    code = "invalid_pan"


def make_pan(sequence: int, bin_prefix: str = DEFAULT_TEST_BIN) -> str:
    """The 16-digit PAN number ``sequence`` under ``bin_prefix`` with a valid Luhn check digit."""
    body_len = PAN_LENGTH - 1 - len(bin_prefix)
    if not bin_prefix.isdigit() or not 6 <= len(bin_prefix) <= 8:
        raise InvalidPan(f"a BIN has 6-8 digits, got {bin_prefix!r}")
    if not isinstance(sequence, int) or not 0 <= sequence < 10**body_len:
        raise InvalidPan(f"card sequence must be 0..{10**body_len - 1}, got {sequence!r}")
    partial = f"{bin_prefix}{sequence:0{body_len}d}"
    return partial + luhn.calc_check_digit(partial)


def is_valid_pan(pan: str) -> bool:
    """True for a 12-19 digit string with a correct Luhn check digit."""
    if not isinstance(pan, str) or not pan.isdigit() or not 12 <= len(pan) <= 19:
        return False
    try:
        luhn.validate(pan)
    except ValidationError:
        return False
    return True


def mask_pan(pan: str | None) -> str | None:
    """First six and last four digits, the rest hidden (what a receipt shows); None stays None."""
    if not pan:
        return None
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]


def expiry_after(issued_at: datetime, years: int = 3) -> tuple[int, int]:
    """(month, year) of a card issued at ``issued_at`` valid for ``years``."""
    return issued_at.month, issued_at.year + years


def is_expired(expiry_month: int, expiry_year: int, at: datetime) -> bool:
    """A card is valid through the last day of its expiry month."""
    return (at.year, at.month) > (expiry_year, expiry_month)


def make_cvv(seed: str) -> str:
    """A deterministic 3-digit CVV derived from a seed string (sandbox only)."""
    return f"{int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 1000:03d}"


def hash_cvv(cvv: str, salt: bytes) -> str:
    """The salted hash stored instead of the CVV (PBKDF2-SHA256; the CVV itself is never stored)."""
    return hashlib.pbkdf2_hmac("sha256", cvv.encode(), salt, 1_000).hex()


def check_cvv(cvv: str, salt: bytes, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_cvv(cvv, salt), stored_hash)

