"""The values a scenario file writes — amounts with their asset, durations, zoned times, numbers, names —
and the ranges (exact, or at least / at most) every expectation is made of."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from ledger import Money, parse_amount
from ledger.errors import DomainError

from ..clock import DurationError, parse_duration

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def _money(value: object) -> object:
    if isinstance(value, Money):
        return value
    if not isinstance(value, str):
        raise ValueError("write an amount with its asset, like '1 500.00 KZT' or '0.001 BTC'")
    try:
        return parse_amount(value)
    except DomainError as error:
        raise ValueError(str(error)) from None


def _duration(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as error:
            raise ValueError(str(error)) from None
    raise ValueError("write a duration like '3d', '2h30m' or '90s'")


def _instant(value: object) -> object:
    """An absolute time WITH its zone: '2025-06-02T09:00:00+05:00' or '2025-06-02 09:00 Asia/Almaty'."""
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str):
        text = value.strip()
        zone = None
        if " " in text and not text[-1].isdigit():      # "2025-06-02 09:00 Asia/Almaty"
            text, zone = text.rsplit(" ", 1)
        try:
            when = datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise ValueError("write a time like '2025-06-02T09:00+05:00' or '2025-06-02 09:00 Asia/Almaty'") from None
        if zone is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
            if when.tzinfo is not None:
                raise ValueError("give the zone once: an offset or a zone name, not both")
            try:
                when = when.replace(tzinfo=ZoneInfo(zone))
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{zone!r} is not a time zone (like Asia/Almaty or UTC)") from None
    else:
        raise ValueError("write a time like '2025-06-02T09:00+05:00'")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("a time needs its zone (an offset like +05:00 or a name like Asia/Almaty): "
                         "the sandbox cannot guess whose 09:00 is meant")
    return when


def _decimal(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("write a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"write a number, got {value!r}") from None


# How each is written, for the JSON Schema (sandbox/scenarios/schema.py).
AMOUNT_SCHEMA = {"type": "string", "description": "an amount with its asset: '1 500.00 KZT', '0.001 BTC'",
                 "pattern": r"^\s*-?[0-9][0-9 ,.\u00a0\u202f]*\s+[A-Z]{2,10}\s*$"}
DURATION_SCHEMA = {"type": "string", "description": "a duration: '90s', '10m', '2h30m', '3d'",
                   "pattern": r"^\s*([0-9]+\s*[dhms]\s*)+$"}
INSTANT_SCHEMA = {"type": "string", "description": "a time with its zone: '2025-06-02T09:00:00+05:00' or "
                                                   "'2025-06-02 09:00 Asia/Almaty'"}
NUMBER_SCHEMA = {"type": ["number", "string"], "description": "a number: 12, 0.5 or '0.5'"}
Amount = Annotated[Money, BeforeValidator(_money), WithJsonSchema(AMOUNT_SCHEMA)]
Duration = Annotated[timedelta, BeforeValidator(_duration), WithJsonSchema(DURATION_SCHEMA)]
Instant = Annotated[datetime, BeforeValidator(_instant), WithJsonSchema(INSTANT_SCHEMA)]
Number = Annotated[Decimal, BeforeValidator(_decimal), WithJsonSchema(NUMBER_SCHEMA)]


class M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class _Range(M):
    """A number: exactly (a scalar, or ``equals``), or between ``at_least`` and ``at_most`` (either or both)."""

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, value: object) -> object:
        return value if isinstance(value, dict) else {"equals": value}

    @model_validator(mode="after")
    def _some(self) -> "_Range":
        if self.equals is None and self.at_least is None and self.at_most is None:
            raise ValueError("give equals, at_least or at_most")
        return self


class AmountRange(_Range):
    """An amount with its asset: ``"1 500.00 KZT"`` (exactly) or ``{at_least: …, at_most: …}``."""
    equals: Amount | None = None
    at_least: Amount | None = None
    at_most: Amount | None = None


class NumberRange(_Range):
    """A plain number (a count, basis points, a percentage): ``12`` or ``{at_least: 10, at_most: 15}``."""
    equals: Number | None = None
    at_least: Number | None = None
    at_most: Number | None = None
