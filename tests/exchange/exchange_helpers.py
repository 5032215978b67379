"""Shared helpers for the exchange tests (imported by name; pytest puts this folder on sys.path)."""
from __future__ import annotations

from ledger import Database, Ledger, move

from exchange import Exchange, Instrument, PriceModel

BTC = Instrument("BTC/KZT", "BTC", "KZT", tick_size=100, lot_size=1_000, min_notional_minor=100_00,
                 maker_fee_bps=10, taker_fee_bps=20)
ETH = Instrument("ETH/KZTE", "ETH", "KZTE", tick_size=100, lot_size=1_000_000, min_notional_minor=100_00,
                 maker_fee_bps=10, taker_fee_bps=20)
P = 45_000_000_00          # 45 000 000.00 KZT per BTC
SAT = 1                     # base minor
LOT = 1_000


def open_exchange(url: str, clock, seed: int = 7, migrate: bool = True) -> tuple[Ledger, Exchange]:
    db = Database(url)
    if migrate:
        db.migrate(["ledger", "exchange"])
    ledger = Ledger(db, clock)
    return ledger, Exchange(ledger, [BTC, ETH], PriceModel(seed=seed))


def fund(ledger: Ledger, owner: str, asset: str, amount_minor: int) -> None:
    with ledger.unit_of_work() as uow:
        world = uow.find_account(f"external:world:{asset}") or uow.open_account("world", asset, "external")
        acct = uow.find_account(f"customer:{owner}:{asset}") or uow.open_account(owner, asset, "customer")
        uow.transfer(move(world.id, acct.id, amount_minor))
        uow.commit()


def balance(ledger: Ledger, owner: str, asset: str, purpose: str = "customer"):
    with ledger.unit_of_work(read_only=True) as uow:
        acct = uow.find_account(f"{purpose}:{owner}:{asset}")
        return None if acct is None else uow.balance(acct.id)


def place(ledger: Ledger, ex: Exchange, *args, **kw):
    with ledger.unit_of_work() as uow:
        result = ex.place_order(uow, *args, **kw)
        uow.commit()
        return result


def rich(ledger: Ledger, *owners: str) -> None:
    for owner in owners:
        fund(ledger, owner, "BTC", 100 * 10**8)
        fund(ledger, owner, "KZT", 10**14)


def everything(ledger, ex: Exchange, symbol: str = "BTC/KZT") -> tuple:
    """What a refused order must leave unchanged: every balance and hold, the row counts of transfers,
    entries, holds, orders and trades, and the book."""
    from sqlalchemy import func, select

    from exchange import tables as xt
    from ledger import tables as lt
    with ledger.unit_of_work(read_only=True) as uow:
        balances = sorted(uow.conn.execute(select(lt.accounts.c.code, lt.accounts.c.balance_minor,
                                                  lt.accounts.c.held_minor)).all())
        counts = [uow.conn.execute(select(func.count()).select_from(tab)).scalar_one()
                  for tab in (lt.transfers, lt.entries, lt.holds, xt.orders, xt.trades)]
    return balances, counts, ex.book_snapshot(symbol)


def refused(ledger, ex: Exchange, error_type, code: str, *args, **kw):
    """Place an order that must be refused with ``error_type``/``code`` and prove nothing changed."""
    import pytest
    before = everything(ledger, ex)
    with pytest.raises(error_type) as info:
        place(ledger, ex, *args, **kw)
    assert info.value.code == code and str(info.value)
    assert everything(ledger, ex) == before, "a refused order must change nothing"
    ledger.verify()
    return info.value
