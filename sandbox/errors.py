"""The sandbox's own refusals: one class per refusal, each with a constant ``code``.

Every error in cryptocity derives from ``ledger.errors.DomainError`` (``(message, *, code, **details)``),
so the CLI, the web layer and scenario runs handle them alike: the web layer maps a code to an HTTP
status (``sandbox/web/problems.py``) without knowing which package raised it.
"""
from __future__ import annotations

from ledger.errors import DomainError


class CityError(DomainError):
    """A refusal by the city itself (the composition root): unknown actor, bad amount, …"""

    code = "city_error"


# -- customers and KYC
class InvalidActor(CityError):
    code = "invalid_actor"


class InvalidName(CityError):
    code = "invalid_name"


class UnknownActor(CityError):
    code = "unknown_actor"


class AlreadyOnboarded(CityError):
    code = "already_onboarded"


class TooManyActors(CityError):
    code = "too_many_actors"


class InvalidKycTier(CityError):
    code = "invalid_kyc_tier"


class KycNotPermitted(CityError):
    code = "kyc_not_permitted"


class InvalidResidency(CityError):
    code = "invalid_residency"


class InvalidDaysInKazakhstan(CityError):
    code = "invalid_days_in_kazakhstan"


class InvalidReason(CityError):
    code = "invalid_reason"


# -- money in and out
class UnknownAsset(CityError):
    code = "unknown_asset"


class InvalidAmount(CityError):
    code = "invalid_amount"


class DustAmount(CityError):
    code = "dust_amount"


class WithdrawalAssetNotSupported(CityError):
    code = "withdrawal_asset_not_supported"


class InvalidTravelRule(CityError):
    code = "invalid_travel_rule"


class ChainNotShared(CityError):
    """An on-chain verb on a city that several processes serve while its chain lives in one process."""

    code = "chain_not_shared"


# -- cards and payments
class UnknownReference(CityError):
    code = "unknown_reference"


class InvalidClearing(CityError):
    code = "invalid_clearing"


class ChainHalted(CityError):
    """The regtest chain is halted by an incident: nothing that needs a block can be done now."""

    code = "chain_halted"


class ControlAboveProgrammeLimit(CityError):
    code = "control_above_programme_limit"


class InvalidFundingOrder(CityError):
    code = "invalid_funding_order"


class InvalidFundingSettings(CityError):
    code = "invalid_funding_settings"


class SlippageAboveProgrammeCap(CityError):
    code = "slippage_above_programme_cap"


# -- trading
class OrderNotFound(CityError):
    code = "order_not_found"


# -- KZTE
class InvalidAddress(CityError):
    code = "invalid_address"


class AddressProtected(CityError):
    code = "address_protected"


# -- time, licences, the audit log
class InvalidDuration(CityError):
    code = "invalid_duration"


class InvalidDate(CityError):
    code = "invalid_date"


class InvalidIdempotencyKey(CityError):
    code = "invalid_idempotency_key"


class AuditTampered(CityError):
    code = "audit_tampered"
