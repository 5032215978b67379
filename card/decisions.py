"""A decision taken before the write transaction: the programme's decision app (or its stand-in)
approving, declining or partly approving a purchase, and the programme's own partial approval.

The card never calls anybody: the sandbox asks the app with no transaction open (sandbox/gateway/),
then hands the answer to ``authorization.authorize(…, decision=…)``, whose write transaction re-checks
everything in the usual precedence order and applies the decision only after every check of its own
passed:

* declined by the app → 05 do not honor (``webhook_declined``); the stand-in ``decline`` → 91 issuer
  inoperative (``webhook_timeout`` / ``webhook_error``);
* approved → the usual just-in-time approval, selling the assets in the app's ``funding`` order if it
  gave one; an ``amount_minor`` below the amount asked for approves that much with 10 partial approval;
* the stand-in ``approve_with_sandbox_rules`` → exactly what the sandbox decides without an app;
* the stand-in ``tenge_only`` (``tenge_only=True``; Marqeta's Commando Mode switches the funding source) →
  the purchase is funded from the tenge on the bank account alone, no crypto sold: 51 when that is short
  (with partial approval, what the account holds, 10).

The decision is recorded on the authorization row (``decision``) with the amount asked for
(``requested_minor``) whenever less was approved or an app was involved.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from . import response_codes as rc
from .funding import conversion_fee

_RECORD = "UPDATE card_authorizations SET decision = :decision, requested_minor = :requested WHERE id = :id"


@dataclass(frozen=True)
class Decision:
    """``outcome``: one of ``response_codes.DECISIONS``. ``amount_minor``: the amount the app approved
    (None: all of it). ``funding``: the assets to sell, in this order (None: the card's own order).
    ``decline_code``: what a refusal answers (05 the app said no, 91 the stand-in declined).
    ``detail``: why, in words (what the app said, or why it could not be asked)."""
    outcome: str
    approved: bool
    amount_minor: int | None = None
    funding: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    decline_code: str = rc.DO_NOT_HONOR
    detail: str = ""
    tenge_only: bool = False   # fund from the bank account's tenge only: no just-in-time crypto sale

    def __post_init__(self) -> None:
        if self.outcome not in rc.DECISIONS:
            raise ValueError(f"a decision is one of {rc.DECISIONS}, not {self.outcome!r}")

    def refusal(self) -> tuple[str, str] | None:
        """(response code, reason) when this decision declines the purchase, else None."""
        if self.approved:
            return None
        if self.outcome == rc.WEBHOOK_DECLINED:
            return self.decline_code, "the card programme's decision app declined the purchase" + (
                f": {self.detail}" if self.detail else "")
        return self.decline_code, f"the card programme's decision app could not decide ({self.detail or self.outcome})" \
                                  "; the stand-in declines"

    def amount(self, requested_minor: int) -> int:
        """The amount to approve: the app's partial amount if it gave a smaller one, else all of it."""
        if self.amount_minor is None:
            return requested_minor
        return min(self.amount_minor, requested_minor)

    def card_funding(self, card):
        """``card`` with its funding order replaced by the app's (the same card when the app gave none)."""
        if not self.funding or tuple(self.funding) == tuple(card.funding.order):
            return card
        return replace(card, funding=replace(card.funding, order=tuple(self.funding)))


def fundable_shortfall(mode: str, fee_bps: int, capacity_minor: dict[str, int]) -> int:
    """The largest shortfall the holdings can raise with its conversion fee on top: ``combine`` sums every
    asset's capacity, ``fallback`` uses the single asset that raises the most."""
    values = [c for c in capacity_minor.values() if c > 0]
    total = (sum(values) if mode == "combine" else max(values)) if values else 0
    x = total * 10_000 // (10_000 + fee_bps)
    while x > 0 and x + conversion_fee(x, fee_bps) > total:
        x -= 1
    while x + 1 + conversion_fee(x + 1, fee_bps) <= total:
        x += 1
    return x


def record(uow, authorization_id: int, decision: Decision | None, requested_minor: int | None) -> None:
    """Note on the authorization how it was decided and what was asked for."""
    uow.sql.run(_RECORD, {"id": authorization_id, "decision": decision.outcome if decision else None,
                          "requested": requested_minor})
