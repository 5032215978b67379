"""Value types of a rules decision; RulesDecision is the card port's own type."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

class Flag(NamedTuple):
    """An AML/rules observation; a (rule, reason) pair as the card port expects."""

    rule: str
    reason: str


try:  # the card owns the port; use its type so the card accepts our decision as-is
    from card.ports import RulesDecision
except ImportError:  # pragma: no cover - card not installed
    @dataclass(frozen=True)
    class RulesDecision:  # type: ignore[no-redef]
        decline_code: str | None = None
        reason: str = "no sandbox rule objected"
        flags: list = field(default_factory=list)
        reason_template: str = ""


@dataclass(frozen=True)
class CustomerProfile:
    customer_id: str
    kyc_tier: str = "basic"      # none | basic | full
    resident: bool = True
    aifc_investor: bool = False


@dataclass(frozen=True)
class PastAuthorization:
    """One earlier approved authorization of the same cardholder (for limits, velocity, structuring)."""

    at: datetime
    amount_minor: int
    merchant_id: str = ""
