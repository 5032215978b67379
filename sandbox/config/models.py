"""The configuration schema of a Crypto City (pydantic v2, unknown keys refused).

Amounts are written as human strings ("2 500.00 KZT") or ints of minor units and
become ints of minor units. Durations are strings like "7d" or "10m".
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import lru_cache
from importlib import resources
import typing
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ledger import parse_amount
from ledger.errors import LedgerError

from ..clock import DurationError, parse_duration

Scope = Literal["trading_facility", "custody", "stablecoin_issuer", "crypto_card_pilot", "zone_merchant", "bank"]
RegulatorKind = Literal["aifc", "national_bank", "zone_authority"]
Tier = Literal["none", "basic", "full"]

MAX_LIST = 10_000  # limits on everything that can grow


def _amount(value: object) -> object:
    """'2 500.00 KZT' -> 250000 (minor units); ints pass through; floats refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("write an amount as text like '2 500.00 KZT' or an int of minor units, not a float")
    if isinstance(value, str):
        try:
            return parse_amount(value).amount_minor
        except LedgerError as error:
            raise ValueError(str(error)) from None
    return value


def _duration(value: object) -> object:
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except DurationError as error:
            raise ValueError(str(error)) from None
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


_ZONE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$")


@lru_cache(maxsize=64)
def load_zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` ("Asia/Almaty", "UTC"); a ValueError if there is no such zone.

    Read from the ``tzdata`` package first, the operating system's database only without it: the
    offsets must not depend on the machine (Kazakhstan moved to UTC+5 on 1 March 2024; a system
    database older than 2024a still puts Almaty at UTC+6, so days would end an hour apart).
    """
    if not isinstance(name, str) or len(name) > 64 or not _ZONE_NAME.match(name):
        raise ValueError("not a time zone name; use an IANA name such as Asia/Almaty or UTC")
    try:
        with resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).open("rb") as data:
            return ZoneInfo.from_file(data, key=name)
    except (ModuleNotFoundError, OSError, ValueError):
        pass   # no tzdata package, or no such file in it: ask the system's database
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("no such time zone; use an IANA name such as Asia/Almaty or UTC") from None


def _zone_name(value: str) -> str:
    load_zone(value)
    return value


AmountMinor = Annotated[int, BeforeValidator(_amount), Field(ge=0)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
UtcTime = Annotated[datetime, AfterValidator(_aware)]
Bps = Annotated[int, Field(ge=0, le=10_000)]
Pct = Annotated[Decimal, Field(ge=0, le=100)]
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ZoneName = Annotated[str, AfterValidator(_zone_name)]


class Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def renamed(new: str, old: str) -> AliasChoices:
    """The keys a renamed setting is read from: its name now, and its old name (a file written before
    the rename keeps working). Giving both is refused; the configuration is written with the new name."""
    return AliasChoices(new, old)


def old_names(model: type[BaseModel]) -> dict[str, str]:
    """``{old key: new key}`` of the renamed settings of ``model``."""
    out = {}
    for name, field in model.model_fields.items():
        if isinstance(field.validation_alias, AliasChoices):
            out.update({old: name for old in field.validation_alias.choices if old != name})
    return out


def canonical(data: object, model: object = None) -> object:
    """A configuration mapping with every old key renamed to its new name, all the way down (so that
    a file and the overrides laid over it agree on names before they are merged). Values the schema
    does not know are left as they are, for validation to name."""
    model = _model_of(model if model is not None else CityConfig)
    if isinstance(model, type) and issubclass(model, Base):
        if not isinstance(data, dict):
            return data
        renames = old_names(model)
        if any(new in data for old, new in renames.items() if old in data):
            return data   # both names given: validation refuses it and says so
        data = {renames.get(k, k): v for k, v in data.items()}
        fields = model.model_fields
        return {k: canonical(v, fields[k].annotation) if k in fields else v for k, v in data.items()}
    origin = typing.get_origin(model)
    args = typing.get_args(model)
    if origin is list and args and isinstance(data, list):
        return [canonical(v, args[0]) for v in data]
    if origin is dict and len(args) == 2 and isinstance(data, dict):
        return {k: canonical(v, args[1]) for k, v in data.items()}
    return data


def _model_of(tp: object) -> object:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


class SandboxSection(Base):
    name: str = Field(min_length=1, max_length=100)
    seed: int = 42
    start: UtcTime = datetime(2025, 6, 1, 9, 0, tzinfo=timezone.utc)
    # The city's calendar: which day, month and year a moment falls in for the card's daily and
    # monthly limits and counts, the KYC daily limit, tax years, residency days and the regulator's
    # daily figures. Time itself stays UTC everywhere.
    timezone: ZoneName = "Asia/Almaty"

    @property
    def zone(self) -> tzinfo:
        """``timezone`` as a tzinfo."""
        return load_zone(self.timezone)


class Regulator(Base):
    id: Ident
    name: str
    kind: RegulatorKind
    # Renewal on application (AFSA's FinTech Lab: at least 2 months before expiry, for 2-year licences): how many
    # months before a licence ends its renewal must be asked for, and how far one renewal may extend it.
    renewal_notice_months: Annotated[int, Field(ge=0, le=24)] = 0
    max_renewal_months: Annotated[int, Field(ge=1, le=120)] | None = None
    renewal_requires_exit_plan: bool = False   # AFSA's FinTech Lab: an application carries an exit plan


class Licence(Base):
    id: Ident
    regulator: Ident
    scope: Scope
    valid_from: UtcTime
    valid_until: UtcTime
    renewable: bool = True


class Participant(Base):
    id: Ident
    name: str
    licences: list[Licence] = Field(default_factory=list, max_length=50)


class AssetCfg(Base):
    code: Annotated[str, Field(pattern=r"^[A-Z]{2,10}$")]
    decimals: Annotated[int, Field(ge=0, le=18)]
    reference_price_kzt: Annotated[Decimal, Field(gt=0)]
    volatility: Annotated[Decimal, Field(ge=0, le=5)] = Decimal("0")
    drift: Annotated[Decimal, Field(ge=-1, le=1)] = Decimal("0")


class InstrumentCfg(Base):
    symbol: Annotated[str, Field(pattern=r"^[A-Z]{2,10}/[A-Z]{2,10}$")]
    base: str
    quote: str
    tick: Annotated[Decimal, Field(gt=0)]
    lot: Annotated[Decimal, Field(gt=0)]
    min_notional_minor: AmountMinor = Field(0, validation_alias=renamed("min_notional_minor", "min_notional"))
    maker_fee_bps: Bps = 10
    taker_fee_bps: Bps = 10


class MarketMakerCfg(Base):
    instrument: str
    levels: Annotated[int, Field(ge=1, le=100)] = 5
    size: Annotated[Decimal, Field(gt=0)]
    spread_bps: Bps = 20


class CustodyCfg(Base):
    custodian: Ident
    confirmations: dict[str, Annotated[int, Field(ge=0, le=1000)]]
    # The custodian's coins by tier, as a share of all it holds on chain: hot (online, pays withdrawals),
    # warm (one step away), the rest cold (offline). ``POST /api/v1/custody/rebalance`` moves them there.
    hot_pct: Pct = Field(Decimal("5"), validation_alias=renamed("hot_pct", "hot_ceiling_pct"))
    warm_pct: Pct = Decimal("15")
    travel_rule_threshold_minor: AmountMinor = Field(
        validation_alias=renamed("travel_rule_threshold_minor", "travel_rule_threshold"))

    @model_validator(mode="after")
    def _tiers_fit(self):
        if self.hot_pct + self.warm_pct > 100:
            raise ValueError(f"hot_pct ({self.hot_pct}) and warm_pct ({self.warm_pct}) add up to more than 100")
        return self


class StablecoinCfg(Base):
    symbol: str = "KZTE"
    reserve_currency: str = "KZT"
    issuer: Ident


class CardProgrammeCfg(Base):
    issuer: Ident
    test_bin: Annotated[str, Field(pattern=r"^\d{6,8}$")]
    conversion_fee_bps: Bps = 100
    per_transaction_limit_minor: AmountMinor = Field(
        validation_alias=renamed("per_transaction_limit_minor", "per_transaction_limit"))
    daily_limit_minor: AmountMinor = Field(validation_alias=renamed("daily_limit_minor", "daily_limit"))
    daily_count_limit: Annotated[int, Field(ge=1, le=10_000)] = 20
    blocked_mccs: list[Annotated[str, Field(pattern=r"^\d{4}$")]] = Field(
        default_factory=lambda: ["6010", "6011", "4829", "6012", "7995"], max_length=1000)
    funding_order: list[str] = Field(default_factory=lambda: ["KZTE", "USDT", "BTC", "ETH"], min_length=1, max_length=20)
    funding_mode: Literal["combine", "fallback"] = "combine"
    slippage_cap_bps: Bps = 200
    hold_expiry_days: Annotated[int, Field(ge=1, le=31)] = 7
    # lodging, cruises and vehicle rental (card/hold_duration.py): the networks' extended authorizations
    extended_hold_expiry_days: Annotated[int, Field(ge=1, le=31)] = 30
    auth_deadline_ms: Annotated[int, Field(ge=100, le=30_000)] = 2000
    mdr_bps: Bps = 150
    # ATM withdrawals (MCC 6010/6011) and P2P transfers (4829/6012): the 2025 pilot permitted neither (57)
    allow_atm: bool = False
    allow_p2p: bool = False
    # clearing policy (card/policy.py): how far over the authorization a capture may go, per MCC
    # ("default" for the rest), and what a refund or reversal of a just-in-time sale gives back
    over_capture_tolerance_bps: dict[Annotated[str, Field(pattern=r"^(\d{4}|default)$")], Bps] = Field(
        default_factory=dict, max_length=1000)
    refund_policy: Literal["tenge", "buy_back"] = "tenge"
    refund_conversion_fee: Literal["returned", "kept"] = "kept"
    reversal_policy: Literal["keep_tenge", "buy_back"] = "keep_tenge"
    # The decision gateway (sandbox/gateway/): an app that approves each purchase. A URL set at runtime
    # (PUT /api/v1/card-programme/decision) is kept in the database and wins over this one.
    decision_url: Annotated[str, Field(pattern=r"^https?://[^\s/]+", max_length=2000)] | None = None
    decision_secret: Annotated[str, Field(pattern=r"^whsec_[A-Za-z0-9+/=]+$", max_length=100)] | None = None
    decision_deadline_ms: Annotated[int, Field(ge=500, le=3000)] = 2000
    stand_in: Literal["approve_with_sandbox_rules", "decline", "tenge_only"] = "decline"
    partial_approval: bool = False

    @model_validator(mode="after")
    def _extended_holds_last_longer(self):
        if self.extended_hold_expiry_days < self.hold_expiry_days:
            raise ValueError(f"extended_hold_expiry_days ({self.extended_hold_expiry_days}) may not be shorter "
                             f"than hold_expiry_days ({self.hold_expiry_days})")
        return self

    @model_validator(mode="after")
    def _decision_secret_with_url(self):
        if self.decision_url is not None and self.decision_secret is None:
            raise ValueError("decision_url needs decision_secret (a whsec_ signing secret)")
        return self


class KycTierCfg(Base):
    can_trade: bool
    can_pay: bool
    per_transaction_limit_minor: AmountMinor = Field(
        0, validation_alias=renamed("per_transaction_limit_minor", "per_transaction_limit"))
    daily_limit_minor: AmountMinor = Field(0, validation_alias=renamed("daily_limit_minor", "daily_limit"))
    monthly_limit_minor: AmountMinor = Field(0, validation_alias=renamed("monthly_limit_minor", "monthly_limit"))


class KycCfg(Base):
    tiers: dict[Tier, KycTierCfg]


class StructuringCfg(Base):
    count: Annotated[int, Field(ge=2, le=1000)] = 3
    window: Duration = timedelta(hours=24)
    below_threshold_pct: Annotated[Decimal, Field(gt=0, le=50)] = Decimal("10")


class BlocklistsCfg(Base):
    merchants: list[Ident] = Field(default_factory=list, max_length=MAX_LIST)
    addresses: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    sites: list[str] = Field(default_factory=list, max_length=MAX_LIST)


class AmlCfg(Base):
    large_transaction_threshold_minor: AmountMinor = Field(
        validation_alias=renamed("large_transaction_threshold_minor", "large_transaction_threshold"))
    velocity_window: Duration = timedelta(minutes=10)
    velocity_count: Annotated[int, Field(ge=1, le=10_000)] = 5
    structuring: StructuringCfg = StructuringCfg()
    blocklists: BlocklistsCfg = BlocklistsCfg()
    action: Literal["decline", "flag"] = "decline"


class TaxCfg(Base):
    pit_resident_pct: Pct = Decimal("10")
    pit_non_resident_pct: Pct = Decimal("20")
    cit_pct: Pct = Decimal("20")
    vat_pct: Pct = Decimal("12")
    vat_digital_assets_exempt: bool = True
    residency_days: Annotated[int, Field(ge=1, le=366)] = 183
    residency_days_aifc_investor: Annotated[int, Field(ge=1, le=366)] = 90


class MerchantCfg(Base):
    id: Ident
    name: str
    mcc: Annotated[str, Field(pattern=r"^\d{4}$")]
    city: str = "Alatau"
    in_zone: bool = True
    licences: list[Licence] = Field(default_factory=list, max_length=10)


class MiningCfg(Base):
    """Digital mining (docs/mining.md). Defaults are Kazakhstan's: the levy on mining electricity of
    2 KZT/kWh from the unified grid and 1 KZT/kWh from own or renewable power off it (from 1 Jan 2024),
    assessed at maximum load without a working meter. The network figures are assumptions (2025)."""
    regulator_id: Ident = "mddiai"
    regulator_name: str = "Ministry of Digital Development, Innovation and Aerospace Industry"
    licence_years: Annotated[int, Field(ge=1, le=10)] = 3
    levy_grid_tiyn_per_kwh: Annotated[int, Field(ge=0, le=1_000_000)] = 200
    levy_offgrid_tiyn_per_kwh: Annotated[int, Field(ge=0, le=1_000_000)] = 100
    levy_period_days: Annotated[int, Field(ge=1, le=92)] = 1
    levy_grace_days: Annotated[int, Field(ge=0, le=365)] = 3
    # the farm's power bill, for its profit (an assumption: 0 leaves it out; the levy is always counted)
    tariff_tiyn_per_kwh: Annotated[int, Field(ge=0, le=1_000_000)] = 0
    # power allotted to mining (MW) that caps the licensed farms' total load; None: no cap
    surplus_power_mw: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    block_interval_s: Annotated[int, Field(ge=1, le=86_400)] = 600
    block_subsidy_sat: Annotated[int, Field(ge=0, le=5_000_000_000)] = 312_500_000
    network_hashrate_ths: Annotated[int, Field(ge=1, le=10**12)] = 800_000_000
    coinbase_maturity_blocks: Annotated[int, Field(ge=1, le=1000)] = 100
    max_blocks_per_advance: Annotated[int, Field(ge=1, le=100_000)] = 4320
    # the grid operator: a location's ordinary load (kW), the noise of its meter and the detection rule
    grid_baseline_kw: dict[Ident, Annotated[int, Field(ge=0, le=10**9)]] = Field(default_factory=dict, max_length=1000)
    default_baseline_kw: Annotated[int, Field(ge=0, le=10**9)] = 2000
    grid_noise_bps: Bps = 200
    detection_tolerance_bps: Bps = 500
    min_unexplained_kwh: Annotated[int, Field(ge=0, le=10**9)] = 100


class CityConfig(Base):
    sandbox: SandboxSection
    regulators: list[Regulator] = Field(min_length=1, max_length=20)
    participants: list[Participant] = Field(min_length=1, max_length=200)
    assets: list[AssetCfg] = Field(min_length=1, max_length=50)
    instruments: list[InstrumentCfg] = Field(default_factory=list, max_length=200)
    market_makers: list[MarketMakerCfg] = Field(default_factory=list, max_length=200)
    custody: CustodyCfg
    stablecoin: StablecoinCfg
    card: CardProgrammeCfg
    crypto_payments_allowed: bool
    kyc: KycCfg
    aml: AmlCfg
    tax: TaxCfg = TaxCfg()
    mining: MiningCfg = MiningCfg()
    merchants: list[MerchantCfg] = Field(default_factory=list, max_length=MAX_LIST)

    def regulator(self, regulator_id: str) -> Regulator | None:
        return next((r for r in self.regulators if r.id == regulator_id), None)

    def asset(self, code: str) -> AssetCfg | None:
        return next((a for a in self.assets if a.code == code), None)

    def merchant(self, merchant_id: str) -> MerchantCfg | None:
        return next((m for m in self.merchants if m.id == merchant_id), None)
