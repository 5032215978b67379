"""A clock advance past the expiry of more open purchases than one unit of work expires: every hold
expires, each authorization once with its ``authorization.expired`` event, in bounded batches — through the
facade, the API and the dashboard's form. Before, the advance wrote one event per expiring purchase in ONE unit of
work, and past 5 000 of them the event log refused it: the clock could never move past that point again."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from card import clearing
from card.tables import authorizations
from ledger import move
from sandbox.apikeys import create_key
from sandbox.city import CryptoCity
from sandbox.services import clock
from sandbox.tables import audit_log
from sandbox.web import create_app

PURCHASES = 11


def _city_with_open_purchases(db_url: str, count: int) -> CryptoCity:
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    people = max(1, count // 5)   # five purchases a person per ten minutes stay under the velocity rule
    for i in range(people):
        city.onboard(actor=f"c{i}", kyc_tier="full", resident=True, deposits={"KZT": 10_000_000_00})
    for n in range(count):
        if n and n % people == 0 and (n // people) % 5 == 0:
            city.advance("11m")
        paid = city.pay(actor=f"c{n % people}", merchant="zone-market", amount_minor=100_00, ref=f"p{n}")
        assert paid.status == "approved", paid.reason
    return city


def _statuses(city) -> dict[str, int]:
    return dict(city.ctx.read(lambda uow: uow.conn.execute(
        select(authorizations.c.status, func.count()).group_by(authorizations.c.status)).all()))


def _expired_events(city) -> list[int]:
    return sorted(e["data"]["authorization_id"] for e in city.events(types=["authorization.expired"], limit=100))


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(clearing, "MAX_EXPIRY_PER_UNIT", 3)


def test_the_facade_expires_every_hold_in_batches(db_url, small_batches):
    city = _city_with_open_purchases(db_url, PURCHASES)
    done = city.advance("8d")
    assert (done.expired_holds, done.expiry_pending) == (PURCHASES, False)
    assert _statuses(city) == {"expired": PURCHASES}
    assert len(_expired_events(city)) == len(set(_expired_events(city))) == PURCHASES   # each once
    sweeps = city.ctx.read(lambda uow: uow.conn.execute(
        select(func.count()).where(audit_log.c.action == "card.holds_expired")).scalar_one())
    assert sweeps == 3   # 3 with the advance, then 3 + 3 + 2
    assert city.advance("1d").expired_holds == 0
    city.verify()
    city.close()


def test_the_api_and_the_dashboard_finish_the_batches_too(db_url, small_batches):
    city = _city_with_open_purchases(db_url, PURCHASES)
    with city.ledger.unit_of_work() as uow:
        host = create_key(uow.conn, "operator", None, now=uow.now()).token
        uow.commit()
    client = create_app(city, {"TESTING": True}).test_client()
    moved = client.post("/api/v1/clock/advance", json={"seconds": 8 * 86_400},
                        headers={"Authorization": f"Bearer {host}", "Idempotency-Key": "a-week-on"})
    assert moved.status_code == 200
    assert _statuses(city) == {"expired": PURCHASES}

    for n in range(PURCHASES, 2 * PURCHASES):   # more open purchases, then the operator's form
        assert city.pay(actor="c0", merchant="zone-market", amount_minor=100_00, ref=f"p{n}").status == "approved"
        if n % 5 == 4:
            city.advance("11m")
    board = create_app(city, {"TESTING": True, "OPEN_DASHBOARD": True}).test_client()
    overview = board.get("/").get_data(as_text=True)
    form = {name: re.search(rf'name="{name}" value="([^"]*)"', overview).group(1) for name in ("csrf", "ref")}
    page = board.post("/clock", data={**form, "by": "7d"}, follow_redirects=True).get_data(as_text=True)
    assert f"{PURCHASES} card hold(s) expired" in page
    assert _statuses(city) == {"expired": 2 * PURCHASES}
    city.verify()
    city.close()


def test_thousands_of_open_purchases_do_not_stop_the_clock(sqlite_url):
    city = _city_with_open_purchases(sqlite_url, 5_001)
    done = city.advance("8d")
    assert done.expired_holds == 5_001 and _statuses(city) == {"expired": 5_001}
    city.verify()
    city.close()


def test_a_hold_the_ledger_expired_by_itself_still_expires_its_purchase(db_url, monkeypatch):
    """A debit or a new hold on a bank account expires that account's holds past their date by itself (the
    ledger's own sweep); the card marks their purchases at the next advance all the same."""
    monkeypatch.setattr(clearing, "MAX_EXPIRY_PER_UNIT", 1)
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    city.onboard(actor="c0", kyc_tier="full", resident=True, deposits={"KZT": 1_000_00})
    for n in range(2):
        assert city.pay(actor="c0", merchant="zone-market", amount_minor=400_00, ref=f"p{n}").status == "approved"
    done = city.run(clock.advance, delta="8d")           # one batch only: the second hold is left past its date
    assert (done.expired_holds, done.expiry_pending) == (1, True)

    def spend(uow):   # 900 KZT leave the bank account: the ledger expires the second hold to make room
        bank = uow.find_account("bank:c0:KZT")
        world = uow.find_account("external:world:KZT") or uow.open_account("world", "KZT", "external")
        uow.transfer(move(bank.id, world.id, 900_00), memo="a transfer out")
    city.ledger.transaction(spend)
    assert _statuses(city) == {"expired": 1, "approved": 1}
    city.advance("1h")
    assert _statuses(city) == {"expired": 2}
    assert len(_expired_events(city)) == 2
    city.verify()
    city.close()
