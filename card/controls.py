"""Spend controls: pure evaluation of one purchase against a card's limits and its usage so far.

Amount and count limits per purchase, day, week, month and lifetime, card-wide or scoped to one
merchant category or one merchant (``ScopedLimit``: Marqeta's velocity controls with a merchant
scope, Stripe Issuing's spending limits with categories), and allowed and blocked categories.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ledger.amounts import format_amount

from . import response_codes as rc
from .errors import InvalidSpendControls

CASH_MCCS = frozenset({"6010", "6011"})
P2P_MCCS = frozenset({"4829", "6012"})
GAMBLING_MCCS = frozenset({"7995"})
DEFAULT_BLOCKED_MCCS = CASH_MCCS | P2P_MCCS | GAMBLING_MCCS
# ~USD 1 000 a day as in the 2025 pilot, at ~500 KZT/USD, in tiyn.
DEFAULT_DAILY_LIMIT_MINOR = 500_000_00

# The windows a limit counts over, in the programme's calendar: one purchase, the day, the week (Monday to
# Sunday), the month, the card's whole life.
TRANSACTION, DAY, WEEK, MONTH, LIFETIME = "transaction", "day", "week", "month", "lifetime"
WINDOWS = (TRANSACTION, DAY, WEEK, MONTH, LIFETIME)
MAX_SCOPED_LIMITS = 20          # per card: each one matching a purchase costs a read
MAX_COUNT_LIMIT = 1_000_000
MAX_LIMIT_MINOR = 10**15
MCC_SCOPE, MERCHANT_SCOPE = "mcc", "merchant"


def _check_limit(name: str, value, most: int) -> None:  # noqa: ANN001
    if value is not None and (type(value) is not int or not 1 <= value <= most):
        raise InvalidSpendControls(f"{name} must be a whole number from 1 to {most}, or none; got {value!r}",
                                   control=name)


@dataclass(frozen=True)
class ScopedLimit:
    """An amount limit (``amount_limit_minor``, tiyn) and/or a count limit (``count_limit``, purchases) that
    count only the card's purchases at one merchant category (``mcc``) or at one merchant (``merchant_id``),
    over ``window``: one purchase (``transaction``: amount only), the day, the week, the month or the
    card's life. Invalid settings raise ``InvalidSpendControls``."""
    window: str
    mcc: str | None = None
    merchant_id: str | None = None
    amount_limit_minor: int | None = None
    count_limit: int | None = None

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise InvalidSpendControls(f"a scoped limit's window is one of {', '.join(WINDOWS)}; got {self.window!r}",
                                       control="window")
        if (self.mcc is None) == (self.merchant_id is None):
            raise InvalidSpendControls("a scoped limit names exactly one of mcc or merchant_id", control="scope")
        if self.mcc is not None and not (isinstance(self.mcc, str) and len(self.mcc) == 4 and self.mcc.isdigit()):
            raise InvalidSpendControls(f"mcc must be four digits; got {self.mcc!r}", control="mcc")
        if self.merchant_id is not None and not (isinstance(self.merchant_id, str) and 1 <= len(self.merchant_id) <= 64):
            raise InvalidSpendControls("merchant_id must be 1 to 64 characters", control="merchant_id")
        _check_limit("amount_limit_minor", self.amount_limit_minor, MAX_LIMIT_MINOR)
        _check_limit("count_limit", self.count_limit, MAX_COUNT_LIMIT)
        if self.amount_limit_minor is None and self.count_limit is None:
            raise InvalidSpendControls("a scoped limit sets amount_limit_minor, count_limit or both", control="limit")
        if self.window == TRANSACTION and self.count_limit is not None:
            raise InvalidSpendControls("a per-transaction limit is an amount; counts are per day, week, month or "
                                       "lifetime", control="count_limit")

    @property
    def scope(self) -> tuple[str, str]:
        """(``mcc``, "5812") or (``merchant``, "alatau-coffee")."""
        return (MCC_SCOPE, self.mcc) if self.mcc is not None else (MERCHANT_SCOPE, self.merchant_id)

    def matches(self, mcc: str, merchant_id: str | None) -> bool:
        return self.mcc == mcc if self.mcc is not None else self.merchant_id == merchant_id

    def describe_scope(self) -> str:
        return f"merchant category {self.mcc}" if self.mcc is not None else f"merchant {self.merchant_id}"

    def to_dict(self) -> dict:
        return {"window": self.window, "mcc": self.mcc, "merchant_id": self.merchant_id,
                "amount_limit_minor": self.amount_limit_minor, "count_limit": self.count_limit}

    @classmethod
    def from_dict(cls, data: dict) -> "ScopedLimit":
        return cls(window=data.get("window"), mcc=data.get("mcc"), merchant_id=data.get("merchant_id"),
                   amount_limit_minor=data.get("amount_limit_minor"), count_limit=data.get("count_limit"))


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
    weekly_count_limit: int | None = None     # purchases a week (65 once reached)
    monthly_count_limit: int | None = None
    lifetime_count_limit: int | None = None
    scoped_limits: tuple[ScopedLimit, ...] = ()   # checked in this order, after the card-wide limits

    def __post_init__(self) -> None:
        for name in ("daily_count_limit", "weekly_count_limit", "monthly_count_limit", "lifetime_count_limit"):
            _check_limit(name, getattr(self, name), MAX_COUNT_LIMIT)
        if not isinstance(self.scoped_limits, tuple):
            object.__setattr__(self, "scoped_limits", tuple(self.scoped_limits))
        if len(self.scoped_limits) > MAX_SCOPED_LIMITS:
            raise InvalidSpendControls(f"a card has at most {MAX_SCOPED_LIMITS} scoped limits; got "
                                       f"{len(self.scoped_limits)}", control="scoped_limits")
        if not all(isinstance(limit, ScopedLimit) for limit in self.scoped_limits):
            raise InvalidSpendControls("scoped_limits holds ScopedLimit values", control="scoped_limits")

    @property
    def reads_longer_windows(self) -> bool:
        """Whether a purchase must read the card's week and lifetime usage (a limit on either is set)."""
        return (self.weekly_limit_minor is not None or self.lifetime_limit_minor is not None
                or self.weekly_count_limit is not None or self.lifetime_count_limit is not None)

    def scoped_for(self, mcc: str, merchant_id: str | None) -> tuple[ScopedLimit, ...]:
        """The scoped limits a purchase at ``merchant_id`` (category ``mcc``) counts towards."""
        return tuple(limit for limit in self.scoped_limits if limit.matches(mcc, merchant_id))

    def to_dict(self) -> dict:
        return {"per_transaction_limit_minor": self.per_transaction_limit_minor,
                "daily_limit_minor": self.daily_limit_minor, "monthly_limit_minor": self.monthly_limit_minor,
                "daily_count_limit": self.daily_count_limit, "weekly_limit_minor": self.weekly_limit_minor,
                "lifetime_limit_minor": self.lifetime_limit_minor,
                "allowed_mccs": None if self.allowed_mccs is None else sorted(self.allowed_mccs),
                "blocked_mccs": sorted(self.blocked_mccs), "zone_only": self.zone_only,
                "weekly_count_limit": self.weekly_count_limit, "monthly_count_limit": self.monthly_count_limit,
                "lifetime_count_limit": self.lifetime_count_limit,
                "scoped_limits": [limit.to_dict() for limit in self.scoped_limits]}

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
                   zone_only=bool(data.get("zone_only", False)),
                   weekly_count_limit=data.get("weekly_count_limit"),
                   monthly_count_limit=data.get("monthly_count_limit"),
                   lifetime_count_limit=data.get("lifetime_count_limit"),
                   scoped_limits=tuple(ScopedLimit.from_dict(x) for x in data.get("scoped_limits") or ()))


@dataclass(frozen=True)
class WindowUsage:
    """What the card spent, and how many purchases it made, at one merchant category or merchant, in each
    counted window (``day`` … ``lifetime``): ``amounts_minor[window]``, ``counts[window]``."""
    amounts_minor: Mapping[str, int] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """What the card already spent (approved, not reversed) and how many purchases it made in the current
    day and month, and — read only for a card that limits them — in the current week, in its whole life and
    at the merchant categories and merchants its scoped limits name (``scoped``, by ``ScopedLimit.scope``)."""
    day_amount_minor: int = 0
    day_count: int = 0
    month_amount_minor: int = 0
    week_amount_minor: int = 0
    lifetime_amount_minor: int = 0
    month_count: int = 0
    week_count: int = 0
    lifetime_count: int = 0
    scoped: Mapping[tuple[str, str], WindowUsage] = field(default_factory=dict)


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
COUNT_LIMITS = {DAY: "the card allows {n} a day", WEEK: "the card allows {n} a week",
                MONTH: "the card allows {n} a month", LIFETIME: "the card allows {n} in its life"}
# A scoped limit's reasons: {scope} is the rule's own (filled in the template), the amounts per purchase.
SCOPED_AMOUNT = {TRANSACTION: "amount exceeds the per-transaction limit of {limit} at {scope}",
                 DAY: "would exceed the daily limit of {limit} at {scope} ({spent} already spent there today)",
                 WEEK: "would exceed the weekly limit of {limit} at {scope} ({spent} already spent there this week)",
                 MONTH: "would exceed the monthly limit of {limit} at {scope} ({spent} already spent there this "
                        "month)",
                 LIFETIME: "would exceed the lifetime limit of {limit} at {scope} ({spent} already spent there)"}
SCOPED_COUNT = {window: text + " at {scope}" for window, text in COUNT_LIMITS.items()}


def _purchases(n: int) -> str:
    return "1 purchase" if n == 1 else f"{n} purchases"


def _over(template: str, scope: str | None = None, **amounts_minor: int) -> ControlDecision:
    """61 with ``template``'s amounts filled in; a scoped limit's ``scope`` is the rule's own, so it is filled
    in the template too (reports count the declines of one rule together)."""
    if scope is not None:   # a value, never read as a template: braces in a merchant id stay braces
        template = template.replace("{scope}", scope.replace("{", "{{").replace("}", "}}"))
    filled = template.format(**{k: format_amount(v, "KZT") for k, v in amounts_minor.items()})
    return ControlDecision(rc.AMOUNT_LIMIT, filled, template)



def evaluate(controls: SpendControls, usage: Usage, amount_minor: int, mcc: str, in_zone: bool,
             merchant_id: str | None = None, *, counts: bool = True, already_held_minor: int = 0) -> ControlDecision:
    """Check in fixed order: the card's amount limits (61: per purchase, day, week, month, lifetime), then
    the scoped amount limits in the card's order (61), the card's count limits (65: day, week, month,
    lifetime), the scoped count limits (65), then category and zone (57).

    An incremental authorization: ``amount_minor`` is the increment, ``already_held_minor`` what the
    purchase holds before it (the per-transaction limits apply to both together, the others to the
    increment), and ``counts=False`` (it adds no purchase to a count)."""
    limit = controls.per_transaction_limit_minor
    if limit is not None and amount_minor + already_held_minor > limit:
        return _over(PER_TRANSACTION_LIMIT, limit=limit)
    for template, limit, spent in (
            (DAILY_LIMIT, controls.daily_limit_minor, usage.day_amount_minor),
            (WEEKLY_LIMIT, controls.weekly_limit_minor, usage.week_amount_minor),
            (MONTHLY_LIMIT, controls.monthly_limit_minor, usage.month_amount_minor),
            (LIFETIME_LIMIT, controls.lifetime_limit_minor, usage.lifetime_amount_minor)):
        if limit is not None and spent + amount_minor > limit:
            return _over(template, limit=limit, spent=spent)
    scoped = controls.scoped_for(mcc, merchant_id) if controls.scoped_limits else ()
    for rule in scoped:
        if rule.amount_limit_minor is None:
            continue
        template, scope = SCOPED_AMOUNT[rule.window], rule.describe_scope()
        if rule.window == TRANSACTION:
            if amount_minor + already_held_minor > rule.amount_limit_minor:
                return _over(template, scope, limit=rule.amount_limit_minor)
            continue
        spent = _scoped(usage, rule).amounts_minor.get(rule.window, 0)
        if spent + amount_minor > rule.amount_limit_minor:
            return _over(template, scope, limit=rule.amount_limit_minor, spent=spent)
    if counts:
        for window, limit, made in ((DAY, controls.daily_count_limit, usage.day_count),
                                    (WEEK, controls.weekly_count_limit, usage.week_count),
                                    (MONTH, controls.monthly_count_limit, usage.month_count),
                                    (LIFETIME, controls.lifetime_count_limit, usage.lifetime_count)):
            if limit is not None and made + 1 > limit:
                return ControlDecision(rc.COUNT_LIMIT, COUNT_LIMITS[window].format(n=_purchases(limit)))
        for rule in scoped:
            if rule.count_limit is not None and _scoped(usage, rule).counts.get(rule.window, 0) + 1 > rule.count_limit:
                reason = SCOPED_COUNT[rule.window].format(n=_purchases(rule.count_limit), scope=rule.describe_scope())
                return ControlDecision(rc.COUNT_LIMIT, reason)
    if mcc in controls.blocked_mccs:
        return ControlDecision(rc.NOT_PERMITTED, f"merchant category {mcc} is blocked on this card "
                               "(cash, person-to-person transfers and gambling are not allowed)")
    if controls.allowed_mccs is not None and mcc not in controls.allowed_mccs:
        return ControlDecision(rc.NOT_PERMITTED, f"merchant category {mcc} is not among the card's allowed categories")
    if controls.zone_only and not in_zone:
        return ControlDecision(rc.NOT_PERMITTED, "the card pays only merchants registered inside the sandbox zone")
    return ALLOW


def _scoped(usage: Usage, rule: ScopedLimit) -> WindowUsage:
    return usage.scoped.get(rule.scope) or WindowUsage()
