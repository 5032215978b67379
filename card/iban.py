"""Kazakh IBANs for the sandbox bank: ``KZ`` + 2 check digits + 3-digit bank code + 13-char account.

Generated deterministically from a sequence number (no randomness), validated with python-stdnum.
"""
from __future__ import annotations

from stdnum import iban as _iban

from .errors import CardError
from stdnum.exceptions import ValidationError

SANDBOX_BANK_CODE = "998"  # outside the codes of real Kazakh banks, so a sandbox IBAN never collides
MAX_SEQUENCE = 10**13 - 1


class InvalidIban(CardError, ValueError):
    code = "invalid_iban"


def _check_digits(bban: str) -> str:
    numeric = "".join(str(int(ch, 36)) for ch in bban + "KZ00")
    return f"{98 - int(numeric) % 97:02d}"


def make_iban(sequence: int, bank_code: str = SANDBOX_BANK_CODE) -> str:
    """The IBAN of account number ``sequence`` at ``bank_code``: 20 chars, mod-97 valid, same input same IBAN."""
    if not isinstance(sequence, int) or not 0 <= sequence <= MAX_SEQUENCE:
        raise InvalidIban(f"account sequence must be an integer 0..{MAX_SEQUENCE}, got {sequence!r}")
    if len(bank_code) != 3 or not bank_code.isdigit():
        raise InvalidIban(f"a Kazakh bank code has 3 digits, got {bank_code!r}")
    bban = f"{bank_code}{sequence:013d}"
    result = f"KZ{_check_digits(bban)}{bban}"
    return validate_iban(result)


def validate_iban(value: str) -> str:
    """The compact IBAN if ``value`` is a valid KZ IBAN; raises InvalidIban with the reason otherwise."""
    try:
        compact = _iban.validate(value)
    except ValidationError as error:
        raise InvalidIban(f"{value!r} is not a valid IBAN: {error}") from None
    if not compact.startswith("KZ") or len(compact) != 20:
        raise InvalidIban(f"{value!r} is not a Kazakh IBAN (KZ, 20 characters)")
    return compact


def format_iban(value: str) -> str:
    return _iban.format(value)
