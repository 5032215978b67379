"""The programme's clearing policy: how far a capture may exceed its authorization, and what a refund or a
reversal of a purchase that sold crypto just in time gives back.

* ``over_capture_tolerance_bps``: per merchant category code (MCC), how much more than authorized the
  merchant may capture, in basis points of the authorized amount (restaurants add a tip after the card
  was tapped); ``"default"`` for every other category (0: never more than authorized).
* ``refund_policy``: ``tenge`` — the refund lands in the bank account as tenge (the crypto stays sold);
  ``buy_back`` — the share of the refund that the crypto sale paid for buys the same assets back at the
  refund-time price on the order book, and they return to the customer's wallet.
* ``refund_conversion_fee``: ``kept`` — the programme keeps the conversion fee it charged on the sale;
  ``returned`` — the refund gives back its share of that fee too.
* ``reversal_policy``: ``keep_tenge`` — a reversed (voided) hold stays in the bank as tenge;
  ``buy_back`` — the reversed share the crypto sale paid for buys the crypto back, as for a refund.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

REFUND_POLICIES = ("tenge", "buy_back")
CONVERSION_FEE_ON_REFUND = ("returned", "kept")
REVERSAL_POLICIES = ("keep_tenge", "buy_back")
DEFAULT_MCC = "default"


@dataclass(frozen=True)
class ClearingPolicy:
    over_capture_tolerance_bps: Mapping[str, int] = field(default_factory=dict)
    refund_policy: str = "tenge"
    refund_conversion_fee: str = "kept"
    reversal_policy: str = "keep_tenge"

    def __post_init__(self) -> None:
        for name, allowed in (("refund_policy", REFUND_POLICIES), ("refund_conversion_fee", CONVERSION_FEE_ON_REFUND),
                              ("reversal_policy", REVERSAL_POLICIES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        for mcc, bps in self.over_capture_tolerance_bps.items():
            if not isinstance(bps, int) or isinstance(bps, bool) or not 0 <= bps <= 10_000:
                raise ValueError(f"over-capture tolerance for {mcc} must be 0..10000 bps, got {bps!r}")
        object.__setattr__(self, "over_capture_tolerance_bps", MappingProxyType(dict(self.over_capture_tolerance_bps)))

    def tolerance_bps(self, mcc: str) -> int:
        """How far (bps of the authorized amount) a capture at a merchant of category ``mcc`` may go over."""
        table = self.over_capture_tolerance_bps
        return table.get(mcc, table.get(DEFAULT_MCC, 0))

    def over_capture_allowed_minor(self, mcc: str, authorized_minor: int) -> int:
        """The most a merchant of category ``mcc`` may capture beyond ``authorized_minor`` (rounded down)."""
        return authorized_minor * self.tolerance_bps(mcc) // 10_000
