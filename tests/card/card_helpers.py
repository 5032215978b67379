"""Shared setup for card tests: a migrated ledger, a funded customer, a card and merchants."""
from __future__ import annotations

from decimal import Decimal

from ledger import move

from card import CardService, FixedPriceFunder

PRICES = {"USDT": Decimal("500"), "BTC": Decimal("50000000"), "ETH": Decimal("1500000"), "KZTE": Decimal("1")}


def fund(ledger, owner: str, asset: str, amount_minor: int, purpose: str = "customer") -> int:
    with ledger.unit_of_work() as uow:
        world = uow.find_account(f"external:world:{asset}") or uow.open_account("world", asset, "external")
        acct = uow.find_account(f"{purpose}:{owner}:{asset}") or uow.open_account(owner, asset, purpose)
        uow.transfer(move(world.id, acct.id, amount_minor), memo="test funding")
        uow.commit()
        return acct.id


def snapshot(ledger) -> dict[str, tuple[int, int]]:
    """Every account's (ledger, held) balance by code."""
    from sqlalchemy import select
    from ledger import tables as lt
    with ledger.unit_of_work(read_only=True) as uow:
        rows = uow.conn.execute(select(lt.accounts.c.code, lt.accounts.c.balance_minor,
                                       lt.accounts.c.held_minor)).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def setup_city(ledger, *, funder=None, rules=None, usdt_minor=1_000_000_000, tenge_minor=0, **service_options):
    funder = funder or FixedPriceFunder(PRICES, fee_bps=10)
    cards = CardService(ledger, funder, rules, **service_options)
    cards.register_merchant("cafe", "Alatau Coffee", "5814", in_zone=True, mdr_bps=150)
    cards.register_merchant("casino", "Lucky Steppe", "7995", in_zone=True)
    cards.register_merchant("outside", "Almaty Grocer", "5411", in_zone=False)
    card, cvv = cards.issue_card("cust:1")
    if usdt_minor:
        fund(ledger, "cust:1", "USDT", usdt_minor)
    if tenge_minor:
        fund(ledger, "cust:1", "KZT", tenge_minor, purpose="bank")
    return cards, card
