"""What one authorization costs the database, counted on its unit of work (``UnitOfWork.statements``:
every statement between BEGIN and COMMIT, SAVEPOINT and ROLLBACK TO included, an executemany once).

Deterministic, not timed: the count is what ``cryptocity bench card`` prints as ``statements per
authorization``. An approved purchase that sells USDT on the real exchange just in time (the bank
account is empty) is counted once the caches of immutable things (account ids, a hold's account) are
warm, as in a running sandbox.
"""
from __future__ import annotations

import pytest

from card import CardService, FundingSettings, SpendControls
from card import response_codes as rc
from card.authorization import authorize
from exchange import Exchange, Instrument
from ledger import Database, Ledger
from sandbox.funding import ExchangeFunder

from card_helpers import fund, snapshot

USDT = Instrument("USDT/KZT", "USDT", "KZT", 1, 10_000, 100_00, 10, 10, base_decimals=6)
# Issue 14 asks for 20; the path is there (see docs/performance.md for what each one is).
MAX_APPROVED_JIT_SQLITE = 20
MAX_DECLINED_SQLITE = 5   # the reads, SAVEPOINT, ROLLBACK TO, the declined row and its event
MAX_APPROVED_JIT_POSTGRESQL = 26   # + the holder's and the book's advisory locks, counters and book read under them


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def jit(request, clock):
    db = Database(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    db.migrate()
    ledger = Ledger(db, clock)
    ex = Exchange(ledger, [USDT])
    fund(ledger, "mm", "KZT", 10**13)
    fund(ledger, "mm", "USDT", 10**12)
    fund(ledger, "cust:1", "USDT", 10**10)   # 10 000 USDT, and no tenge at all
    for side, price in (("buy", 500_00), ("sell", 500_10)):
        with ledger.unit_of_work() as uow:
            ex.place_order(uow, "mm", "USDT/KZT", side, "limit", qty_minor=10**11, price_minor=price)
            uow.commit()
    cards = CardService(ledger, ExchangeFunder(ex), deadline_ms=30_000)
    cards.register_merchant("shop", "Corner Shop", "5411")
    card, _ = cards.issue_card("cust:1", funding=FundingSettings(order=("USDT",)),
                               controls=SpendControls(daily_limit_minor=None))
    assert cards.authorize(card_id=card.id, amount_minor=1_000_00, merchant_id="shop", idempotency_key="warm").sold
    yield request.param, ledger, cards, card
    db.dispose()


def _counted(ledger, cards, **request):
    with ledger.unit_of_work() as uow:
        result = authorize(cards, uow, **request)
        statements = uow.statements
        uow.commit()
    return result, statements


def test_an_approved_jit_authorization_takes_at_most_its_statements(jit):
    dialect, ledger, cards, card = jit
    result, statements = _counted(ledger, cards, card_id=card.id, amount_minor=1_000_00, merchant_id="shop",
                                  idempotency_key="counted")
    assert result.approved and result.sold and result.conversion_fee_minor > 0
    limit = MAX_APPROVED_JIT_SQLITE if dialect == "sqlite" else MAX_APPROVED_JIT_POSTGRESQL
    assert 0 < statements <= limit, f"{statements} statements for one approved JIT authorization on {dialect}"
    ledger.verify()


def test_a_declined_authorization_takes_at_most_its_statements_and_moves_nothing(jit):
    dialect, ledger, cards, card = jit
    before = snapshot(ledger)
    result, statements = _counted(ledger, cards, card_id=card.id, amount_minor=1_000_00, merchant_id="nowhere",
                                  idempotency_key="declined")
    assert result.response_code == rc.NOT_PERMITTED
    if dialect == "sqlite":
        assert 0 < statements <= MAX_DECLINED_SQLITE, f"{statements} statements for one decline"
    assert snapshot(ledger) == before
    ledger.verify()


def test_the_conversion_fee_rides_in_the_sales_transfer(jit):
    """The bank account receives the sale's proceeds less the card's fee, and the fee account the fee, in
    the fill's one transfer: balances end as they did when the fee was a transfer of its own."""
    _dialect, ledger, cards, card = jit

    def balances():
        with ledger.unit_of_work(read_only=True) as uow:
            return (uow.account_by_code("fees:card-programme:KZT").balance_minor,
                    uow.balance(card.bank_ledger_account_id))

    fees_before, bank_before = balances()
    result = cards.authorize(card_id=card.id, amount_minor=2_000_00, merchant_id="shop", idempotency_key="fee")
    fees_after, bank_after = balances()
    fee, proceeds = result.conversion_fee_minor, result.sold[0]["proceeds_minor"]
    assert result.approved and fee == -(-result.shortfall_minor // 100)   # 1%, rounded up to the tiyn
    assert fees_after == fees_before + fee
    assert bank_after.ledger_minor == bank_before.ledger_minor + proceeds - fee
    assert bank_after.held_minor == bank_before.held_minor + 2_000_00 and bank_after.available_minor >= 0
    ledger.verify()
