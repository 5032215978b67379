"""The scenario schema: header, actors, one model per step verb, expectations."""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

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


Amount = Annotated[Money, BeforeValidator(_money)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]


class M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Actor(M):
    kyc: Literal["none", "basic", "full"] = "full"
    resident: bool | None = None             # explicit; else from days_in_kazakhstan; else resident
    aifc_investor: bool = False
    days_in_kazakhstan: int | None = Field(default=None, ge=0, le=366)   # presence in the 12 months before now
    deposits: list[Amount] = Field(default_factory=list, max_length=20)


class ScenarioHeader(M):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    config: str = "crypto-city"
    config_overrides: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    actors: dict[Name, Actor] = Field(min_length=1, max_length=1000)


# --- step arguments -----------------------------------------------------------------------
class OnboardArgs(M):
    actor: Name
    kyc: Literal["none", "basic", "full"] = "full"
    resident: bool | None = None
    aifc_investor: bool = False
    days_in_kazakhstan: int | None = Field(default=None, ge=0, le=366)
    deposits: list[Amount] = Field(default_factory=list, max_length=20)


class FundArgs(M):       # faucet, deposit, mint, redeem
    actor: Name
    amount: Amount


class TradeArgs(M):      # buy: spend `amount` of the quote; sell: sell `amount` of the base
    actor: Name
    instrument: Annotated[str, Field(pattern=r"^[A-Z]{2,10}/[A-Z]{2,10}$")]
    amount: Amount


class PayArgs(M):
    actor: Name
    merchant: Name
    amount: Amount
    ref: Name


class RefArgs(M):        # capture, reverse, refund, expire
    ref: Name
    amount: Amount | None = None


class CaptureArgs(RefArgs):
    final: bool = True   # false: keep the rest of the hold for another partial capture


class LicenceArgs(M):
    licence: Name
    reason: str = ""


class AdvanceArgs(M):
    by: Duration

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, value: object) -> object:
        return {"by": value} if isinstance(value, str) else value


# --- expectations -------------------------------------------------------------------------
MAX_EVENT_PATTERNS = 100


class EventPattern(M):
    """One expected event: its type, and fields its ``data`` must have (a subset; nested objects too)."""
    type: str
    data: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> "EventPattern":
        from ..events import EVENT_TYPES
        if self.type not in EVENT_TYPES:
            raise ValueError(f"{self.type!r} is not an event type; known: {', '.join(EVENT_TYPES)}")
        return self


EventPatterns = Annotated[list[EventPattern], Field(max_length=MAX_EVENT_PATTERNS)]


class StepExpect(M):
    """Expectations on the step's own result."""
    status: Literal["approved", "declined", "ok", "error", "captured", "reversed", "refunded", "expired"] | None = None
    response_code: Annotated[str, Field(pattern=r"^\d{2}$")] | None = None
    reason_contains: str | None = None
    error: str | None = None                # the error's snake_case code, e.g. not_licensed
    flags: list[str] | None = None          # rule names raised by this step (subset match)
    events: EventPatterns | None = None          # events this step wrote: these, in this order, among others
    events_exactly: EventPatterns | None = None  # events this step wrote: exactly these, in this order


class BalanceExpect(M):
    equals: Amount | None = None
    at_least: Amount | None = None
    at_most: Amount | None = None

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, value: object) -> object:
        return {"equals": value} if isinstance(value, str) else value


class TaxExpect(M):
    year: int = 2025
    resident: bool | None = None
    residency_contains: str | None = None    # words of the rule that decided residency
    disposals: int | None = None
    pit: Amount | None = None
    net_gain: Amount | None = None
    net_gain_at_least: Amount | None = None
    pit_rate_pct: str | None = None
    vat: Literal["exempt"] | None = None


class ExpectBlock(M):
    balances: dict[Name, dict[str, BalanceExpect]] | None = None
    flags: dict[Name, list[str]] | None = None      # [] means "no flags at all"
    tax: dict[Name, TaxExpect] | None = None
    verify: bool | None = None                        # ledger invariants hold
    events: EventPatterns | None = None               # events since the scenario began (set-up included)
    events_exactly: EventPatterns | None = None


STEP_MODELS: dict[str, tuple[type[M], type[M] | None]] = {
    "onboard": (OnboardArgs, StepExpect),
    "faucet": (FundArgs, StepExpect),
    "deposit": (FundArgs, StepExpect),
    "buy": (TradeArgs, StepExpect),
    "sell": (TradeArgs, StepExpect),
    "mint": (FundArgs, StepExpect),
    "redeem": (FundArgs, StepExpect),
    "pay": (PayArgs, StepExpect),
    "capture": (CaptureArgs, StepExpect),
    "reverse": (RefArgs, StepExpect),
    "refund": (RefArgs, StepExpect),
    "expire": (RefArgs, StepExpect),
    "force_post": (PayArgs, StepExpect),
    "unlinked_refund": (PayArgs, StepExpect),
    "advance": (AdvanceArgs, StepExpect),
    "suspend_licence": (LicenceArgs, StepExpect),
    "reinstate_licence": (LicenceArgs, StepExpect),
    "expect": (ExpectBlock, None),
}
VERBS = tuple(STEP_MODELS)
