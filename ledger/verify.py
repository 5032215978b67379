"""``verify()``: prove that no money appeared or vanished, and say in words where it did."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from . import tables as t
from .amounts import format_amount
from .assets import AssetRegistry
from .errors import (ASSET_NOT_ZERO_SUM, BALANCE_MISMATCH, CHECK_FAILED, ENTRY_ASSET_MISMATCH, HELD_MISMATCH,
                     OVERDRAFT, TRANSFER_UNBALANCED, InvariantViolation)

Check = Callable[[Connection], "str | None"]


@dataclass
class VerifyReport:
    accounts: int
    transfers: int
    entries: int
    assets: dict[str, int] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.checks)} invariants hold over {self.accounts} accounts, "
                f"{self.transfers} transfers and {self.entries} entries")


def verify(conn: Connection, assets: AssetRegistry, extra: dict[str, Check]) -> VerifyReport:
    """Raise ``InvariantViolation`` naming the first broken invariant, else return what was checked."""
    def money(amount: int, asset: str) -> str:
        try:
            return format_amount(amount, asset, assets)
        except Exception:  # an unregistered asset in the table is itself reported elsewhere
            return f"{amount} {asset} (minor units)"

    checks = []
    a, e, h = t.accounts, t.entries, t.holds

    checks.append("every asset sums to zero across all accounts")
    totals = {}
    for asset, total in conn.execute(select(a.c.asset, func.sum(a.c.balance_minor)).group_by(a.c.asset)):
        totals[asset] = int(total)
        if total != 0:
            raise InvariantViolation(f"{asset} sums to {money(int(total), asset)} across all accounts, not zero: "
                                     "money was created or destroyed", code=ASSET_NOT_ZERO_SUM, asset=asset)

    checks.append("every transfer balances per asset")
    row = conn.execute(select(e.c.transfer_id, e.c.asset, func.sum(e.c.amount_minor))
                       .group_by(e.c.transfer_id, e.c.asset).having(func.sum(e.c.amount_minor) != 0).limit(1)).first()
    if row is not None:
        raise InvariantViolation(f"transfer {row[0]} does not balance in {row[1]}: off by {money(int(row[2]), row[1])}",
                                 code=TRANSFER_UNBALANCED, transfer_id=row[0])

    checks.append("every balance equals the sum of its entries")
    sums = select(e.c.account_id, func.sum(e.c.amount_minor).label("total")).group_by(e.c.account_id).subquery()
    row = conn.execute(select(a.c.code, a.c.asset, a.c.balance_minor, func.coalesce(sums.c.total, 0))
                       .select_from(a.outerjoin(sums, sums.c.account_id == a.c.id))
                       .where(a.c.balance_minor != func.coalesce(sums.c.total, 0)).limit(1)).first()
    if row is not None:
        raise InvariantViolation(f"account {row[0]} shows {money(row[2], row[1])} but its entries add up to "
                                 f"{money(int(row[3]), row[1])}", code=BALANCE_MISMATCH, account=row[0])

    checks.append("every entry is in its account's asset")
    row = conn.execute(select(e.c.id, a.c.code, e.c.asset, a.c.asset).select_from(e.join(a, a.c.id == e.c.account_id))
                       .where(e.c.asset != a.c.asset).limit(1)).first()
    if row is not None:
        raise InvariantViolation(f"entry {row[0]} posts {row[2]} to {row[3]} account {row[1]}",
                                 code=ENTRY_ASSET_MISMATCH)

    checks.append("held amounts equal the pending holds")
    pend = (select(h.c.account_id, func.sum(h.c.remaining_minor).label("held"))
            .where(h.c.status == "pending").group_by(h.c.account_id).subquery())
    row = conn.execute(select(a.c.code, a.c.asset, a.c.held_minor, func.coalesce(pend.c.held, 0))
                       .select_from(a.outerjoin(pend, pend.c.account_id == a.c.id))
                       .where(a.c.held_minor != func.coalesce(pend.c.held, 0)).limit(1)).first()
    if row is not None:
        raise InvariantViolation(f"account {row[0]} has {money(row[2], row[1])} held but its pending holds add up "
                                 f"to {money(int(row[3]), row[1])}", code=HELD_MISMATCH, account=row[0])

    checks.append("no account that forbids overdraft is negative")
    row = conn.execute(select(a.c.code, a.c.asset, a.c.balance_minor, a.c.held_minor)
                       .where(a.c.allow_negative.is_(False))
                       .where((a.c.balance_minor < 0) | (a.c.balance_minor - a.c.held_minor < 0)).limit(1)).first()
    if row is not None:
        raise InvariantViolation(f"account {row[0]} is overdrawn: balance {money(row[2], row[1])}, held "
                                 f"{money(row[3], row[1])}", code=OVERDRAFT, account=row[0])

    for name, check in extra.items():
        checks.append(name)
        problem = check(conn)
        if problem:
            raise InvariantViolation(f"{name}: {problem}", code=CHECK_FAILED, check=name)

    counts = conn.execute(select(select(func.count()).select_from(a).scalar_subquery(),
                                 select(func.count()).select_from(t.transfers).scalar_subquery(),
                                 select(func.count()).select_from(e).scalar_subquery())).one()
    return VerifyReport(int(counts[0]), int(counts[1]), int(counts[2]), totals, checks)
