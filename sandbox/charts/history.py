"""The stored history the charts plot, read from a city through the packages that own the tables:
authorizations (card, added up per 15 minutes), ledger entries of the KZTE issuer's accounts (ledger). Read-only, bounded, no
in-memory state: every process draws the same charts from the same database."""
from __future__ import annotations

from datetime import timedelta

from card import report as card_report

from . import series

# The issuer's ledger accounts (stablecoin.issuer.RESERVE_CODE / ISSUANCE_CODE; importing that module loads
# web3, which a chart should not pay for; tests/sandbox/test_charts.py keeps them equal).
RESERVE_CODE = "reserve:kzte-issuer:KZT"
ISSUANCE_CODE = "external:kzte-issuer:KZTE"
MAX_ENTRIES = 20_000
PAGE = 1000


def card_buckets(city, hours: int) -> list[card_report.Bucket]:
    """The 15-minute buckets of card activity (oldest first) that the last ``hours`` hours with activity
    need: those hours span at most ``hours + 1`` hours of real time (a DST change back repeats one) from
    the newest bucket's hour, which began less than an hour before that bucket."""
    per_hour = 3_600_000_000 // card_report.BUCKET_MICROS

    def read(uow):
        latest = card_report.latest_at(uow)
        if latest is None:
            return []
        return card_report.buckets(uow, limit=(hours + 2) * per_hour, since=latest - timedelta(hours=hours + 2))
    return city.ctx.read(read)


def _entries(uow, code: str) -> list[dict]:
    account = uow.find_account(code)
    if account is None:
        return []
    out: list[dict] = []
    after_id = None
    while len(out) < MAX_ENTRIES:
        page = uow.history(account.id, after_id=after_id, limit=PAGE)
        out.extend(page)
        if len(page) < PAGE:
            break
        after_id = page[-1]["entry_id"]
    return out


def kzte_history(city) -> list[tuple]:
    """(at, tenge reserve_minor, KZTE supply_minor) after each mint or redemption, oldest first.

    The supply is the issuer's KZTE liability in the ledger (the negative of its issuance account), which
    ``ledger.verify()`` proves equal to the supply on chain whenever the token is live."""
    def read(uow):
        return _entries(uow, RESERVE_CODE), _entries(uow, ISSUANCE_CODE)
    reserve, issuance = city.ctx.read(read)
    return series.merge_steps(series.balance_steps(reserve), series.balance_steps(issuance, sign=-1))
