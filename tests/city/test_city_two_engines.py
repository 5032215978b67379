"""Two processes over one database are one city: after every verb, made by either, both give the same
answer to every read — customers, KYC tiers, balances, flags, tax statements, licences, the clock. (Two
cities on two engines stand for two processes: they share nothing but the database.)"""
from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.city import CryptoCity

ACTORS = ("aigerim", "bob")


def _reads(city) -> dict:
    year = city.now().astimezone(city.cfg.sandbox.zone).year
    summary = city.regulator_summary()
    return {
        "now": city.now(),
        "customers": {a: city.profile(a) for a in ACTORS},
        "balances": {a: city.balances(a) for a in ACTORS},
        "flags": {a: city.flags(a) for a in ACTORS},
        "tax": {a: city.tax_statement(a, year).to_dict() for a in ACTORS},
        "licences": summary["licences"], "card": summary["card"], "declines": summary["declines"],
        "exchange": summary["exchange"], "kzte": summary["kzte"],
    }


@pytest.fixture
def two(db_url):
    a = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    b = CryptoCity.from_config("crypto-city", db=db_url, seed=7)
    yield a, b
    a.close()
    b.close()


def test_every_read_agrees_in_both_processes_after_every_verb(two):
    a, b = two
    verbs = [
        (a, lambda c: c.onboard(actor="aigerim", kyc_tier="full", deposits={"KZT": 40_000_00, "USDT": 400 * 10**6})),
        (b, lambda c: c.onboard(actor="bob", kyc_tier="basic", resident=False, deposits={"KZT": 5_000_00})),
        (b, lambda c: c.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=60_000_00, ref="jit")),
        (a, lambda c: c.capture(ref="jit")),
        (a, lambda c: c.set_kyc_tier(actor="bob", kyc_tier="full", reason="documents verified")),
        (b, lambda c: c.buy(actor="bob", instrument="BTC/KZT", quote_qty_minor=2_000_00)),
        (a, lambda c: c.mint(actor="bob", amount_minor=1_000_00)),
        (b, lambda c: c.pay(actor="bob", merchant="alatau-coffee", amount_minor=900_000_00, ref="too-much")),
        (a, lambda c: c.advance(timedelta(hours=3))),
        (b, lambda c: c.suspend_licence(licence_id="AFSA-TF-001", reason="inspection")),
        (a, lambda c: c.pay(actor="aigerim", merchant="alatau-coffee", amount_minor=30_000_00, ref="halted")),
        (a, lambda c: c.reinstate_licence(licence_id="AFSA-TF-001", reason="inspection passed")),
        (b, lambda c: c.refund(ref="jit", amount_minor=10_000_00)),
        (b, lambda c: c.sell(actor="bob", instrument="BTC/KZT", qty_minor=1_000)),
        (a, lambda c: c.advance("2d")),
    ]
    for n, (city, verb) in enumerate(verbs):
        verb(city)
        if n < 2:
            continue   # both customers exist from here on
        assert _reads(a) == _reads(b), f"the processes disagree after verb {n + 1}"
    assert _reads(a)["tax"]["aigerim"]["disposals"], "the crypto-funded purchase is a disposal in both"
    a.verify()
    b.verify()
