"""ExchangeFunder: the card's Funder port over the AIFC exchange's instant sell (and KZTE redemption).

A card sale of ``asset``:
- ``KZTE`` itself: redeemed at par through the stablecoin issuer straight into the bank account;
- an asset with a ``<asset>/KZT`` book: instant sell on the exchange, its tenge settled straight into
  the bank account (``instant_sell(proceeds_to=)``);
- an asset with only an ``<asset>/KZTE`` book: instant sell for KZTE, then redeem that KZTE to tenge.
Everything happens inside the card's unit of work, so a decline rolls the sale back too.
"""
from __future__ import annotations

from ledger import Posting
from ledger.errors import DomainError

from card.ports import BoughtBack, Capacity, FundingLeg, FundingShort, FundingUnavailable

from .fuzz.faults import skips_conversion_fee

_UNAVAILABLE = {"no_liquidity", "slippage_exceeded", "trading_halted", "unknown_instrument", "book_full"}
_SHORT = {"insufficient_balance", "insufficient_funds", "insufficient_kzte"}
MAX_SEARCH_STEPS = 48


class ExchangeFunder:
    def __init__(self, exchange, issuer=None) -> None:
        self.exchange = exchange
        self.issuer = issuer

    # -- helpers ---------------------------------------------------------------------------
    def _quote_asset(self, asset: str) -> str | None:
        for quote in ("KZT", "KZTE"):
            try:
                self.exchange.instruments.for_pair(asset, quote)
            except DomainError:
                continue
            if quote == "KZTE" and self.issuer is None:
                continue  # KZTE proceeds could not be turned into tenge
            return quote
        return None

    @staticmethod
    def _translate(error: DomainError, asset: str):
        if error.code in _SHORT:
            return FundingShort(f"{asset}: {error}")
        # any other refusal by the market (halted, no liquidity, slippage, order rules) means the
        # sale cannot happen now: the card declines 91 with the exchange's own words
        return FundingUnavailable(f"{asset}: {error}")

    def _min_sale_minor(self, asset: str, quote: str) -> int:
        """The smallest proceeds the exchange accepts as one order (its minimum notional)."""
        return int(self.exchange.instruments.for_pair(asset, quote).min_notional_minor)

    def known_accounts(self, owner: str, assets) -> list[int]:
        """The ids of the owner's holdings of ``assets`` known without a query (the card may read them
        together with its bank account)."""
        known = (self.exchange.known_account_id(owner, asset) for asset in assets)
        return [account_id for account_id in known if account_id is not None]

    def available(self, uow, owner: str, asset: str) -> int:
        account_id = self.exchange.known_account_id(owner, asset)
        if account_id is not None:   # a row this unit of work already holds is not read again
            return uow.balance(account_id).available_minor
        # The row find_account returns already carries the balance and holds: no second read of it.
        acct = uow.find_account(f"customer:{owner}:{asset}")
        return 0 if acct is None else acct.available_minor

    def _feasible(self, uow, owner: str, asset: str, quote: str, proceeds_minor: int, slippage_cap_bps: int,
                  held_minor: int) -> tuple[bool, bool]:
        """(can sell for ``proceeds_minor`` now, the book rather than the holding was the limit)."""
        try:
            q = self.exchange.quote_sell(uow, asset, proceeds_minor, quote, owner=owner)
        except DomainError as error:
            if error.code in ("no_liquidity",):
                return False, True
            if error.code == "trading_halted":
                raise FundingUnavailable(f"{asset}: {error}") from None
            return False, False  # e.g. below the minimum order size
        if q.slippage_bps > slippage_cap_bps:
            return False, True
        return q.base_qty_minor <= held_minor, False

    # -- the port --------------------------------------------------------------------------
    def capacity(self, uow, owner: str, asset: str, slippage_cap_bps: int, up_to_minor: int) -> Capacity:
        """Tenge up to ``up_to_minor`` the owner's ``asset`` raises within the cap (binary search on quotes
        only when the full amount is out of reach)."""
        held = self.available(uow, owner, asset)
        if held <= 0 or up_to_minor <= 0:
            return Capacity(0)
        if asset == "KZTE":
            return Capacity(min(held, up_to_minor) if self.issuer is not None else 0)
        quote = self._quote_asset(asset)
        if quote is None:
            return Capacity(0)
        floor = self._min_sale_minor(asset, quote)
        ok, book_limited = self._feasible(uow, owner, asset, quote, max(up_to_minor, floor), slippage_cap_bps, held)
        if ok:
            return Capacity(up_to_minor)
        low, high = 0, up_to_minor  # low feasible, high infeasible
        for _ in range(MAX_SEARCH_STEPS):
            if high - low <= 1:
                break
            mid = (low + high) // 2
            ok, limited = self._feasible(uow, owner, asset, quote, mid, slippage_cap_bps, held)
            if ok:
                low = mid
            else:
                high, book_limited = mid, book_limited or limited
        # Below the exchange's minimum order nothing is sellable on its own (the plan skips a 0).
        return Capacity(low if low >= floor else 0, liquidity_limited=book_limited)

    def sell_for_tenge(self, uow, owner: str, asset: str, proceeds_needed_minor: int, slippage_cap_bps: int,
                       to_account_id: int, *, fee_to: tuple[int, int] | None = None) -> FundingLeg:
        if fee_to is not None and skips_conversion_fee(asset):   # test-only fault (sandbox/fuzz/faults.py)
            fee_to = None
        try:
            if asset == "KZTE":
                if self.issuer is None:
                    raise FundingUnavailable("no KZTE issuer is wired into this sandbox")
                self.issuer.redeem_to_tenge(uow, owner, proceeds_needed_minor, to_account_id)
                _pay_fee(uow, to_account_id, fee_to)
                return FundingLeg("KZTE", proceeds_needed_minor, proceeds_needed_minor, 100, 0, 0)
            quote = self._quote_asset(asset)
            if quote is None:
                raise FundingUnavailable(f"no market sells {asset} for tenge")
            # A shortfall below the exchange's minimum order is sold at the minimum; the extra tenge
            # stays in the customer's bank account (it is theirs), never lost.
            target = max(proceeds_needed_minor, self._min_sale_minor(asset, quote))
            if quote == "KZTE":
                sale = self.exchange.instant_sell(uow, owner, asset, target, quote, slippage_cap_bps)
                # redeem everything the sale raised; the surplus (< one lot) lands in the bank as tenge too
                self.issuer.redeem_to_tenge(uow, owner, sale.proceeds_minor, to_account_id)
                _pay_fee(uow, to_account_id, fee_to)
            else:
                # The tenge settles straight into the bank account (surplus included) and the card's fee
                # to its account, in the fill's own transfer: no stop on the customer's exchange account.
                sale = self.exchange.instant_sell(uow, owner, asset, target, quote, slippage_cap_bps,
                                                  proceeds_to=to_account_id, proceeds_split=fee_to)
        except DomainError as error:
            translated = self._translate(error, asset)
            if translated is None:
                raise
            raise translated from None
        return FundingLeg(asset, sale.sold_qty_minor, sale.proceeds_minor, sale.avg_price_minor, sale.fee_minor,
                          sale.slippage_bps)

    def buy_with_tenge(self, uow, owner: str, asset: str, spend_minor: int, from_account_id: int) -> BoughtBack:
        """A market buy of ``asset`` for tenge spending at most ``spend_minor`` from the bank account
        (through the owner's exchange tenge account; the unspent part of a lot goes back). Only assets
        with an ``<asset>/KZT`` book; a refusal of the exchange is a FundingUnavailable and, under the
        caller's savepoint, changes nothing."""
        try:
            symbol = self.exchange.instruments.for_pair(asset, "KZT").symbol
        except DomainError:
            raise FundingUnavailable(f"no market sells {asset} for tenge") from None
        cash = self.exchange._account(uow, owner, "KZT", create=True)
        uow.transfer([Posting(from_account_id, -spend_minor), Posting(cash, spend_minor)], memo=f"card buy-back {asset}")
        try:
            res = self.exchange.place_order(uow, owner, symbol, "buy", "market", quote_qty_minor=spend_minor)
        except DomainError as error:
            raise FundingUnavailable(f"{asset}: {error}") from None
        spent = res.quote_filled_minor + res.fee_minor
        if res.filled_qty_minor <= 0:
            raise FundingUnavailable(f"{asset}: the order book sold nothing for {spend_minor} tiyn")
        if spend_minor - spent > 0:
            uow.transfer([Posting(cash, -(spend_minor - spent)), Posting(from_account_id, spend_minor - spent)],
                         memo=f"card buy-back {asset}: unspent")
        avg = res.quote_filled_minor * self.exchange.instruments.for_pair(asset, "KZT").base_unit // res.filled_qty_minor
        return BoughtBack(asset, res.filled_qty_minor, spent, avg, res.fee_minor)


def _pay_fee(uow, from_account_id: int, fee_to: tuple[int, int] | None) -> None:
    """The card's conversion fee, when the proceeds reached the bank account without a split."""
    if fee_to is not None and fee_to[1] > 0:
        uow.transfer([Posting(from_account_id, -fee_to[1]), Posting(fee_to[0], fee_to[1])], memo="card conversion fee")
