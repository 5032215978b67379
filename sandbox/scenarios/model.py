"""The scenario schema: header, actors, one model per step verb, expectations."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

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


class Actor(M):
    kyc: Literal["none", "basic", "full"] = "full"
    resident: bool | None = None             # explicit; else from days_in_kazakhstan; else resident
    aifc_investor: bool = False
    days_in_kazakhstan: int | None = Field(default=None, ge=0, le=366)   # presence in the 12 months before now
    deposits: list[Amount] = Field(default_factory=list, max_length=20)


class MerchantAdd(M):
    """A merchant added to the preset's list (``merchants_add:``), without re-declaring the others."""
    id: Name
    name: str = Field(min_length=1, max_length=120)
    mcc: Annotated[str, Field(pattern=r"^\d{4}$")]
    city: str = "Alatau"
    in_zone: bool = True
    # as in the configuration: an in-zone merchant holds a zone_merchant licence (checked with the city's)
    licences: list[dict[str, Any]] = Field(default_factory=list, max_length=10)


class WebhookReceiver(M):
    """A stand-in for the tester's app: the scenario registers it as a webhook endpoint for ``events``
    (types, ``prefix.*`` or ``*``), verifies each delivery's signature and answers ``answer`` (e.g. 500
    to watch the retries). ``within_ms``: how long a ``webhooks:`` expectation waits for deliveries."""
    events: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(default_factory=lambda: ["*"],
                                                                            min_length=1, max_length=50)
    answer: int = Field(default=200, ge=200, le=599)
    within_ms: int = Field(default=5000, ge=0, le=60_000)


MAX_RECEIVERS = 10


class ScenarioHeader(M):
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    config: str = "crypto-city"
    config_overrides: dict[str, Any] = Field(default_factory=dict)
    merchants_add: list[MerchantAdd] = Field(default_factory=list, max_length=100)
    seed: int | None = None
    actors: dict[Name, Actor] = Field(min_length=1, max_length=1000)
    webhooks: dict[Name, WebhookReceiver] = Field(default_factory=dict, max_length=MAX_RECEIVERS)


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
    """A purchase. ``channel`` card_present (a tap, the default) or card_not_present, which checks the
    ``expiry`` (MM/YY) and ``cvv`` typed: each ``correct`` (the card's own), ``wrong``, or written out."""
    actor: Name
    merchant: Name
    amount: Amount
    ref: Name
    kind: Literal["purchase", "atm_withdrawal", "p2p"] | None = None  # None: a purchase (the MCC may decide)
    channel: Literal["card_present", "card_not_present"] = "card_present"
    expiry: Annotated[str, Field(pattern=r"^(correct|wrong|\d{2}/\d{2})$")] | None = None
    cvv: Annotated[str, Field(pattern=r"^(correct|wrong|\d{3,4})$")] | None = None

    @model_validator(mode="after")
    def _details_online_only(self) -> "PayArgs":
        if self.channel == "card_present" and (self.expiry or self.cvv):
            raise ValueError("expiry and cvv are typed online: give channel: card_not_present")
        if self.channel == "card_not_present" and not (self.expiry and self.cvv):
            raise ValueError("an online purchase gives expiry and cvv (correct, wrong, or the digits)")
        return self


class RefArgs(M):        # capture, reverse, refund, expire
    ref: Name
    amount: Amount | None = None
    key: Annotated[str, Field(min_length=1, max_length=200)] | None = None   # the clearing step's own key


class KycArgs(M):
    actor: Name
    tier: Literal["none", "basic", "full"]
    reason: str = Field(default="", max_length=200)


class RenewArgs(M):
    licence: Name
    valid_until: Instant
    reason: str = Field(default="", max_length=200)


class WithdrawArgs(M):
    actor: Name
    amount: Amount
    address: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    to: Name | None = None                  # an actor: their own deposit address
    key: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> "WithdrawArgs":
        if (self.address is None) == (self.to is None):
            raise ValueError("give exactly one of address (a regtest address) or to (an actor)")
        return self


class WhitelistArgs(M):
    actor: Name
    address: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    to: Name | None = None
    chain: Literal["bitcoin"] = "bitcoin"

    @model_validator(mode="after")
    def _one_destination(self) -> "WhitelistArgs":
        if (self.address is None) == (self.to is None):
            raise ValueError("give exactly one of address (a regtest address) or to (an actor)")
        return self


class AdvanceToArgs(M):
    at: Instant

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, value: object) -> object:
        return {"at": value} if isinstance(value, (str, datetime)) else value


class IncrementArgs(M):  # increment: a bigger hold on the purchase `ref`
    ref: Name
    amount: Amount


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


class RegisterFarmArgs(M):
    """A farm: an actor (onboarded) that runs machines at ``location`` (docs/mining.md)."""
    farm: Name
    location: Name
    power_source: Literal["grid", "own_offgrid"] = "grid"
    hashrate_ths: int = Field(ge=1, le=10**9)
    efficiency_j_per_th: Number
    max_load_kw: int | None = Field(default=None, ge=1, le=10**9)
    meter_working: bool = True
    licensed: bool = True
    sell_pct: int = Field(default=0, ge=0, le=100)


class MeterArgs(M):
    farm: Name
    working: bool


class FarmArgs(M):       # pay_levy
    farm: Name


class CloseFarmArgs(M):
    farm: Name
    reason: str = Field(default="", max_length=200)


class DetectArgs(M):     # detect: no arguments (``- detect: {}``)
    @model_validator(mode="before")
    @classmethod
    def _none(cls, value: object) -> object:
        return {} if value is None else value


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


class DeliveryPattern(EventPattern):
    """One expected webhook delivery: the event's type and data (as ``EventPattern``) and, when given, the
    number of times it was POSTed (``attempts``: 1 when the app answered 2xx at once)."""
    attempts: NumberRange | None = None


DeliveryPatterns = Annotated[list[DeliveryPattern], Field(max_length=MAX_EVENT_PATTERNS)]
Deliveries = Annotated[dict[Name, DeliveryPatterns], Field(max_length=MAX_RECEIVERS)]


class FlagsExpect(M):
    """Rule names of AML flags: ``contains`` (these among others) or ``exactly`` (this set, no other);
    a plain list means ``contains``, and ``[]`` means none at all."""
    contains: list[str] | None = Field(default=None, max_length=50)
    exactly: list[str] | None = Field(default=None, max_length=50)

    @model_validator(mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        if isinstance(value, list):
            return {"exactly": []} if not value else {"contains": value}
        return value

    @model_validator(mode="after")
    def _one(self) -> "FlagsExpect":
        if (self.contains is None) == (self.exactly is None):
            raise ValueError("give contains or exactly")
        return self


class SoldExpect(M):
    """One asset sold to fund a purchase: its quantity, average price (tenge per whole unit), proceeds,
    the exchange's fee and the slippage against the best price, each exact or a range."""
    asset: Annotated[str, Field(pattern=r"^[A-Z]{2,10}$")]
    qty: AmountRange | None = None
    avg_price: AmountRange | None = None
    proceeds: AmountRange | None = None
    fee: AmountRange | None = None
    slippage_bps: NumberRange | None = None


Status = Literal["approved", "declined", "ok", "error", "captured", "reversed", "refunded", "expired",
                 "confirmed", "broadcast", "pending_cold"]   # the last three: a withdrawal's status


class Outcome(M):
    """What one step's own result must show."""
    status: Status | None = None
    response_code: Annotated[str, Field(pattern=r"^[0-9A-Z]{2}$")] | None = None
    reason_contains: str | None = None
    error: str | None = None                # the error's snake_case code, e.g. not_licensed
    flags: FlagsExpect | None = None        # rule names raised by this step
    amount: AmountRange | None = None       # the approved amount
    conversion_fee: AmountRange | None = None
    shortfall: AmountRange | None = None    # what the bank account was short (funded by selling crypto)
    sold: list[SoldExpect] | None = Field(default=None, max_length=20)   # exactly these assets, in this order


class StepExpect(Outcome):
    """Expectations on the step's own result; ``one_of``: the step passes if it matches any one of these
    outcomes (each a full set of expectations, e.g. approved, or declined with 51)."""
    one_of: list[Outcome] | None = Field(default=None, min_length=2, max_length=10)
    events: EventPatterns | None = None          # events this step wrote: these, in this order, among others
    events_exactly: EventPatterns | None = None  # events this step wrote: exactly these, in this order
    webhooks: Deliveries | None = None           # per receiver: deliveries of this step's events, in order
    webhooks_exactly: Deliveries | None = None   # per receiver: exactly these deliveries of this step's events


BalanceExpect = AmountRange   # the name the format used first


class LineExpect(M):
    """One line of the tax statement (a FIFO disposal), in the statement's order."""
    asset: Annotated[str, Field(pattern=r"^[A-Z]{2,10}$")] | None = None
    source: str | None = None               # card, exchange, …
    qty: AmountRange | None = None
    proceeds: AmountRange | None = None
    cost: AmountRange | None = None         # the FIFO cost basis of the coins sold
    gain: AmountRange | None = None


class TaxExpect(M):
    year: int = 2025
    resident: bool | None = None
    residency_contains: str | None = None    # words of the rule that decided residency
    disposals: NumberRange | None = None
    pit: AmountRange | None = None
    net_gain: AmountRange | None = None
    net_gain_at_least: Amount | None = None  # the older spelling of net_gain: {at_least: …}
    pit_rate_pct: str | None = None
    tax_of_gain_pct: NumberRange | None = None   # personal income tax as a percentage of the net gain
    lines: list[LineExpect] | None = Field(default=None, max_length=200)   # the first N lines, in order
    vat: Literal["exempt"] | None = None


class ExpectBlock(M):
    balances: dict[Name, dict[str, BalanceExpect]] | None = None
    flags: dict[Name, FlagsExpect] | None = None      # [] means "no flags at all"
    accounts: dict[Annotated[str, Field(min_length=3, max_length=200)], AmountRange] | None = None  # ledger codes
    merchants: dict[Name, AmountRange] | None = None   # a merchant's tenge settlement account
    tax: dict[Name, TaxExpect] | None = None
    verify: bool | None = None                        # ledger invariants hold
    events: EventPatterns | None = None               # events since the scenario began (set-up included)
    events_exactly: EventPatterns | None = None
    webhooks: Deliveries | None = None                # per receiver: deliveries since the scenario began
    webhooks_exactly: Deliveries | None = None


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
    "increment": (IncrementArgs, StepExpect),
    "advice": (PayArgs, StepExpect),
    "expire": (RefArgs, StepExpect),
    "force_post": (PayArgs, StepExpect),
    "unlinked_refund": (PayArgs, StepExpect),
    "advance": (AdvanceArgs, StepExpect),
    "advance_to": (AdvanceToArgs, StepExpect),
    "set_kyc": (KycArgs, StepExpect),
    "withdraw": (WithdrawArgs, StepExpect),
    "whitelist": (WhitelistArgs, StepExpect),
    "suspend_licence": (LicenceArgs, StepExpect),
    "reinstate_licence": (LicenceArgs, StepExpect),
    "renew_licence": (RenewArgs, StepExpect),
    "register_farm": (RegisterFarmArgs, StepExpect),
    "meter": (MeterArgs, StepExpect),
    "pay_levy": (FarmArgs, StepExpect),
    "detect": (DetectArgs, StepExpect),
    "close_farm": (CloseFarmArgs, StepExpect),
    "expect": (ExpectBlock, None),
}
VERBS = tuple(STEP_MODELS)
