"""The rules engine: one pure evaluation in a fixed precedence order, and the card port adapter."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from ..config.models import CityConfig
from ..licensing import LicenceRegistry
from . import aml, kyc
from .decision import CustomerProfile, Flag, PastAuthorization, RulesDecision

NOT_PERMITTED, FRAUD = "57", "59"
HISTORY_WINDOW = timedelta(days=31)
OUTSIDE_ZONE = ("{merchant} is outside the Crypto City zone; crypto may pay only at merchants registered in "
                "the zone")
MAX_HISTORY = 5_000


def evaluate(ctx, profile: CustomerProfile, history: list[PastAuthorization], cfg: CityConfig,
             licences: LicenceRegistry, exchange_id: str = "aifc-exchange") -> RulesDecision:
    """Decide on one card authorization. Pure: same inputs, same decision.

    Precedence (the first decline wins; flags are collected along the way):
      1. 57 the merchant's zone licence or the card pilot licence is not active;
      2. 59 the merchant is blocklisted (flag only when aml.action is "flag");
      3. 57/61 the KYC tier may not pay / its per-purchase, daily (the city's calendar day) or 30-day limit;
      4. 57 the purchase needs a crypto sale (shortfall > 0) but the regime forbids crypto
         payments, the merchant is outside the zone, or the exchange's licence is not active;
      5. AML: large transaction (flag), velocity and structuring (flag; 59 when action is "decline"),
         both over rolling windows ending now, not calendar days.
    """
    at, merchant, amount = ctx.at, ctx.merchant, ctx.amount_minor
    flags: list[Flag] = []

    def decline(code: str, reason: str, template: str = "") -> RulesDecision:
        return RulesDecision(decline_code=code, reason=reason, flags=list(flags), reason_template=template)

    mcfg = cfg.merchant(merchant.id)
    if mcfg is not None and mcfg.licences and not licences.is_licensed(merchant.id, "zone_merchant", at):
        return decline(NOT_PERMITTED, _licence_reason(licences, merchant.id, "zone_merchant", at))
    if not licences.is_licensed(cfg.card.issuer, "crypto_card_pilot", at):
        return decline(NOT_PERMITTED, _licence_reason(licences, cfg.card.issuer, "crypto_card_pilot", at))

    blocked = aml.blocklisted_merchant(cfg.aml, merchant.id)
    if blocked:
        flags.append(blocked)
        if cfg.aml.action == "decline":
            return decline(FRAUD, blocked.reason)

    refused = kyc.check_payment(cfg.kyc, profile.kyc_tier, amount, at, history, cfg.sandbox.zone)
    if refused:
        return decline(*refused)

    if ctx.shortfall_minor > 0:
        if not cfg.crypto_payments_allowed:
            return decline(NOT_PERMITTED, f"{cfg.sandbox.name}: digital assets may not be used as a means of payment, "
                                          "and this purchase needs a crypto sale")
        if not merchant.in_zone:
            # the merchant's name is a value, like an amount: declines of this rule share one template
            return decline(NOT_PERMITTED, OUTSIDE_ZONE.format(merchant=merchant.name), OUTSIDE_ZONE)
        if not licences.is_licensed(exchange_id, "trading_facility", at):
            return decline(NOT_PERMITTED, _licence_reason(licences, exchange_id, "trading_facility", at))

    for flag in (aml.large_transaction(cfg.aml, amount),):
        if flag:
            flags.append(flag)
    for flag in (aml.velocity(cfg.aml, at, history), aml.structuring(cfg.aml, amount, at, history)):
        if flag:
            flags.append(flag)
            if cfg.aml.action == "decline":
                return decline(FRAUD, flag.reason, aml.reason_template(cfg.aml, flag.rule))
    return RulesDecision(decline_code=None, flags=list(flags))


def _licence_reason(licences: LicenceRegistry, participant: str, scope: str, at) -> str:
    from ..licensing import NotLicensed
    try:
        licences.require(participant, scope, at)
    except NotLicensed as error:
        return str(error)
    return f"{participant} is not licensed for {scope}"  # pragma: no cover


class SandboxRules:
    """The card's Rules port: ``check_authorization(uow, ctx) -> RulesDecision``.

    ``profile_of(uow, cardholder_id) -> CustomerProfile`` and
    ``history_later(uow, cardholder_id, since) -> () -> list[PastAuthorization]`` are supplied by
    the facade (they read the city's and the card's tables); the history's read is started first, so
    on PostgreSQL it goes out with the profile's (one round trip). The decision itself is ``evaluate``.
    """

    def __init__(self, cfg: CityConfig, licences: LicenceRegistry,
                 profile_of: Callable[[object, str], CustomerProfile],
                 history_later: Callable[[object, str, object], Callable[[], list[PastAuthorization]]],
                 exchange_id: str = "aifc-exchange") -> None:
        self.cfg, self.licences = cfg, licences
        self.profile_of, self.history_later, self.exchange_id = profile_of, history_later, exchange_id

    def check_authorization(self, uow, ctx) -> RulesDecision:
        history_read = self.history_later(uow, ctx.cardholder_id, ctx.at - HISTORY_WINDOW)
        profile = self.profile_of(uow, ctx.cardholder_id)
        history = list(history_read())[-MAX_HISTORY:]
        return evaluate(ctx, profile, history, self.cfg, self.licences, self.exchange_id)
