"""KYC tiers and their limits (none: nothing; basic; full)."""
from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from ledger import format_amount

from ..config.models import KycCfg
from .decision import PastAuthorization

DECLINE_NOT_PERMITTED = "57"
DECLINE_AMOUNT_LIMIT = "61"
_LONGEST_DAY = timedelta(hours=25)


# Reasons with their amounts as placeholders; the tier is part of the rule, so it is written in.
PER_PURCHASE_LIMIT = "{amount} is above the KYC '{tier}' limit of {limit} per purchase"
DAILY_LIMIT = "this purchase would bring today's spending to {spent}, above the KYC '{tier}' daily limit of {limit}"
MONTHLY_LIMIT = ("this purchase would bring 30-day spending to {spent}, above the KYC '{tier}' monthly limit of "
                 "{limit}")


def _over(template: str, tier: str, **amounts_minor: int) -> tuple[str, str, str]:
    template = template.replace("{tier}", tier)
    return (DECLINE_AMOUNT_LIMIT, template.format(**{k: format_amount(v, "KZT") for k, v in amounts_minor.items()}),
            template)


def check_payment(kyc: KycCfg, tier: str, amount_minor: int, at: datetime,
                  history: list[PastAuthorization], tz: tzinfo) -> tuple[str, str, str] | None:
    """(decline code, reason, reason template) if the tier forbids this payment, else None.

    Limits apply to the amount of this purchase plus approved purchases on the same calendar day in
    the city's time zone ``tz`` (a calendar window: it starts again at local midnight) and in the
    preceding 30 days (the monthly limit is a rolling 30-day window, the same in any zone). The template
    is the reason with its amounts as placeholders ("" when the reason has none).
    """
    cfg = kyc.tiers.get(tier)
    if cfg is None:
        return DECLINE_NOT_PERMITTED, f"unknown KYC tier {tier!r}", ""
    if not cfg.can_pay:
        return DECLINE_NOT_PERMITTED, f"KYC tier '{tier}' may not pay with the card; complete KYC first", ""
    if cfg.per_transaction_limit_minor and amount_minor > cfg.per_transaction_limit_minor:
        return _over(PER_PURCHASE_LIMIT, tier, amount=amount_minor, limit=cfg.per_transaction_limit_minor)
    day = at.astimezone(tz).date()
    # Dates compared, not a computed midnight: a zone may skip or repeat local midnight (daylight saving);
    # only purchases within a day's longest span (25 h) are converted.
    today = sum(p.amount_minor for p in history
                if timedelta(0) <= at - p.at <= _LONGEST_DAY and p.at.astimezone(tz).date() == day)
    if cfg.daily_limit_minor and today + amount_minor > cfg.daily_limit_minor:
        return _over(DAILY_LIMIT, tier, spent=today + amount_minor, limit=cfg.daily_limit_minor)
    month = sum(p.amount_minor for p in history if at - timedelta(days=30) < p.at <= at)
    if cfg.monthly_limit_minor and month + amount_minor > cfg.monthly_limit_minor:
        return _over(MONTHLY_LIMIT, tier, spent=month + amount_minor, limit=cfg.monthly_limit_minor)
    return None


def may_trade(kyc: KycCfg, tier: str) -> bool:
    cfg = kyc.tiers.get(tier)
    return bool(cfg and cfg.can_trade)
