"""A fixed-price Funder over the ledger alone: for unit tests and a sandbox without an exchange.

Sells the owner's ``customer:<owner>:<asset>`` to a counterparty (``external:<counterparty>:*``) at a
fixed KZT price per whole unit, minus an exchange fee in bps paid to ``fees:<fee_owner>:KZT``.
The real wiring is sandbox.funding.ExchangeFunder over the exchange's order books.
"""
from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from ledger import DEFAULT_REGISTRY, Posting

from .ports import Capacity, FundingLeg, FundingShort, FundingUnavailable


class FixedPriceFunder:
    def __init__(self, prices_kzt: dict[str, Decimal], *, fee_bps: int = 10, counterparty: str = "market",
                 fee_owner: str = "exchange", halted: bool = False, assets=DEFAULT_REGISTRY) -> None:
        self.prices_kzt = {k: Decimal(v) for k, v in prices_kzt.items()}
        self.fee_bps, self.counterparty, self.fee_owner, self.halted = fee_bps, counterparty, fee_owner, halted
        self.assets = assets

    def _decimals(self, asset: str) -> int:
        return self.assets.get(asset).decimals if hasattr(self.assets, "get") else self.assets[asset].decimals

    def _acct(self, uow, purpose: str, owner: str, asset: str) -> int:
        return (uow.find_account(f"{purpose}:{owner}:{asset}") or uow.open_account(owner, asset, purpose)).id

    def available(self, uow, owner: str, asset: str) -> int:
        acct = uow.find_account(f"customer:{owner}:{asset}")
        return 0 if acct is None else uow.balance(acct.id).available_minor

    def _qty_for(self, asset: str, gross_minor: int) -> int:
        # tiyn -> KZT -> units of asset -> minor units of asset, rounded up (the customer pays the rounding)
        units = Decimal(gross_minor) / 100 / self.prices_kzt[asset]
        return int((units * 10 ** self._decimals(asset)).to_integral_value(rounding=ROUND_CEILING))

    def _gross_for(self, net_minor: int) -> int:
        return -(-net_minor * 10_000 // (10_000 - self.fee_bps))

    def capacity(self, uow, owner: str, asset: str, slippage_cap_bps: int, up_to_minor: int) -> Capacity:
        if self.halted:
            raise FundingUnavailable("trading is halted")
        if asset not in self.prices_kzt:
            return Capacity(0)
        qty = self.available(uow, owner, asset)
        gross = int(Decimal(qty) / 10 ** self._decimals(asset) * self.prices_kzt[asset] * 100)
        net = gross - -(-gross * self.fee_bps // 10_000)
        while net > 0 and self._qty_for(asset, self._gross_for(net)) > qty:  # rounding may cost a tiyn
            net -= 1
        return Capacity(max(0, min(net, up_to_minor)))

    def sell_for_tenge(self, uow, owner: str, asset: str, proceeds_needed_minor: int, slippage_cap_bps: int,
                       to_account_id: int, *, fee_to: tuple[int, int] | None = None) -> FundingLeg:
        if self.halted:
            raise FundingUnavailable("trading is halted")
        gross = self._gross_for(proceeds_needed_minor)
        fee = gross - proceeds_needed_minor
        qty = self._qty_for(asset, gross)
        if qty > self.available(uow, owner, asset):
            raise FundingShort(f"{owner} holds less {asset} than the sale needs")
        cust = self._acct(uow, "customer", owner, asset)
        cp_asset = self._acct(uow, "external", self.counterparty, asset)
        cp_kzt = self._acct(uow, "external", self.counterparty, "KZT")
        fees = self._acct(uow, "fees", self.fee_owner, "KZT")
        uow.transfer([Posting(cust, -qty), Posting(cp_asset, qty)], memo=f"card sale {asset}")
        credits = {to_account_id: proceeds_needed_minor}
        if fee_to is not None and fee_to[1] > 0:   # the card's fee, split off the proceeds
            credits[to_account_id] -= fee_to[1]
            credits[fee_to[0]] = credits.get(fee_to[0], 0) + fee_to[1]
        if fee:
            credits[fees] = credits.get(fees, 0) + fee
        postings = [Posting(cp_kzt, -gross)] + [Posting(a, m) for a, m in credits.items() if m]
        uow.transfer(postings, memo=f"card sale {asset} proceeds")
        return FundingLeg(asset, qty, proceeds_needed_minor, int((self.prices_kzt[asset] * 100).to_integral_value()), fee, 0)
