"""Human amounts <-> integer minor units, both ways, with typed errors.

``parse_amount("2 500.00 KZT") == Money("KZT", 250_000)``;
``format_amount(250_000, "KZT") == "2 500.00 KZT"``. Floats are refused: binary
fractions cannot represent tiyn or satoshis exactly.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .assets import DEFAULT_REGISTRY, AssetRegistry
from .errors import InvalidAmount

# Group separators people type: plain space, no-break and thin spaces, underscore, comma.
_GROUPING = re.compile(r"[ \u00a0\u202f\u2009_,]")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one asset in its ledger minor unit."""

    asset: str
    amount_minor: int

    def __str__(self) -> str:
        return format_amount(self.amount_minor, self.asset)


def require_minor(value: object, what: str = "amount_minor") -> int:
    """Return ``value`` if it is an ``int`` (not bool), else raise ``InvalidAmount``.

    The ledger's only accepted money type is a whole number of minor units.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float):
            raise InvalidAmount(
                f"{what} must be a whole number of minor units, not a float ({value!r}); "
                "floats cannot hold money exactly — pass an int such as 150000 or a string such as '0.0015 BTC'",
                code="amount_is_float",
            )
        raise InvalidAmount(f"{what} must be a whole number of minor units, got {type(value).__name__} {value!r}",
                            code="amount_not_integer")
    return value


def to_minor(asset: str, value: str | Decimal | int, registry: AssetRegistry = DEFAULT_REGISTRY) -> int:
    """Convert a human amount of ``asset`` in MAJOR units ("0.0015", Decimal, or whole int) to minor units.

    Refuses floats, non-numbers, negatives and more decimals than the asset's ledger unit.
    """
    spec = registry.get(asset)
    if isinstance(value, bool) or isinstance(value, float):
        require_minor(value, "amount")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = _GROUPING.sub("", value.strip())
        if not _NUMBER.match(text):
            raise InvalidAmount(f"{value!r} is not a number; write amounts like '2 500.00' or '0.0015'",
                                code="amount_not_a_number")
        number = Decimal(text)
    else:
        raise InvalidAmount(f"cannot read an amount from {type(value).__name__}", code="amount_not_a_number")
    try:
        if not number.is_finite():
            raise InvalidAmount(f"{value!r} is not a finite amount", code="amount_not_a_number")
    except InvalidOperation:  # pragma: no cover - defensive
        raise InvalidAmount(f"{value!r} is not a number", code="amount_not_a_number") from None
    if number < 0:
        raise InvalidAmount(f"amounts cannot be negative ({value!r}); the direction comes from the operation",
                            code="amount_negative")
    minor = number.scaleb(spec.decimals)
    if minor != minor.to_integral_value():
        raise InvalidAmount(
            f"{value!r} has more decimals than {asset} allows ({spec.decimals}); "
            f"the smallest {asset} amount is {format_amount(1, asset, registry)}",
            code="amount_too_precise",
        )
    return int(minor)


def parse_amount(text: str, registry: AssetRegistry = DEFAULT_REGISTRY) -> Money:
    """Parse ``"<number> <ASSET>"`` (e.g. ``"2 500.00 KZT"``, ``"0.0015 BTC"``) into ``Money``."""
    if not isinstance(text, str):
        raise InvalidAmount(f"expected text like '2 500.00 KZT', got {type(text).__name__}", code="amount_not_a_number")
    parts = text.strip().rsplit(None, 1)
    if len(parts) != 2:
        raise InvalidAmount(f"{text!r} needs a number and an asset, like '2 500.00 KZT'", code="amount_missing_asset")
    number, asset = parts
    registry.get(asset)  # UnknownAsset first: the asset decides the decimals
    return Money(asset, to_minor(asset, number, registry))


def format_amount(amount_minor: int, asset: str, registry: AssetRegistry = DEFAULT_REGISTRY,
                  with_code: bool = True) -> str:
    """Format minor units for people: space-grouped thousands, all ledger decimals, asset code."""
    spec = registry.get(asset)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), spec.unit)
    text = f"{whole:,}".replace(",", " ")
    if spec.decimals:
        text += "." + str(frac).rjust(spec.decimals, "0")
    return f"{sign}{text} {asset}" if with_code else f"{sign}{text}"


def to_decimal(amount_minor: int, asset: str, registry: AssetRegistry = DEFAULT_REGISTRY) -> Decimal:
    """Minor units as an exact Decimal of major units (for prices and display, never for the ledger)."""
    return Decimal(amount_minor).scaleb(-registry.get(asset).decimals)
