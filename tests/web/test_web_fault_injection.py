"""A POS authorization over HTTP is ONE transaction — the idempotency claim, the card's decision (crypto
sale, fee, hold, authorization row), its audit entry and the stored response. A fault injected at each of
its statements in turn leaves either nothing at all (the request failed; retrying the key runs it afresh)
or a whole, recorded answer (a 96 decline whose claim carries its response) — never money moved without a
record, a record without its answer, or a claimed key without a response."""
from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event, func, select
from web_support import auth

from ledger import tables as lt
from ledger.unit_of_work import CountingCursor
from sandbox.tables import audit_log

PURCHASE_MINOR = 5_000_00   # paid all in USDT (the card is set not to spend tenge first): a JIT sale every time


class InjectedFault(RuntimeError):
    pass


class Faults:
    """Counts every statement (raw cursor and SQLAlchemy) while armed and raises at statement ``at``."""

    def __init__(self, engine, monkeypatch) -> None:
        self.count, self.at, self.armed = 0, None, False
        raw_execute, raw_many = CountingCursor.execute, CountingCursor.executemany

        def execute(cursor, sql, params=None):  # noqa: ANN001
            self._tick()
            return raw_execute(cursor, sql, params)

        def executemany(cursor, sql, rows):  # noqa: ANN001
            self._tick()
            return raw_many(cursor, sql, rows)
        monkeypatch.setattr(CountingCursor, "execute", execute)
        monkeypatch.setattr(CountingCursor, "executemany", executemany)
        event.listen(engine, "before_cursor_execute", self._core)
        self._engine = engine

    def _core(self, *_args) -> None:  # noqa: ANN002
        self._tick()

    def _tick(self) -> None:
        if self.armed:
            self.count += 1
            if self.count == self.at:
                raise InjectedFault(f"fault injected at statement {self.count}")

    @contextlib.contextmanager
    def arm(self, at: int | None):
        self.count, self.at, self.armed = 0, at, True
        try:
            yield
        finally:
            self.armed = False

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._core)


def _state(city) -> dict:
    """What a fault must not leave half-done: balances, rows of every kind the purchase writes."""
    from card.tables import authorizations, funding_legs
    from exchange.tables import orders, trades
    with city.ledger.unit_of_work(read_only=True) as uow:
        count = lambda table: uow.conn.execute(select(func.count()).select_from(table)).scalar_one()  # noqa: E731
        a = lt.accounts.c
        balances = {code: (balance, held) for code, balance, held in
                    uow.conn.execute(select(a.code, a.balance_minor, a.held_minor))}
        return {"balances": balances, "authorizations": count(authorizations), "legs": count(funding_legs),
                "orders": count(orders), "trades": count(trades), "audit": count(audit_log),
                "transfers": count(lt.transfers), "holds": count(lt.holds),
                "claims": count(lt.idempotency),
                "unanswered": uow.conn.execute(select(func.count()).select_from(lt.idempotency)
                                               .where(lt.idempotency.c.response.is_(None))).scalar_one()}


@pytest.fixture
def faults(cc, monkeypatch):
    injector = Faults(cc.ledger.db.engine, monkeypatch)
    yield injector
    injector.close()


def _pay(client, cc, key: str):
    return client.post("/api/v1/merchants/alatau-coffee/authorizations",
                       json={"card_id": cc.info["aigerim"]["card_id"], "amount_minor": PURCHASE_MINOR},
                       headers=auth(cc.keys["coffee"], **{"Idempotency-Key": key}))


def test_a_fault_at_any_statement_of_an_authorization_leaves_nothing_half_done(cc, cc_client, faults,
                                                                              monkeypatch):
    monkeypatch.setattr("ledger.core.backoff", lambda attempt: None)
    card_id = cc.info["aigerim"]["card_id"]
    assert cc_client.put(f"/api/v1/cards/{card_id}/funding", json={"order": ["USDT"], "spend_tenge_first": False},
                         headers=auth(cc.keys["aigerim"])).status_code == 200
    cc.faucet(actor="aigerim", asset="USDT", amount_minor=10_000 * 10**6)
    assert _pay(cc_client, cc, "warm-up").json["approved"] is True   # opens the fee accounts, fills caches
    cc.advance("1d")   # each purchase on a day of its own: no daily count, velocity or structuring rule trips
    with faults.arm(None):   # one clean purchase, counted: how many statements a JIT authorization sends
        counted = _pay(cc_client, cc, "count-me")
    assert counted.status_code == 201 and counted.json["approved"] is True
    statements = faults.count
    assert statements > 10
    outcomes = {"nothing": 0, "recorded 96": 0}
    for at in range(1, statements + 1):
        cc.advance("1d")
        before = _state(cc)
        key = f"fault-{at}"
        with faults.arm(at):
            answer = _pay(cc_client, cc, key)
        assert faults.count >= at, f"the purchase sent {faults.count} statements, fewer than the counted {statements}"
        after = _state(cc)
        assert after["unanswered"] == 0, f"fault at statement {at}: a claimed key without its response"
        if answer.status_code == 500:   # the request failed as a whole: nothing of it is left
            assert after == before, f"fault at statement {at} left part of a failed request behind"
            outcomes["nothing"] += 1
        else:                           # the card answered 96 and recorded it, with its stored response
            assert answer.status_code == 201 and answer.json["response_code"] == "96", (at, answer.json)
            assert after["balances"] == before["balances"] and after["claims"] == before["claims"] + 1
            assert after["authorizations"] == before["authorizations"] + 1
            assert after["audit"] == before["audit"] + 1 and after["trades"] == before["trades"]
            outcomes["recorded 96"] += 1
        cc.verify()
        retried = _pay(cc_client, cc, key)   # the same key afterwards: the stored answer, or a fresh run
        assert retried.status_code == 201
        if answer.status_code == 201:
            assert retried.json == answer.json
        else:
            assert retried.json["approved"] is True
    print(f"{statements} statements per POS authorization; faults: {outcomes}")
    assert outcomes["nothing"] > 0 and sum(outcomes.values()) == statements
    cc.verify()
