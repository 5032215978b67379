"""The ports the sandbox wires: a Funder (sells crypto for tenge) and Rules (KYC, AML, licences)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from .errors import CardError


class FundingUnavailable(CardError):
    """The funder cannot sell right now (trading halted, no liquidity, slippage cap). Declines with 91."""
    code = "funding_unavailable"


class FundingShort(CardError):
    """The customer does not hold enough of the asset. Declines with 51."""
    code = "insufficient_crypto"


@dataclass(frozen=True)
class FundingLeg:
    """One asset sold to fund a purchase; ``avg_price_minor``: KZT minor units (tiyn) per whole unit of
    the asset, to the nearest tiyn."""
    asset: str
    sold_qty_minor: int
    proceeds_minor: int
    avg_price_minor: int
    fee_minor: int
    slippage_bps: int

    def to_dict(self) -> dict:
        return {"asset": self.asset, "sold_qty_minor": self.sold_qty_minor, "proceeds_minor": self.proceeds_minor,
                "avg_price_minor": self.avg_price_minor, "fee_minor": self.fee_minor, "slippage_bps": self.slippage_bps}


@dataclass(frozen=True)
class BoughtBack:
    """One asset bought back for a refund or reversal: ``spent_minor`` tiyn (the exchange fee included,
    so it is the tax cost basis) bought ``bought_qty_minor`` of ``asset`` into the customer's wallet;
    ``avg_price_minor``: tiyn per whole unit."""
    asset: str
    bought_qty_minor: int
    spent_minor: int
    avg_price_minor: int
    fee_minor: int

    def to_dict(self) -> dict:
        return {"asset": self.asset, "bought_qty_minor": self.bought_qty_minor, "spent_minor": self.spent_minor,
                "avg_price_minor": self.avg_price_minor, "fee_minor": self.fee_minor}


@dataclass(frozen=True)
class Capacity:
    """Tenge ``proceeds_minor`` that selling all of the owner's ``asset`` would raise within the slippage
    cap; ``liquidity_limited`` when the book (not the holding) was the limit."""
    proceeds_minor: int
    liquidity_limited: bool = False


@runtime_checkable
class Funder(Protocol):
    def available(self, uow, owner: str, asset: str) -> int:
        """The owner's spendable quantity of ``asset`` in minor units. (A funder may also offer
        ``known_accounts(owner, assets) -> list[int]``: the ledger ids of those holdings it knows without
        a query, which the card then reads with the bank account where no lock order forbids it.)"""

    def capacity(self, uow, owner: str, asset: str, slippage_cap_bps: int, up_to_minor: int) -> Capacity:
        """Tenge (at most ``up_to_minor``) that selling the owner's ``asset`` would raise now within the
        slippage cap: a quote that moves nothing. The card asks for no more than it needs, so a funder
        may answer ``up_to_minor`` as soon as it knows the holding and the book cover it."""

    def sell_for_tenge(self, uow, owner: str, asset: str, proceeds_needed_minor: int, slippage_cap_bps: int,
                       to_account_id: int, *, fee_to: tuple[int, int] | None = None) -> FundingLeg:
        """Sell enough ``asset`` to credit exactly ``proceeds_needed_minor`` tiyn (net of exchange fees) to
        ``to_account_id`` inside ``uow``; raises FundingUnavailable or FundingShort. ``fee_to``
        ``(account_id, amount_minor)``: of those proceeds, ``amount_minor`` (the card's conversion fee, at
        most the proceeds) goes to ``account_id`` instead — in the sale's own transfer where it can."""


@runtime_checkable
class BuyBack(Protocol):
    """What a funder offers when the programme buys crypto back on a refund or a reversal (optional: a
    funder without it leaves the money in tenge)."""

    def buy_with_tenge(self, uow, owner: str, asset: str, spend_minor: int, from_account_id: int) -> BoughtBack:
        """Spend at most ``spend_minor`` tiyn from ``from_account_id`` (the card's bank account) buying
        ``asset`` at the market now for ``owner``'s wallet; what the order book does not take (a part
        of a lot) goes back to ``from_account_id``. Raises FundingUnavailable when it cannot buy now
        (halted, no sellers, below the exchange's minimum order), changing nothing."""


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    mcc: str
    in_zone: bool


@dataclass(frozen=True)
class AuthorizationContext:
    cardholder_id: str
    card_id: int
    merchant: Merchant
    amount_minor: int
    shortfall_minor: int  # > 0: a crypto sale is needed
    at: datetime


@dataclass(frozen=True)
class RulesDecision:
    """``decline_code`` None approves; ``flags`` are (rule, reason) pairs recorded even on approval.

    ``reason_template`` is ``reason`` with the values that change from purchase to purchase (amounts,
    counts) left as ``{placeholders}``: declines of one rule share it, so reports count them together
    ("" when the reason itself never changes)."""
    decline_code: str | None = None
    reason: str = "no sandbox rule objected"
    flags: list[tuple[str, str]] = field(default_factory=list)
    reason_template: str = ""


@runtime_checkable
class Rules(Protocol):
    def check_authorization(self, uow, ctx: AuthorizationContext) -> RulesDecision:
        """The sandbox's verdict (KYC tier limits, AML, licences): 57 not permitted, 59 suspected fraud."""


class AllowAll:
    """Rules that approve everything (unit tests, or a sandbox with no regime)."""

    def check_authorization(self, uow, ctx: AuthorizationContext) -> RulesDecision:
        return RulesDecision()
