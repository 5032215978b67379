"""ledger — the double-entry core: assets, amounts, accounts, transfers, holds,
idempotency and invariant checks. Knows nothing of crypto or cards.

    from ledger import Ledger, Posting, move
    ledger = Ledger.open("sqlite:///city.db")
    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external")
        alice = uow.open_account("cust:1", "KZT", "customer")
        uow.transfer(move(world.id, alice.id, 250_000), key="deposit-1")
        uow.commit()
    ledger.verify()
"""
from . import errors
from .accounts import Account, Balance, account_code
from .amounts import Money, format_amount, parse_amount, require_minor, to_decimal, to_minor
from .assets import DEFAULT_ASSETS, DEFAULT_REGISTRY, Asset, AssetRegistry
from .clock import Clock, ManualClock
from .core import Ledger
from .db import Database
from .holds import Hold
from .transfers import Posting, TransferResult, move
from .unit_of_work import UnitOfWork
from .verify import VerifyReport

__all__ = ["errors", "Account", "Balance", "account_code", "Money", "format_amount", "parse_amount",
           "require_minor", "to_decimal", "to_minor", "DEFAULT_ASSETS", "DEFAULT_REGISTRY", "Asset",
           "AssetRegistry", "Clock", "ManualClock", "Ledger", "Database", "Hold", "Posting", "TransferResult",
           "move", "UnitOfWork", "VerifyReport"]
