"""Reserve attestation: is every KZTE on chain backed by a tenge in the reserve, and does the ledger agree?"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ledger import Ledger
from ledger.amounts import format_amount
from ledger.tables import accounts

from .issuer import ISSUANCE_CODE, RESERVE_CODE, Issuer

CHECK_NAME = "KZTE supply on chain = KZTE liability in the ledger <= tenge reserve"


def reserve_and_liability(conn) -> tuple[int, int]:
    """(tenge in the reserve, KZTE liability in the ledger), both in minor units, read on ``conn``."""
    rows = dict(conn.execute(select(accounts.c.code, accounts.c.balance_minor)
                             .where(accounts.c.code.in_([RESERVE_CODE, ISSUANCE_CODE]))).all())
    return int(rows.get(RESERVE_CODE, 0)), -int(rows.get(ISSUANCE_CODE, 0))


def peg_problem(reserve_minor: int, liability_minor: int, supply_minor: int) -> str | None:
    """Why the peg is broken, in words, or None when supply == liability <= reserve."""
    if supply_minor != liability_minor:
        return (f"KZTE supply on chain is {format_amount(supply_minor, 'KZTE')} but the issuer's ledger liability "
                f"is {format_amount(liability_minor, 'KZTE')}: chain and ledger disagree")
    if reserve_minor < supply_minor:
        return (f"the tenge reserve holds {format_amount(reserve_minor, 'KZT')}, less than the "
                f"{format_amount(supply_minor, 'KZTE')} in circulation: the coin is under-backed")
    return None


def install_check(ledger: Ledger, issuer: Issuer) -> None:
    """Make ``ledger.verify()`` fail with a named violation when the peg invariant breaks."""
    def check(conn) -> str | None:
        reserve, liability = reserve_and_liability(conn)
        return peg_problem(reserve, liability, issuer.token.total_supply())
    ledger.add_check(CHECK_NAME, check)


def attest(ledger: Ledger, issuer: Issuer) -> dict:
    """A point-in-time reserve report at the sandbox clock's now, JSON-able; ``text`` is for humans."""
    with ledger.unit_of_work(read_only=True) as uow:
        at = uow.now()
        reserve, liability = reserve_and_liability(uow.conn)
    supply = issuer.token.total_supply()
    problem = peg_problem(reserve, liability, supply)
    ratio = (Decimal(reserve) / Decimal(supply)).quantize(Decimal("0.0001")) if supply else None
    report = {
        "at": at.isoformat(),
        "token": issuer.token.symbol(),
        "contract": issuer.token.address,
        "reserve_minor": reserve,
        "supply_minor": supply,
        "liability_minor": liability,
        "excess_reserve_minor": reserve - supply,
        "reserve_ratio": str(ratio) if ratio is not None else None,
        "peg_holds": problem is None,
        "problem": problem,
    }
    ratio_text = f"{ratio * 100:.2f}%" if ratio is not None else "n/a (no tokens outstanding)"
    report["text"] = "\n".join([
        f"KZTE reserve attestation at {at.isoformat()}",
        f"  contract            {issuer.token.address}",
        f"  tenge reserve       {format_amount(reserve, 'KZT'):>25}",
        f"  supply on chain     {format_amount(supply, 'KZTE'):>25}",
        f"  ledger liability    {format_amount(liability, 'KZTE'):>25}",
        f"  reserve ratio       {ratio_text:>25}",
        f"  peg holds           {'yes' if problem is None else 'NO: ' + problem}",
    ])
    return report
