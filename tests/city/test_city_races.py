"""Concurrent clearing on the facade: one key, many threads — one effect, one audit entry."""
from __future__ import annotations

from sqlalchemy import func, select

from racing import race
from sandbox.city import CryptoCity
from sandbox.tables import audit_log

THREADS = 20


def _audited(city, action: str) -> int:
    with city.ledger.unit_of_work(read_only=True) as uow:
        return uow.conn.execute(select(func.count()).select_from(audit_log)
                                .where(audit_log.c.action == action)).scalar_one()


def test_twenty_concurrent_captures_with_one_key_capture_once_and_audit_once(db_url):
    """The "already done?" look happens under the authorization's row lock, in the transaction that
    captures and audits: the first request captures and writes one ``card.capture`` entry, the other
    nineteen wait for it and then find the key done (before, each one that looked before the first had
    committed wrote its own entry: 8 of 20 on PostgreSQL)."""
    city = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    try:
        city.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 50_000_00})
        assert city.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=1_500_00, ref="coffee").status == "approved"
        results = race(THREADS, lambda i: city.capture(ref="coffee", key="capture-once"))
        assert not [r for r in results if isinstance(r, Exception)], results
        assert {r["captured_minor"] for r in results} == {1_500_00}
        assert city.account_balance("merchant:alatau-coffee:KZT") == 1_500_00 - 22_50   # paid once, minus 1.5 %
        assert _audited(city, "card.capture") == 1
        city.verify()
    finally:
        city.close()
