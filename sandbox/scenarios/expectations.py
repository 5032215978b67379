"""What a scenario expects: of one step's own result (``Outcome``, ``StepExpect``), and of the city in an
``expect`` step (``ExpectBlock``: balances, accounts, flags, tax, events, webhook deliveries, invariants)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .values import Amount, AmountRange, M, Name, NumberRange

MAX_RECEIVERS = 10   # webhook receivers a scenario declares

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
