"""``cryptocity demo``: a narrated Crypto City story on the embedded SQLite default.

For now the story runs on the ledger alone (a tenge purchase with a two-phase
hold); it grows into the full crypto-card story as the exchange and card land.
"""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ledger import Database, Ledger, ManualClock, format_amount, move, parse_amount

DEFAULT_DB_DIR = Path(".cryptocity")


def _fresh_sqlite(seed: int) -> str:
    path = DEFAULT_DB_DIR / f"demo-seed-{seed}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def _balances(console: Console, ledger: Ledger, title: str, codes: list[str]) -> None:
    table = Table(title=title)
    for column, justify in (("account", "left"), ("ledger balance", "right"), ("held", "right"),
                            ("available", "right")):
        table.add_column(column, justify=justify)
    with ledger.unit_of_work(read_only=True) as uow:
        for code in codes:
            acct = uow.account_by_code(code)
            table.add_row(code, format_amount(acct.balance_minor, acct.asset), format_amount(acct.held_minor, acct.asset),
                          format_amount(acct.available_minor, acct.asset))
    console.print(table)


def run_demo(db_url: str | None, seed: int, console: Console | None = None) -> None:
    console = console or Console()
    db = Database(db_url or _fresh_sqlite(seed))
    db.migrate()
    clock = ManualClock()
    ledger = Ledger(db, clock)
    console.rule("[bold]Crypto City — a purchase on the double-entry ledger")
    console.print(f"Sandbox time {clock.now():%Y-%m-%d %H:%M} UTC, seed {seed}, database {db.dialect}.")

    with ledger.unit_of_work() as uow:
        world = uow.open_account("world", "KZT", "external")
        aigerim = uow.open_account("cust:aigerim", "KZT", "bank")
        cafe = uow.open_account("merchant:alatau-coffee", "KZT", "settlement")
        uow.transfer(move(world.id, aigerim.id, parse_amount("25 000.00 KZT").amount_minor), key="demo-salary",
                     memo="salary paid into Aigerim's tenge account")
        uow.commit()
    codes = [aigerim.code, cafe.code, world.code]
    console.print("Aigerim's salary of 25 000.00 KZT arrives from outside the sandbox (the world account goes "
                  "negative: that is where money enters).")
    _balances(console, ledger, "after the salary", codes)

    coffee = parse_amount("2 500.00 KZT").amount_minor
    with ledger.unit_of_work() as uow:
        hold = uow.hold(aigerim.id, coffee, expires_at=clock.now() + timedelta(days=7), key="demo-auth",
                        memo="card authorization at Alatau Coffee")
        uow.commit()
    console.print(f"She taps her card at Alatau Coffee: a hold of {format_amount(coffee, 'KZT')} lowers her "
                  "available balance, not her ledger balance.")
    _balances(console, ledger, "after the authorization", codes)

    clock.advance(timedelta(hours=20))
    captured = parse_amount("2 200.00 KZT").amount_minor
    with ledger.unit_of_work() as uow:
        uow.post_hold(hold.id, [(cafe.id, captured)], amount_minor=captured, key="demo-capture",
                      memo="clearing: the café captures 2 200.00 KZT, the rest of the hold is released")
        uow.commit()
    console.print(f"Next morning the café clears {format_amount(captured, 'KZT')} (a smaller final bill); "
                  f"the other {format_amount(coffee - captured, 'KZT')} of the hold is released.")
    _balances(console, ledger, "after clearing", codes)

    try:
        with ledger.unit_of_work() as uow:
            uow.transfer(move(aigerim.id, cafe.id, parse_amount("1 000 000.00 KZT").amount_minor), key="demo-too-much")
            uow.commit()
    except Exception as refusal:  # noqa: BLE001 - shown to the audience as the lesson
        console.print(f"A transfer of 1 000 000.00 KZT is refused: [red]{getattr(refusal, 'code', '')}[/red] — {refusal}. "
                      "Nothing changed.")
    report = ledger.verify()
    console.rule("[bold green]invariants verified")
    console.print(report.summary() + ": every asset sums to zero, every balance equals its entries, "
                  "no account is overdrawn.")
    db.dispose()
