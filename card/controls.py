"""Spend controls: pure evaluation of one purchase against a card's limits and its usage so far."""
from __future__ import annotations

from dataclasses import dataclass, field

from ledger.amounts import format_amount

from . import response_codes as rc

CASH_MCCS = frozenset({"6010", "6011"})
P2P_MCCS = frozenset({"4829", "6012"})
GAMBLING_MCCS = frozenset({"7995"})
DEFAULT_BLOCKED_MCCS = CASH_MCCS | P2P_MCCS | GAMBLING_MCCS
# ~USD 1 000 a day as in the 2025 pilot, at ~500 KZT/USD, in tiyn.
DEFAULT_DAILY_LIMIT_MINOR = 500_000_00


@dataclass(frozen=True)
class SpendControls:
    """Limits in KZT tiyn; None means "no limit". Blocked MCCs win over allowed ones."""
    per_transaction_limit_minor: int | None = None
    daily_limit_minor: int | None = DEFAULT_DAILY_LIMIT_MINOR
    monthly_limit_minor: int | None = None
    daily_count_limit: int | None = None
    weekly_limit_minor: int | None = None     # Monday to Sunday in the programme's calendar
    lifetime_limit_minor: int | None = None   # everything the card ever spent
    allowed_mccs: frozenset[str] | None = None  # None: every category not blocked
    blocked_mccs: frozenset[str] = field(default=DEFAULT_BLOCKED_MCCS)
    zone_only: bool = False

    def to_dict(self) -> dict:
        return {"per_transaction_limit_minor": self.per_transaction_limit_minor,
                "daily_limit_minor": self.daily_limit_minor, "monthly_limit_minor": self.monthly_limit_minor,
                "daily_count_limit": self.daily_count_limit, "weekly_limit_minor": self.weekly_limit_minor,
                "lifetime_limit_minor": self.lifetime_limit_minor,
                "allowed_mccs": None if self.allowed_mccs is None else sorted(self.allowed_mccs),
                "blocked_mccs": sorted(self.blocked_mccs), "zone_only": self.zone_only}

    @classmethod
    def from_dict(cls, data: dict) -> "SpendControls":
        allowed = data.get("allowed_mccs")
        return cls(per_transaction_limit_minor=data.get("per_transaction_limit_minor"),
                   daily_limit_minor=data.get("daily_limit_minor"),
                   monthly_limit_minor=data.get("monthly_limit_minor"),
                   daily_count_limit=data.get("daily_count_limit"),
                   weekly_limit_minor=data.get("weekly_limit_minor"),
                   lifetime_limit_minor=data.get("lifetime_limit_minor"),
                   allowed_mccs=None if allowed is None else frozenset(allowed),
                   blocked_mccs=frozenset(data.get("blocked_mccs", DEFAULT_BLOCKED_MCCS)),
                   zone_only=bool(data.get("zone_only", False)))


@dataclass(frozen=True)
class Usage:
    """What the card already spent (approved, not reversed) in the current day and month, and — read only for
    a card that limits them — in the current week and in its whole life."""
    day_amount_minor: int = 0
    day_count: int = 0
    month_amount_minor: int = 0
    week_amount_minor: int = 0
    lifetime_amount_minor: int = 0


@dataclass(frozen=True)
class ControlDecision:
    """``reason`` is the sentence for people; ``reason_template`` the same sentence with the amounts left as
    placeholders, so reports can count declines of one rule together ("" when the reason has no amounts)."""
    code: str | None  # None: allowed
    reason: str
    reason_template: str = ""

    @property
    def allowed(self) -> bool:
        return self.code is None


ALLOW = ControlDecision(None, "within the card's spend controls")


# Decline reasons with their amounts as placeholders (filled with ledger.amounts.format_amount).
PER_TRANSACTION_LIMIT = "amount exceeds the per-transaction limit of {limit}"
DAILY_LIMIT = "would exceed the daily limit of {limit} ({spent} already spent today)"
MONTHLY_LIMIT = "would exceed the monthly limit of {limit} ({spent} already spent this month)"
WEEKLY_LIMIT = "would exceed the weekly limit of {limit} ({spent} already spent this week)"
LIFETIME_LIMIT = "would exceed the card's lifetime limit of {limit} ({spent} already spent)"


def _over(template: str, **amounts_minor: int) -> ControlDecision:
    filled = template.format(**{k: format_amount(v, "KZT") for k, v in amounts_minor.items()})
    return ControlDecision(rc.AMOUNT_LIMIT, filled, template)


def evaluate(controls: SpendControls, usage: Usage, amount_minor: int, mcc: str, in_zone: bool) -> ControlDecision:
    """Check in fixed order: amount limits (61: per purchase, day, week, month, lifetime), count limit (65),
    category and zone (57)."""
    if controls.per_transaction_limit_minor is not None and amount_minor > controls.per_transaction_limit_minor:
        return _over(PER_TRANSACTION_LIMIT, limit=controls.per_transaction_limit_minor)
    for template, limit, spent in (
            (DAILY_LIMIT, controls.daily_limit_minor, usage.day_amount_minor),
            (WEEKLY_LIMIT, controls.weekly_limit_minor, usage.week_amount_minor),
            (MONTHLY_LIMIT, controls.monthly_limit_minor, usage.month_amount_minor),
            (LIFETIME_LIMIT, controls.lifetime_limit_minor, usage.lifetime_amount_minor)):
        if limit is not None and spent + amount_minor > limit:
            return _over(template, limit=limit, spent=spent)
    if controls.daily_count_limit is not None and usage.day_count + 1 > controls.daily_count_limit:
        return ControlDecision(rc.COUNT_LIMIT, f"the card allows {controls.daily_count_limit} purchases a day")
    if mcc in controls.blocked_mccs:
        return ControlDecision(rc.NOT_PERMITTED, f"merchant category {mcc} is blocked on this card "
                               "(cash, person-to-person transfers and gambling are not allowed)")
    if controls.allowed_mccs is not None and mcc not in controls.allowed_mccs:
        return ControlDecision(rc.NOT_PERMITTED, f"merchant category {mcc} is not among the card's allowed categories")
    if controls.zone_only and not in_zone:
        return ControlDecision(rc.NOT_PERMITTED, "the card pays only merchants registered inside the sandbox zone")
    return ALLOW
