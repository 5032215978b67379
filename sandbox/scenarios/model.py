"""The scenario schema: header, actors, one model per step verb (expectations: ``expectations.py``; the
values and ranges they are written in: ``values.py``, both re-exported here)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from card import ScopedLimit
from card.errors import InvalidSpendControls

from .expectations import (MAX_EVENT_PATTERNS, MAX_RECEIVERS, DeliveryPattern, EventPattern, ExpectBlock,  # noqa: F401
                           FlagsExpect, LineExpect, Outcome, SoldExpect, StepExpect, TaxExpect)
from .values import (AMOUNT_SCHEMA, DURATION_SCHEMA, INSTANT_SCHEMA, NUMBER_SCHEMA, Amount, AmountRange,  # noqa: F401
                     Duration, Instant, M, Name, Number, NumberRange)


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


class ScopedLimitArgs(M):
    """A limit on the purchases at one merchant category (``mcc``) or one ``merchant``: ``amount`` (tenge)
    and/or ``count`` over ``window`` (docs/card.md#spend-controls)."""
    window: Literal["transaction", "day", "week", "month", "lifetime"]
    mcc: Annotated[str, Field(pattern=r"^\d{4}$")] | None = None
    merchant: Name | None = None
    amount: Amount | None = None
    count: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _a_scoped_limit(self) -> "ScopedLimitArgs":
        """Tenge, then the card package's own rules (one scope, a limit, no count per transaction)."""
        if self.amount is not None and self.amount.asset != "KZT":
            raise ValueError("a limit is in tenge (KZT)")
        try:
            self.as_api()
        except InvalidSpendControls as error:
            raise ValueError(str(error)) from None
        return self

    def as_api(self) -> dict:
        """The limit as ``PUT /api/v1/cards/{id}/controls`` takes it (checked by ``card.ScopedLimit``)."""
        return ScopedLimit(self.window, self.mcc, self.merchant, None if self.amount is None else
                           self.amount.amount_minor, self.count).to_dict()


_CONTROL_AMOUNTS = {"per_transaction": "per_transaction_limit_minor", "daily": "daily_limit_minor",
                    "weekly": "weekly_limit_minor", "monthly": "monthly_limit_minor",
                    "lifetime": "lifetime_limit_minor"}
_CONTROL_COUNTS = ("daily_count", "weekly_count", "monthly_count", "lifetime_count")


class ControlsArgs(M):
    """Change the spend controls of the actor's card: only those named change (``null`` removes a limit);
    ``scoped``, when given, replaces the card's scoped limits."""
    actor: Name
    per_transaction: Amount | None = None
    daily: Amount | None = None
    weekly: Amount | None = None
    monthly: Amount | None = None
    lifetime: Amount | None = None
    daily_count: int | None = Field(default=None, ge=1, le=10_000)
    weekly_count: int | None = Field(default=None, ge=1, le=1_000_000)
    monthly_count: int | None = Field(default=None, ge=1, le=1_000_000)
    lifetime_count: int | None = Field(default=None, ge=1, le=1_000_000)
    allowed_mccs: list[Annotated[str, Field(pattern=r"^\d{4}$")]] | None = Field(default=None, max_length=200)
    zone_only: bool | None = None
    scoped: list[ScopedLimitArgs] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _tenge(self) -> "ControlsArgs":
        for name in _CONTROL_AMOUNTS:
            amount = getattr(self, name)
            if amount is not None and amount.asset != "KZT":
                raise ValueError(f"{name} is a limit in tenge (KZT)")
        return self

    def changes(self) -> dict:
        """The controls named, in the API's names (``PUT /api/v1/cards/{id}/controls``)."""
        given = self.model_fields_set
        out: dict = {}
        for name, api in _CONTROL_AMOUNTS.items():
            if name in given:
                amount = getattr(self, name)
                out[api] = None if amount is None else amount.amount_minor
        for name in _CONTROL_COUNTS:
            if name in given:
                out[f"{name}_limit"] = getattr(self, name)
        if "allowed_mccs" in given:
            out["allowed_mccs"] = self.allowed_mccs
        if "zone_only" in given:
            out["zone_only"] = bool(self.zone_only)
        if "scoped" in given:
            out["scoped_limits"] = [s.as_api() for s in self.scoped or ()]
        return out


class RenewArgs(M):
    licence: Name
    valid_until: Instant
    reason: str = Field(default="", max_length=200)
    applied_at: Instant | None = None   # when the participant applied (default: the step's time)
    exit_plan: str | None = Field(default=None, min_length=1, max_length=2_000)   # AFSA asks for one


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
    "set_controls": (ControlsArgs, StepExpect),
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
