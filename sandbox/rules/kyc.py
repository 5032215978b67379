"""KYC tiers and their limits (none: nothing; basic; full)."""
from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from ledger import format_amount

from ..config.models import KycCfg
from .decision import PastAuthorization

DECLINE_NOT_PERMITTED = "57"
DECLINE_AMOUNT_LIMIT = "61"
_LONGEST_DAY = timedelta(hours=25)


def check_payment(kyc: KycCfg, tier: str, amount_minor: int, at: datetime,
                  history: list[PastAuthorization], tz: tzinfo) -> tuple[str, str] | None:
    """(decline code, reason) if the tier forbids this payment, else None.

    Limits apply to the amount of this purchase plus approved purchases on the same calendar day in
    the city's time zone ``tz`` (a calendar window: it starts again at local midnight) and in the
    preceding 30 days (the monthly limit is a rolling 30-day window, the same in any zone).
    """
    cfg = kyc.tiers.get(tier)
    if cfg is None:
        return DECLINE_NOT_PERMITTED, f"unknown KYC tier {tier!r}"
    if not cfg.can_pay:
        return DECLINE_NOT_PERMITTED, f"KYC tier '{tier}' may not pay with the card; complete KYC first"
    if cfg.per_transaction_limit and amount_minor > cfg.per_transaction_limit:
        return DECLINE_AMOUNT_LIMIT, (f"{format_amount(amount_minor, 'KZT')} is above the KYC '{tier}' limit of "
                                      f"{format_amount(cfg.per_transaction_limit, 'KZT')} per purchase")
    day = at.astimezone(tz).date()
    # Dates compared, not a computed midnight: a zone may skip or repeat local midnight (daylight saving);
    # only purchases within a day's longest span (25 h) are converted.
    today = sum(p.amount_minor for p in history
                if timedelta(0) <= at - p.at <= _LONGEST_DAY and p.at.astimezone(tz).date() == day)
    if cfg.daily_limit and today + amount_minor > cfg.daily_limit:
        return DECLINE_AMOUNT_LIMIT, (f"this purchase would bring today's spending to {format_amount(today + amount_minor, 'KZT')}, "
                                      f"above the KYC '{tier}' daily limit of {format_amount(cfg.daily_limit, 'KZT')}")
    month = sum(p.amount_minor for p in history if at - timedelta(days=30) < p.at <= at)
    if cfg.monthly_limit and month + amount_minor > cfg.monthly_limit:
        return DECLINE_AMOUNT_LIMIT, (f"this purchase would bring 30-day spending to {format_amount(month + amount_minor, 'KZT')}, "
                                      f"above the KYC '{tier}' monthly limit of {format_amount(cfg.monthly_limit, 'KZT')}")
    return None


def may_trade(kyc: KycCfg, tier: str) -> bool:
    cfg = kyc.tiers.get(tier)
    return bool(cfg and cfg.can_trade)
